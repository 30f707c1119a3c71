// Builds a stand-in Occlum 0.31.0 install at DEST, laid out as Occlum's, so that Occlum's own
// `occlum` script and occlum_build.mk (byte-for-byte copies of ../shared/reference) run on a
// machine without SGX. The SGX-only binaries are stand-ins built on occlum-studio's secure-FS
// engine and host sandbox (scripts/occlum-standin/, bundled here); they say so when they run.
// Only SIM-mode instances run. See docs/occlum-backend.md, "The stand-in install".
// Usage: node scripts/occlum-standin.mjs DEST
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { addonFileName } from '../native/target.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
const MARKER = '.occlum-standin';
const VERSION = [0, 31, 0];
const ver = VERSION.join('.');
/** Where `occlum init` copies Occlum's musl from (absolute paths in the script). */
const MUSL_TOOLCHAIN = '/usr/local/occlum/x86_64-linux-musl/lib';
const MUSL_LIBS = ['libc.so', 'libstdc++.so.6', 'libgcc_s.so.1', 'libgomp.so.1'];

function die(msg) {
  console.error(`occlum-standin: ${msg}`);
  process.exit(1);
}

const destArg = process.argv[2];
if (!destArg || process.argv.length > 3) die('usage: node scripts/occlum-standin.mjs DEST (the directory to create)');
const dest = resolve(destArg);
if (!relative(root, dest).startsWith('..'))
  die(`${dest} is inside the repository; install the stand-in outside it (e.g. /tmp/occlum-standin)`);
if (dest === '/opt/occlum') die('/opt/occlum is where a real Occlum lives; choose another directory');
if (existsSync(dest) && !existsSync(join(dest, MARKER)))
  die(`${dest} exists and is not a stand-in install: choose a new directory`);

const reference = resolve(
  process.env.OCCLUM_STANDIN_REFERENCE ?? join(root, '..', 'shared', 'reference', 'occlum-0.31.0'),
);
for (const f of ['tools/occlum', 'tools/occlum_build.mk', 'etc/template/Occlum.json']) {
  if (!existsSync(join(reference, f)))
    die(
      `Occlum's ${f} is missing in ${reference}: the stand-in runs Occlum's own script (set OCCLUM_STANDIN_REFERENCE to an Occlum 0.31.0 tree)`,
    );
}
const missingTools = [
  'jq',
  'make',
  'objcopy',
  'gcc',
  'pgrep',
  'pkill',
  'lscpu',
  'setpriv',
  'bwrap',
  'unshare',
  'nsenter',
  'tar',
  'getfattr',
].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missingTools.length) die(`missing host tools: ${missingTools.join(', ')}; run scripts/install-system-deps.sh`);
const addon = join(root, 'native', addonFileName());
if (!existsSync(addon)) die(`native/${addonFileName()} is missing: run \`npm install\` (or \`npm run build:native\`)`);
const muslLibc = '/usr/lib/x86_64-linux-musl/libc.so';
if (!existsSync('/lib/ld-musl-x86_64.so.1') || !existsSync(muslLibc))
  die('musl is missing (/lib/ld-musl-x86_64.so.1): run scripts/install-system-deps.sh');

