// Builds the Rust Node-API addon in native/ (std-only crate, Node-API declared by hand) and
// copies it to native/occlum_studio.node, where src/core/securefs loads it, and the sandbox
// stager (native/src/bin) to native/occlum-studio-stage, where src/core/sandbox runs it as root.
// --if-present: do nothing when native/ has no crate yet.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const crate = join(root, 'native');
if (!existsSync(join(crate, 'Cargo.toml'))) {
  if (process.argv.includes('--if-present')) process.exit(0);
  console.error('native/Cargo.toml not found');
  process.exit(1);
}
const r = spawnSync('cargo', ['build', '--release', '--lib', '--bins', '--quiet'], { cwd: crate, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('occlum-studio: building the native addon failed (needs cargo/rustc; see README)');
  process.exit(r.status ?? 1);
}
for (const [built, name] of [['libocclum_studio_native.so', 'occlum_studio.node'], ['occlum-studio-stage', 'occlum-studio-stage']]) {
  const tmp = join(crate, `${name}.tmp`);
  copyFileSync(join(crate, 'target', 'release', built), tmp);
  renameSync(tmp, join(crate, name));
}
