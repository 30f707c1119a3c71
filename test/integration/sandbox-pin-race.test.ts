// The pins of a hostfs view of the instance (image/, initfs/, the config, the settings) are checked
// when the plan is made; bwrap binds them later. A program of a running server whose view reaches
// the instance's parent can, in between, put a link where image/ was. Bound by path, bwrap follows
// it on both sides: a relative link `../decoy` binds the host directory beside the instance onto
// the sandbox's /decoy (measured before the fix: as a normal user a directory of theirs, written
// by the program; as root `../lower`, the staged image layer build/host/rootfs, written by the
// program). The race is made deterministic here: the swap is done between the backend's plan
// (prepareRun / prepareExec) and the launch, which are real (the stager, bwrap, the files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';
import { asNobodyIn, NOBODY, unprivilegedSkip } from '../helpers/unprivileged.ts';

type Cli = (...args: string[]) => { status: number | null; stdout: string; stderr: string };

/** Plans `/bin/writer ARGS` (run or exec), swaps ENTRY (image, data) for a link to `decoy`, then launches it. */
function raceScript(dir: string): string {
  const script = join(dirname(dir), 'pin-race.mts');
  writeFileSync(
    script,
    `import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from ${JSON.stringify(join(ROOT, 'src/core/backend/host/index.ts'))};
import { closeInheritedDescriptors } from ${JSON.stringify(join(ROOT, 'src/core/sandbox/inherited-fds.ts'))};
closeInheritedDescriptors();
const [dir, how, entry, decoy, ...args] = process.argv.slice(2);
const b = new HostBackend(dir);
const prep = how === 'run' ? await b.prepareRun('/bin/writer', args) : await b.prepareExec('/bin/writer', args);
renameSync(join(dir, entry), join(dir, entry + '.real'));
if (decoy === '=dir') mkdirSync(join(dir, entry));
else symlinkSync(decoy, join(dir, entry));
const r = spawnSync(prep.file, prep.args, { env: prep.env, encoding: 'utf8' });
prep.finish(r.status, r.signal);
console.log(JSON.stringify({ status: r.status, stdout: r.stdout, stderr: r.stderr }));
`,
  );
  chmodSync(script, 0o644);
  return script;
}

function race(
  run: (args: string[]) => { status: number | null; stdout: string; stderr: string },
  dir: string,
  cli: Cli,
  decoy: string,
  args: string[],
): void {
  // Last: image/ replaced by another directory (not a link), which is not the inode checked either.
  for (const [how, swap] of [
    ['run', decoy],
    ['exec', decoy],
    ['run', '=dir'],
  ]) {
    if (how === 'exec') assert.equal(cli('start').status, 0);
    try {
      const res = launch(run, [dir, how!, 'image', swap!, ...args]);
      assert.notEqual(res.status, 0, `${how}: the launch must be refused: ${res.stdout}`);
      assert.equal(res.stdout, '', `${how}: the program must not run`);
      assert.match(
        res.stderr,
        swap === '=dir' ? /image.*replaced since/ : /image.*a symbolic link is in the path/,
        how,
      );
    } finally {
      if (how === 'exec') assert.equal(cli('stop').status, 0);
      restore(dir, 'image');
    }
  }
}

type Launched = { status: number; stdout: string; stderr: string };

function launch(run: (args: string[]) => { status: number | null; stdout: string; stderr: string }, args: string[]) {
  const r = run(args);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Launched;
}

function restore(dir: string, entry: string): void {
  rmSync(join(dir, entry), { recursive: true });
  spawnSync('mv', [join(dir, `${entry}.real`), join(dir, entry)]);
}

/**
 * The image has /decoy and /lower, where the links' targets resolve inside the sandbox; a second
 * hostfs mount shows the instance's data/ at /data (not a pin: the program may rename it).
 */
function instance(): string {
  const dir = makeInstance(['writer'], (cfg) => cfg.mount.push({ type: 'hostfs', source: 'data', target: '/data' }));
  for (const d of ['host', 'decoy', 'lower', 'data']) mkdirSync(join(dir, 'image', d), { recursive: true });
  mkdirSync(join(dir, 'data'));
  return dir;
}

test('as root: image/ swapped for a link between the plan and the launch is not bound', (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  if (process.getuid?.() !== 0) return t.skip('needs root');
  const dir = instance();
  try {
    const cli: Cli = (...a) => runCli(a, { cwd: dir });
    assert.equal(cli('build').status, 0);
    const script = raceScript(dir);
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8' });
    // As root the pin's path is the staged one (/tmp/hostfs0/image): ../lower is the image layer.
    race(run, dir, cli, '../lower', ['write', '/lower/planted']);
    assert.ok(!existsSync(join(dir, 'build', 'host', 'rootfs', 'planted')), 'the image layer is unchanged');
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test(
  'as a normal user: a directory of theirs linked in (for image/ or a hostfs source) is not bound writable',
  { skip: unprivilegedSkip() },
  (t) => {
    if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
    const dir = instance();
    const decoy = join(dirname(dir), 'decoy');
    try {
      const cli = asNobodyIn(dir);
      assert.equal(cli('build').status, 0);
      mkdirSync(decoy);
      chownSync(decoy, 65534, 65534);
      const script = raceScript(dir);
      const run = (args: string[]) =>
        spawnSync('setpriv', [...NOBODY, process.execPath, '--import', 'tsx', script, ...args], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
        });
      race(run, dir, cli, '../decoy', ['write', '/decoy/planted']);
      // A hostfs source swapped for a link: as root the stager stages it without following links.
      for (const how of ['run', 'exec']) {
        if (how === 'exec') assert.equal(cli('start').status, 0);
        try {
          const res = launch(run, [dir, how, 'data', '../decoy', 'write', '/data/planted']);
          assert.notEqual(res.status, 0, `${how}: the launch must be refused: ${res.stdout}`);
          assert.match(res.stderr, /\/data.*a symbolic link is in the path/, how);
        } finally {
          if (how === 'exec') assert.equal(cli('stop').status, 0);
          restore(dir, 'data');
        }
      }
      assert.ok(!existsSync(join(decoy, 'planted')), 'nothing written in the linked directory');
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  },
);