const tmp = `${dest}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
const at = (...p) => join(tmp, ...p);
const write = (p, text, mode = 0o644) => {
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
};
const copy = (from, to, mode) => {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
};

/** A small ELF shared object standing in for an SGX library (compiled from C text). */
function elfStub(out, what, extra = '') {
  mkdirSync(dirname(out), { recursive: true });
  const src = `const char occlum_standin[] = "occlum stand-in ${what}: not Occlum, no SGX code";\n${extra}`;
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-nostdlib', '-o', out, '-x', 'c', '-'], {
    input: src,
    encoding: 'utf8',
  });
  if (r.status !== 0) die(`gcc failed building ${out}: ${r.stderr}`);
}

// 1. Occlum's own script and makefile, byte for byte.
copy(join(reference, 'tools', 'occlum'), at('build', 'bin', 'occlum'), 0o755);
copy(join(reference, 'tools', 'occlum_build.mk'), at('build', 'bin', 'occlum_build.mk'), 0o644);

// 2. The stand-in tools: one bundle, the engine next to it, a wrapper per binary.
await build({
  entryPoints: [join(root, 'scripts', 'occlum-standin', 'tools.ts')],
  outfile: at('build', 'lib', 'standin', 'tools.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: "import { createRequire as __cr } from 'node:module'; var require = __cr(import.meta.url);" },
  plugins: [
    {
      name: 'jsonc-parser-esm',
      setup(b) {
        b.onResolve({ filter: /^jsonc-parser$/ }, () => ({
          path: join(root, 'node_modules', 'jsonc-parser', 'lib', 'esm', 'main.js'),
        }));
      },
    },
  ],
  logLevel: 'warning',
});
copy(addon, at('build', 'lib', 'standin', 'native', addonFileName()), 0o755);
// The sandbox's stager (what a root run drops its privileges through), beside the addon.
const stager = join(root, 'native', 'occlum-studio-stage');
if (existsSync(stager)) copy(stager, at('build', 'lib', 'standin', 'native', 'occlum-studio-stage'), 0o755);
const shim = join(root, 'native', 'occlum-studio-forkshim');
if (existsSync(shim)) copy(shim, at('build', 'lib', 'standin', 'native', 'occlum-studio-forkshim'), 0o755);
const wrapper = (tool, passSelf) =>
  [
    '#!/bin/sh',
    `# occlum stand-in for Occlum's ${tool} (not Occlum: no SGX). Built by occlum-studio's scripts/occlum-standin.mjs.`,
    `exec ${JSON.stringify(process.execPath)} "$(dirname "$(readlink -f "$0")")/../lib/standin/tools.mjs" ${tool}${passSelf ? ' "$0"' : ''} "$@"`,
    '',
  ].join('\n');
for (const name of ['sefs-cli', 'sefs-cli_sim', 'sefs-cli_hyper'])
  write(at('build', 'bin', name), wrapper('sefs-cli'), 0o755);
for (const tool of ['occlum-protect-integrity', 'gen_internal_conf'])
  write(at('build', 'bin', tool), wrapper(tool), 0o755);
// occlum-run and the server keep their own path on their command line: `occlum` finds them with pgrep.
for (const tool of ['occlum-run', 'occlum_exec_server', 'occlum_exec_client'])
  write(at('build', 'bin', tool), wrapper(tool, true), 0o755);
const sgxsdk = at('sgxsdk-tools');
write(
  join(sgxsdk, 'bin', 'x64', 'sgx_sign'),
  wrapper('sgx_sign').replace('/../lib/standin/', '/../../../build/lib/standin/'),
  0o755,
);
write(
  join(sgxsdk, 'bin', 'x64', 'sgx_sign_hyper'),
  wrapper('sgx_sign').replace('/../lib/standin/', '/../../../build/lib/standin/'),
  0o755,
);
// sgx-gdb: nothing to debug without an enclave; a prompt whose `run` runs the --args command
// (occlum-run), so that `occlum gdb` still shows who owns the terminal.
write(
  join(sgxsdk, 'bin', 'sgx-gdb'),
  [
    '#!/usr/bin/env bash',
    '# occlum stand-in for sgx-gdb (not Occlum: no SGX, no enclave to debug).',
    '[ "$1" == "--args" ] && shift',
    "echo \"sgx-gdb (occlum stand-in): no enclave to debug; 'run' runs the program, 'quit' leaves\"",
    'while :; do',
    "  printf '(gdb) '",
    '  IFS= read -r line || { echo; exit 0; }',
    '  case "$line" in',
    '  run | r) "$@"; echo "[Inferior 1 (process $$) exited with code $?]" ;;',
    '  quit | q) exit 0 ;;',
    '  "") ;;',
    '  *) echo "Undefined command: \\"$line\\".  Try \\"help\\"." ;;',
    '  esac',
    'done',
    '',
  ].join('\n'),
  0o755,
);
mkdirSync(join(sgxsdk, 'sdk_libs'), { recursive: true });
write(
  at('build', 'bin', 'init'),
  "#!/bin/sh\n# occlum stand-in for Occlum's /bin/init (the init stage is checked by the stand-in occlum-run, not run)\nexit 0\n",
  0o755,
);

