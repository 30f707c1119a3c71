// Builds the Rust Node-API addon in native/ (std-only crate, Node-API declared by hand) and
// copies it to native/occlum_studio.<target>.node (napi-rs naming, native/target.mjs), where
// src/core/securefs loads it, and the sandbox stager (native/src/bin) to native/occlum-studio-stage,
// where src/core/sandbox runs it as root, and the fork shim (linked statically: it runs inside
// images without the host's libc) to native/occlum-studio-forkshim. --if-present: do nothing
// when native/ has no crate.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { addonFileName } from '../native/target.mjs';

const root = new URL('..', import.meta.url).pathname;
const crate = join(root, 'native');
if (!existsSync(join(crate, 'Cargo.toml'))) {
  if (process.argv.includes('--if-present')) process.exit(0);
  console.error('native/Cargo.toml not found');
  process.exit(1);
}
const cargo = (args) => spawnSync('cargo', args, { cwd: crate, stdio: 'inherit' });
let r = cargo(['build', '--release', '--lib', '--bin', 'occlum-studio-stage', '--quiet']);
// Only this binary is static, and not position-independent (no relocation at each start):
// `cargo rustc` passes flags to the final crate alone; the addon stays a dynamic library.
const SHIM = 'occlum-studio-forkshim';
const STATIC = ['-C', 'target-feature=+crt-static', '-C', 'relocation-model=static'];
if (r.status === 0) r = cargo(['rustc', '--release', '--bin', SHIM, '--quiet', '--', ...STATIC]);
if (r.status !== 0) {
  const why = r.error ? `cargo not found (${r.error.message})` : `cargo exited with ${r.status}`;
  console.error(
    `occlum-studio: building the native addon failed: ${why}; install Rust (apt-get install cargo, or rustup)`,
  );
  process.exit(r.status || 1);
}
const release = join(process.env.CARGO_TARGET_DIR || join(crate, 'target'), 'release');
for (const [built, name] of [
  ['libocclum_studio_native.so', addonFileName()],
  ['occlum-studio-stage', 'occlum-studio-stage'],
  [SHIM, SHIM],
]) {
  const tmp = join(crate, `${name}.tmp`);
  copyFileSync(join(release, built), tmp);
  renameSync(tmp, join(crate, name));
}
