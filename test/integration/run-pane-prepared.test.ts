// The Run pane's reruns in a sandbox prepared ahead (docs/run-pane.md, "Prepared sandbox"): the
// real store, the Build pane's loop watching with real chokidar, the real host backend, bwrap and
// node-pty. A save reruns the tab's program in the sandbox prepared after its last launch; the
// program has the tab as its terminal exactly as in a cold launch (isatty, foreground group, window
// size, ctrl+C, no extra descriptors); a dropped one leaves no process; an unusable one falls back
// to the cold launch, which the tab says.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { descendants, isAlive } from '../../src/core/backend/host/procs.ts';
import { closeInheritedDescriptors } from '../../src/core/sandbox/inherited-fds.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import type { LaunchInfo } from '../../src/store/run-slice.ts';
import { plainText } from '../../src/core/pty/screen.ts';
import { PtySession } from '../../src/core/pty/session.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { storeUntil } from '../helpers/store-until.ts';
import { waitFor } from '../helpers/wait.ts';
import { ROOT } from '../helpers/paths.ts';

// As the CLI does at startup: the test runner's inheritable descriptors would reach any launch.
closeInheritedDescriptors();

const rootOnly = process.getuid?.() === 0 ? false : 'the prepared sandbox is exercised as root here (CI runs as root)';