// 3. The libraries the makefile copies, links, patches (objcopy .builtin_config) and signs.
const builtin = '__attribute__((section(".builtin_config"), used)) const char occlum_builtin_config[48] = {0};\n';
for (const v of ['', '_sim', '_hyper']) {
  elfStub(at('build', 'lib', `libocclum-libos${v}.so.${ver}`), `LibOS${v}`, builtin);
  elfStub(at('build', 'lib', `libocclum-pal${v}.so.${ver}`), `PAL${v}`);
  elfStub(at('build', 'lib', `libsefs-cli${v}.so`), `sefs-cli enclave${v}`);
}
elfStub(at('build', 'lib', 'libsefs-cli.signed.so'), 'signed sefs-cli enclave');
write(
  at('build', 'sefs-cli.Enclave.xml'),
  '<EnclaveConfiguration><ProdID>0</ProdID><ISVSVN>0</ISVSVN></EnclaveConfiguration>\n',
);

// 4. Templates (Occlum's), a development signing key (RSA-3072, e = 3, as sgx_sign requires;
// generated here: this install's own key, not Occlum's published one), version header, SDK env.
for (const f of readdirSync(join(reference, 'etc', 'template')))
  copy(join(reference, 'etc', 'template', f), at('etc', 'template', f), 0o644);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
write(at('etc', 'template', 'Enclave.pem'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
// The script reads src/pal/include/ in any install not at /opt/occlum (tools/occlum, top).
write(
  at('src', 'pal', 'include', 'occlum_version.h'),
  `/* occlum stand-in: the version of Occlum whose script and makefile this install runs */\n#ifndef _OCCLUM_VERSION_H_\n#define _OCCLUM_VERSION_H_\n\n` +
    `#define OCCLUM_MAJOR_VERSION    ${VERSION[0]}\n#define OCCLUM_MINOR_VERSION    ${VERSION[1]}\n#define OCCLUM_PATCH_VERSION    ${VERSION[2]}\n\n#endif\n`,
);
write(
  at('etc', 'environment'),
  [
    '# occlum stand-in: the SGX SDK environment the `occlum` script sources (SGX_SDK, PATH, LD_LIBRARY_PATH).',
    'SGX_SDK="$(cd "$(dirname "${BASH_SOURCE[0]}")/../sgxsdk-tools" && pwd)"',
    'export SGX_SDK',
    'export PATH="$PATH:$SGX_SDK/bin:$SGX_SDK/bin/x64"',
    'export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$SGX_SDK/sdk_libs"',
    '',
  ].join('\n'),
);

// 5. Occlum's musl toolchain libraries (`occlum init` copies them into image/lib): Debian's musl
// libc, and stand-ins for the C++ runtime libraries Debian does not build for musl.
const toolchain = at('toolchains', 'gcc', 'x86_64-linux-musl', 'lib');
copy(muslLibc, join(toolchain, 'libc.so'), 0o755);
for (const lib of MUSL_LIBS.slice(1)) elfStub(join(toolchain, lib), `${lib} (no C++ runtime for musl on Debian)`);
write(
  at(MARKER),
  `occlum stand-in install of Occlum ${ver}, made by occlum-studio's scripts/occlum-standin.mjs. Not Occlum: no SGX.\n`,
);

// Swap in (a previous stand-in at DEST is replaced whole).
if (existsSync(dest)) {
  const old = `${dest}.old-${process.pid}`;
  renameSync(dest, old);
  renameSync(tmp, dest);
  rmSync(old, { recursive: true, force: true });
} else {
  mkdirSync(dirname(dest), { recursive: true });
  renameSync(tmp, dest);
}

// /usr/local/occlum (outside DEST: the script names it): Occlum's own, or ours, refreshed.
const sys = MUSL_TOOLCHAIN;
const ours = existsSync(join(sys, MARKER));
if (!MUSL_LIBS.every((l) => existsSync(join(sys, l))) || ours) {
  if (existsSync(sys) && !ours && readdirSync(sys).length > 0)
    die(`${sys} exists but lacks ${MUSL_LIBS.join(', ')}; it is not the stand-in's: fix or remove it`);
  try {
    for (const l of MUSL_LIBS)
      copy(join(dest, 'toolchains', 'gcc', 'x86_64-linux-musl', 'lib', l), join(sys, l), 0o755);
    write(
      join(sys, MARKER),
      'musl libraries for `occlum init` on an occlum stand-in install (scripts/occlum-standin.mjs)\n',
    );
  } catch (e) {
    die(`cannot write ${sys} (${e.message}): \`occlum init\` copies Occlum's musl from there; run this as root once`);
  }
}
console.log(
  `occlum stand-in install of Occlum ${ver} at ${dest} (use OCCLUM_STUDIO_OCCLUM_ROOT=${dest}, or ${dest}/build/bin on PATH)`,
);
