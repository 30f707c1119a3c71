// Builds the Rust Node-API addon in native/ (std-only crate, Node-API declared by hand) and
// copies it to native/occlum_studio.node, where src/core/securefs loads it.
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
const r = spawnSync('cargo', ['build', '--release', '--lib', '--quiet'], { cwd: crate, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('occlum-studio: building the native addon failed (needs cargo/rustc; see README)');
  process.exit(r.status ?? 1);
}
const built = join(crate, 'target', 'release', 'libocclum_studio_native.so');
const tmp = join(crate, 'occlum_studio.node.tmp');
copyFileSync(built, tmp);
renameSync(tmp, join(crate, 'occlum_studio.node'));