let dir = '';
let store: StudioStore;
let saves = 0;
before(async () => {
  if (rootOnly) return;
  dir = makeInstance(['ttyprobe', 'sleeper']);
  assert.ok((await new HostBackend(dir).build()).ok);
  store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  store.getState().runResize({ cols: 80, rows: 12 });
  await store.getState().buildStartWatching();
  await until(() => store.getState().build.loop === 'watching', 'the loop to watch');
});
after(async () => {
  if (!store) return;
  store.getState().runDisposeAll();
  await store.getState().buildStopWatching();
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

const screen = () => (store.getState().runSnapshot()?.lines ?? []).map(plainText).join('\n');
const tab = () => store.getState().run.tabs.find((t) => t.id === store.getState().run.active)!;
const until = (cond: () => boolean, what: string, ms = 30_000) =>
  storeUntil(store, cond, what, ms, () => `\n--- screen ---\n${screen()}\n--- tab ---\n${JSON.stringify(tab())}`);
const preparedPid = () => store.getState().run.preparedPid;

/** What the probe said about its terminal before "ready". */
const probeLines = () =>
  screen()
    .split('\n')
    .filter((l) => /^(inherited fd|tty |foreground |size )/.test(l))
    .slice(0, 4);

/**
 * Saves a file of the image: the loop rebuilds and reruns the tab's program. Returns how the first
 * rerun after the save was launched (under load chokidar may report the save twice: two reruns).
 */
async function saveAndRerun(): Promise<LaunchInfo> {
  const t0 = Date.now();
  let first: LaunchInfo | null = null;
  const unsub = store.subscribe(() => {
    const t = tab();
    if (!first && t.startedAt >= t0 && t.launch) first = t.launch;
  });
  try {
    writeFileSync(join(dir, 'image', 'etc', 'motd'), `save ${++saves}\n`);
    await until(() => first !== null && tab().state === 'running', 'the rerun');
  } finally {
    unsub();
  }
  return first!;
}

/** The probe in the tab: its report, then a resize seen at its next line, then ctrl+C. */
async function driveProbe(size: { cols: number; rows: number }): Promise<{ report: string[]; status: number }> {
  await until(() => /^ready$/m.test(screen()), 'the probe ready');
  const report = probeLines();
  store.getState().runResize(size);
  store.getState().runWrite('\r');
  await until(() => screen().includes(`size ${size.cols}x${size.rows}`), 'the new size');
  store.getState().runWrite('\x03');
  await until(() => tab().state === 'exited', 'ctrl+C ends it');
  return { report, status: tab().exit!.status };
}

test(
  'a rerun after a save starts in the prepared sandbox, with the tab as its terminal as in a cold launch',
  {
    skip: rootOnly,
  },
  async () => {
    await store.getState().runStart('run', '/bin/ttyprobe', []);
    assert.equal(tab().launch?.kind, 'cold', 'the first launch: nothing was prepared yet');
    assert.match(tab().launch?.why ?? '', /no sandbox prepared/);
    const cold = await driveProbe({ cols: 90, rows: 13 });
    assert.deepEqual(cold.report, ['tty 1 1 1', 'foreground yes', 'size 80x12']);
    assert.equal(cold.status, 130, 'ctrl+C: killed by SIGINT');

    // Prepared once the program printed (the loop idle), in a terminal of the pane's size then.
    const pid = await waitFor(preparedPid, 'a sandbox prepared after the first output');
    const fds = readdirSync(`/proc/${pid}/fd`).map(
      (fd) => [Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`)] as const,
    );
    const tty = fds.find(([fd]) => fd === 0)?.[1];
    assert.match(tty ?? '', /^\/dev\/pts\/\d+$/, 'it waits in a terminal of its own');
    assert.deepEqual(
      fds.filter(([fd, t]) => fd > 2 && !t.startsWith('user:[')).map(([, t]) => t.replace(/\d+/, 'N')),
      ['pipe:[N]'],
      'beyond its terminal: only the go pipe (and as root the idmap namespace)',
    );
    store.getState().runResize({ cols: 70, rows: 11 }); // the rerun gets the size at its go

    const launch = await saveAndRerun();
    assert.equal(launch.kind, 'prepared', JSON.stringify(launch));
    assert.equal(store.getState().run.tabs.length, 1, 'the same tab');
    const warm = await driveProbe({ cols: 100, rows: 14 });
    assert.deepEqual(warm.report, ['tty 1 1 1', 'foreground yes', 'size 70x11'], 'no inherited descriptor either');
    assert.equal(warm.status, cold.status, 'ctrl+C as in the cold launch');
    assert.ok((tab().launch?.firstOutputMs ?? -1) >= 0, 'the first output is timed');
    assert.equal(isAlive(pid), false, 'the prepared process ran the program and ended with it');
  },
);

test(
  'a dropped prepared sandbox leaves no process; an unusable one falls back to the cold launch',
  {
    skip: rootOnly,
  },
  async () => {
    store.getState().runResize({ cols: 80, rows: 12 });
    const first = await waitFor(preparedPid, 'a sandbox prepared for the next rerun');
    const tree = [first, ...descendants([first])];
    store.getState().buildToggleAutoRerun(); // off: no rerun will come
    assert.equal(preparedPid(), null);
    await waitFor(() => tree.every((p) => !isAlive(p)), 'the dropped sandbox gone, children too');
    store.getState().buildToggleAutoRerun(); // on again: prepared at once, the loop being idle
    const second = await waitFor(preparedPid, 'prepared again');
    assert.notEqual(second, first);

    // It dies before its go (killed here; a set-up failure looks the same): the rerun goes cold.
    process.kill(second, 'SIGKILL');
    await waitFor(() => !isAlive(second), 'the prepared sandbox killed');
    const launch = await saveAndRerun();
    assert.equal(launch.kind, 'cold');
    assert.match(launch.why ?? '', /^the prepared sandbox ended before its go/);
    const r = await driveProbe({ cols: 80, rows: 12 });
    assert.deepEqual(r.report, ['tty 1 1 1', 'foreground yes', 'size 80x12']);
    assert.equal(r.status, 130);
  },
);

test('a sandbox prepared in a terminal ends when the studio that made it dies', { skip: rootOnly }, async () => {
  const script = `import { WarmTerminal } from ${JSON.stringify(join(ROOT, 'src/core/backend/host/warm.ts'))};
const w = WarmTerminal.start({ cols: 80, rows: 24 }); console.log(typeof w === 'string' ? w : w.pid);
setInterval(() => {}, 1000);`;
  const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  owner.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const line = await waitFor(() => /^(.*)\n/.exec(out)?.[1], 'the prepared sandbox pid');
    const pid = Number(line);
    assert.ok(Number.isInteger(pid) && isAlive(pid), line);
    owner.kill('SIGKILL');
    await waitFor(() => !isAlive(pid), 'the prepared sandbox to end with its owner (end of file on its go pipe)');
  } finally {
    owner.kill('SIGKILL');
  }
});

test(
  'a program gets nothing of another tab’s terminal (node-pty leaves its master inheritable)',
  {
    skip: rootOnly,
  },
  async () => {
    // A tab's terminal open (its master held by this process), then a program launched as the Run
    // pane launches one, of another instance (this file's instance may still be rerunning).
    const open = PtySession.spawn({ file: '/bin/sleep', args: ['60'] }, { cols: 80, rows: 12 });
    const other = makeInstance(['ttyprobe']);
    try {
      assert.ok((await new HostBackend(other).build()).ok);
      const prep = await new HostBackend(other).prepareRun('/bin/ttyprobe', []);
      const probe = PtySession.spawn(prep, { cols: 80, rows: 12 });
      let out = '';
      probe.onData((d) => (out += d));
      await waitFor(() => out.includes('ready'), 'the probe');
      assert.doesNotMatch(out, /inherited fd/, out);
      probe.dispose();
      prep.finish((await probe.exited).exitCode, null);
    } finally {
      open.dispose();
      rmSync(dirname(other), { recursive: true, force: true });
    }
  },
);

test(
  'the stager hands the program nothing beyond 0, 1, 2, whatever its starter left inheritable',
  {
    skip: rootOnly,
  },
  async () => {
    const other = makeInstance(['ttyprobe']);
    try {
      assert.ok((await new HostBackend(other).build()).ok);
      const prep = await new HostBackend(other).prepareRun('/bin/ttyprobe', []);
      // fd 3: a pipe of this process, inheritable in the launch (as a node-pty master would be).
      const c = spawn(prep.file, prep.args, { env: prep.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        c.on('close', (code, sig) => r([code, sig])),
      );
      await waitFor(() => out.includes('ready'), 'the probe');
      c.stdin!.end('quit\n');
      const [code, sig] = await exited;
      assert.equal(prep.finish(code, sig).status, 0, out);
      assert.doesNotMatch(out, /inherited fd/, out);
      assert.match(out, /^tty 0 0 0$/m);
    } finally {
      rmSync(dirname(other), { recursive: true, force: true });
    }
  },
);
