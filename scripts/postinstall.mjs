// npm's postinstall for occlum-studio, in the published package and in a git checkout. It never
// fails the install and needs no devDependency: what it cannot do, it says in one line, and the
// CLI then degrades (see `occlum-studio doctor`).
// - The secure-FS engine: the package ships native/occlum_studio.linux-x64-gnu.node; it is built
//   from source (native/, cargo) only where no prebuilt addon loads. In a checkout it is built
//   whenever cargo is on PATH, since the Rust source may have changed.
// - dist/ (the bundled CLI): shipped in the package; built with esbuild in a checkout.
// - node-pty (an optional dependency): without it the Run pane uses pipes instead of a terminal.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonFileName, nativeTarget } from '../native/target.mjs';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
const checkout = existsSync(join(root, 'src', 'cli.ts'));
const say = (line) => console.error(`occlum-studio: ${line}`);
const script = (name, env = process.env) =>
  spawnSync(process.execPath, [join(root, 'scripts', name)], { cwd: root, stdio: 'inherit', env }).status === 0;

function loads(id) {
  try {
    require(id);
    return true;
  } catch {
    return false;
  }
}

function engine() {
  const target = nativeTarget();
  const addon = join(root, 'native', addonFileName(target));
  const prebuilt = existsSync(addon) && loads(addon);
  if (prebuilt && !checkout) return;
  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!cargo) {
    if (!prebuilt) {
      say(
        `no secure-FS engine for ${target} (no prebuilt addon, no cargo on PATH): the Files pane and \`fs\` ` +
          'commands are unavailable; install Rust (apt-get install cargo) and run `npm rebuild occlum-studio`',
      );
    }
    return;
  }
  // In the package, cargo's intermediate files (tens of MB) go to a temporary directory.
  const targetDir = checkout ? undefined : mkdtempSync(join(tmpdir(), 'occlum-studio-cargo-'));
  const built = script('build-native.mjs', targetDir ? { ...process.env, CARGO_TARGET_DIR: targetDir } : process.env);
  if (targetDir) rmSync(targetDir, { recursive: true, force: true });
  if (!built) {
    say(
      `building the secure-FS engine for ${target} failed (see above)` +
        (prebuilt ? '; the existing addon stays' : ': the Files pane and `fs` commands are unavailable'),
    );
  }
}

function bundle() {
  if (!checkout) {
    if (!existsSync(join(root, 'dist', 'cli.js')))
      say('dist/cli.js is missing from this package: reinstall occlum-studio');
    return;
  }
  let esbuild = false;
  try {
    require.resolve('esbuild');
    esbuild = true;
  } catch {
    /* devDependencies not installed (npm install --omit=dev) */
  }
  if (!esbuild)
    say('dist/ not built: esbuild (a devDependency) is not installed; run `npm install` with dev dependencies');
  else if (!script('build-js.mjs')) say('building dist/ failed (see above)');
}

engine();
bundle();
if (!loads('node-pty')) {
  say(
    'node-pty cannot load (no build tools?): the Run pane will use pipes instead of a terminal; ' +
      'apt-get install build-essential python3, then `npm rebuild node-pty`',
  );
}
