#!/usr/bin/env bash
# Installs the Debian packages occlum-studio needs (as root, or through sudo when available):
# bubblewrap (the host backend's sandbox), musl-tools (musl-gcc for PIE test and demo programs),
# libssl-dev + pkg-config (the native crate's cargo tests link libcrypto), libc6-dev (its libc.a:
# the fork shim is linked statically), tmux (TUI tests), cargo;
# for Occlum's own `occlum` script and makefile on the stand-in install (scripts/occlum-standin.mjs):
# jq, make, binutils (objcopy), rsync, procps (pgrep/pkill), util-linux (lscpu, setpriv), tzdata
# (/etc/localtime, which `occlum init` copies), musl (/lib/ld-musl-x86_64.so.1), attr (getfattr: opaque
# directories of the sandbox's run layer). For Occlum's demos run as tests (test/integration/bom-demos.test.ts),
# Debian's programs standing in for what the demos download: g++, bash, busybox, fish, redis-server,
# redis-tools (redis-benchmark), libsqlite3-dev, the rust demo's crates librust-{libc,memmap,cc}-dev
# (18 packages, 42 MB installed); for the Java and Python apps of test/integration/java-python-apps.test.ts,
# default-jdk-headless (javac, ~250 MB installed), libpython3.11-dev (a PIE python: Debian's is not PIE)
# and python3-yaml (an extension module with a library of its own, libyaml); with OCCLUM_STUDIO_DEMOS_GO=1 also the Go demo's golang-go and gin
# (540 MB installed, so opt-in).
set -euo pipefail
PACKAGES="bubblewrap musl-tools gcc libc6-dev libssl-dev pkg-config tmux jq make binutils rsync procps util-linux tzdata musl attr"
PACKAGES="$PACKAGES g++ bash busybox fish redis-server redis-tools libsqlite3-dev"
PACKAGES="$PACKAGES librust-libc-dev librust-memmap-dev librust-cc-dev"
PACKAGES="$PACKAGES default-jdk-headless libpython3.11-dev python3-yaml"
[ "${OCCLUM_STUDIO_DEMOS_GO:-}" = 1 ] && PACKAGES="$PACKAGES golang-go golang-github-gin-gonic-gin-dev"
command -v cargo >/dev/null 2>&1 || PACKAGES="$PACKAGES cargo"
# `npm run lint` checks native/ with rustfmt and clippy: Debian's, where the toolchain has none.
cargo fmt --version >/dev/null 2>&1 || PACKAGES="$PACKAGES rustfmt"
cargo clippy --version >/dev/null 2>&1 || PACKAGES="$PACKAGES rust-clippy"
missing=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing >/dev/null
