// `npm run lint`: every style and layer check in one command — eslint (including the layer rules
// of docs/ARCHITECTURE.md), prettier, and for native/ rustfmt and clippy with warnings as errors.
// A missing Rust tool is reported in one line; under CI=true that is a failure.
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const native = new URL('../native', import.meta.url).pathname;
const fix = process.argv.includes('--fix');
const steps = [
  ['eslint', 'npx', ['eslint', ...(fix ? ['--fix'] : []), '.'], root],
  ['prettier', 'npx', ['prettier', fix ? '--write' : '--check', '--log-level', 'warn', '.'], root],
  ['rustfmt', 'cargo', ['fmt', ...(fix ? [] : ['--check'])], native],
  ['clippy', 'cargo', ['clippy', '--release', '--all-targets', '--quiet', '--', '-D', 'warnings'], native],
];

let failed = false;
for (const [name, cmd, args, cwd] of steps) {
  if ((name === 'rustfmt' || name === 'clippy') && !hasCargoTool(name === 'rustfmt' ? 'fmt' : 'clippy')) {
    console.log(`lint: ${name} is not installed (rustup component add ${name}); skipped`);
    if (process.env.CI === 'true') failed = true;
    continue;
  }
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  console.log(`lint: ${name} ${r.status === 0 ? 'ok' : 'failed'}`);
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

function hasCargoTool(sub) {
  return spawnSync('cargo', [sub, '--version'], { stdio: 'ignore' }).status === 0;
}
