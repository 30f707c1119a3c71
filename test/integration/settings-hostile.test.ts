// A hostile `.occlum-studio.json` (an instance copied from elsewhere): boms that are FIFOs or
// devices, a bom outside the instance whose entries climb out of image/, include dirs in /proc.
// `occlum-studio watch --json` must reach its first build's end with the bom stage failed and
// a clear cause, without blocking on the settings' files or writing outside image/. A prebuild
// changed while `watch` runs is not run until the user restarts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/paths.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { newInstance } from '../../src/core/instance/init.ts';
import { loadSettings, SettingsError } from '../../src/core/watch/settings.ts';

interface Event {
  event: string;
  outcome?: string;
  cause?: { stage: string; message: string };
  text?: string;
  count?: number;
}

/** `watch --json` until the first build ends (or 60 s pass): its events. */
function firstBuild(inst: string): Promise<Event[]> {
  ensureBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'watch', inst, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Event[] = [];
    let rest = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no build-end within 60 s (blocked?): ${JSON.stringify(events)} ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const e = JSON.parse(l) as Event;
        events.push(e);
        if (e.event === 'build-end') {
          clearTimeout(timer);
          child.kill('SIGTERM');
          resolve(events);
        }
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(events);
    });
  });
}

function instance(settings: object) {
  const ws = mkdtempSync(join(tmpdir(), 'settings-hostile-'));
  const inst = join(ws, 'inst');
  newInstance(inst);
  writeFileSync(join(inst, '.occlum-studio.json'), JSON.stringify(settings));
  const canary = join(ws, 'canary');
  mkdirSync(canary);
  writeFileSync(join(canary, 'precious'), 'precious\n');
  return { ws, inst, canary };
}

test('settings naming a FIFO or a device as a bom: the build fails at the bom stage at once', async () => {
  for (const bom of ['fifo', '/dev/zero']) {
    const { ws, inst } = instance({ bom: [bom === 'fifo' ? '../fifo.yaml' : bom], bomIncludeDirs: ['/proc'] });
    spawnSync('mkfifo', [join(ws, 'fifo.yaml')]);
    const events = await firstBuild(inst);
    const end = events.find((e) => e.event === 'build-end');
    assert.ok(end, `${bom}: ${JSON.stringify(events)}`);
    assert.equal(end.outcome, 'failed');
    assert.equal(end.cause?.stage, 'bom');
    assert.match(end.cause!.message, /the bom file is a (FIFO \(named pipe\)|character device), not a regular file/);
  }
});

test('a bom outside the instance whose entries climb out of image/ writes nothing outside', async () => {
  const { ws, inst, canary } = instance({ bom: ['../elsewhere/evil.yaml'] });
  writeFileSync(join(ws, 'x'), 'x\n');
  mkdirSync(join(ws, 'elsewhere'));
  writeFileSync(
    join(ws, 'elsewhere', 'evil.yaml'),
    'targets:\n  - target: /../../canary\n    copy:\n      - files: [x]\n' +
      '  - target: /\n    createlinks:\n      - {src: /etc/passwd, linkname: ../../canary/link}\n',
  );
  const events = await firstBuild(inst);
  const end = events.find((e) => e.event === 'build-end');
  assert.equal(end?.outcome, 'failed', JSON.stringify(events));
  assert.match(end!.cause!.message, /outside the root/);
  assert.deepEqual(readdirSync(canary), ['precious']);
  assert.equal(readFileSync(join(canary, 'precious'), 'utf8'), 'precious\n');
  assert.equal(existsSync(join(inst, 'image', 'x')), false);
});

test('watch patterns or bom sources naming "/" or /proc are refused or left unwatched (no walk of /)', () => {
  for (const pattern of ['/**/*.c', '../../../../../../../../../../**', '/proc/**', '/sys/*/x']) {
    const { inst } = instance({ prebuild: 'true', watch: [pattern] });
    assert.throws(
      () => loadSettings(inst),
      (err: Error) =>
        err instanceof SettingsError &&
        /"watch" entry .* would watch everything below \/(proc|sys)?.*name the project's source directory/.test(
          err.message,
        ) &&
        /\.occlum-studio\.json:1:\d+/.test(err.message),
      pattern,
    );
  }
  // A bom that copies "/" (or a file at the top) is not turned into a watch of the whole tree.
  const { ws, inst } = instance({ bom: ['../top.yaml'] });
  writeFileSync(join(ws, 'top.yaml'), 'targets:\n  - target: /\n    copy:\n      - from: /\n        files: [x]\n');
  const loaded = loadSettings(inst);
  assert.deepEqual(
    loaded.sources.filter((g) => g.base === '/').map((g) => g.pattern),
    [],
    'no source based at /',
  );
  assert.ok(
    loaded.sources.some((g) => g.pattern.endsWith('top.yaml')),
    'the bom itself is watched',
  );
});

/** `occlum-studio watch INST --json`, its events as they come, and the build-end ones. */
function watchJson(inst: string) {
  const child = spawn(process.execPath, [CLI, 'watch', inst, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Event[] = [];
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) events.push(JSON.parse(l) as Event);
  });
  return { child, events, ends: () => events.filter((e) => e.event === 'build-end') };
}

test('watch: a prebuild changed while watching (by anyone who can write the settings) waits for a restart', async () => {
  ensureBuilt();
  const { ws, inst } = instance({ prebuild: 'echo first', watch: ['../src/**'] });
  mkdirSync(join(ws, 'src'));
  const marker = join(ws, 'second-ran');
  const { child, events, ends } = watchJson(inst);
  try {
    await waitFor(() => ends().length === 1, 'the first build', 60_000);
    assert.equal(ends()[0]!.outcome, 'ok', JSON.stringify(events));
    writeFileSync(
      join(inst, '.occlum-studio.json'),
      JSON.stringify({ prebuild: `echo ran > ${marker}`, watch: ['../src/**'] }),
    );
    await waitFor(() => ends().length === 2, 'the settings change', 60_000);
    assert.equal(ends()[1]!.outcome, 'held', JSON.stringify(events));
    assert.match(ends()[1]!.cause!.message, /the prebuild `echo ran > .*` was not run/);
    writeFileSync(join(ws, 'src', 'a.c'), 'int x;\n');
    await waitFor(() => events.some((e) => e.event === 'deferred' && e.count! >= 2), 'the source change held', 60_000);
    assert.equal(ends().length, 2, JSON.stringify(events));
    assert.equal(existsSync(marker), false, 'the changed prebuild ran on its own');
  } finally {
    child.kill('SIGTERM');
  }
});

test('watch: settings created while watching with a bom copying a host file in wait for a restart', async () => {
  ensureBuilt();
  const { ws, inst } = instance({});
  const secret = join(ws, 'secret');
  writeFileSync(secret, 'key material\n');
  writeFileSync(join(ws, 'steal.yaml'), `targets:\n  - target: /\n    copy:\n      - files: [${secret}]\n`);
  const { child, events, ends } = watchJson(inst);
  try {
    await waitFor(() => ends().length === 1, 'the first build', 60_000);
    writeFileSync(join(inst, '.occlum-studio.json'), JSON.stringify({ bom: ['../steal.yaml'] }));
    await waitFor(() => ends().length === 2, 'the settings change', 60_000);
    assert.equal(ends()[1]!.outcome, 'held', JSON.stringify(events));
    assert.match(ends()[1]!.cause!.message, /the bom copy of \.\.\/steal\.yaml was not run/);
    assert.equal(existsSync(join(inst, 'image', 'secret')), false, 'the bom was copied on its own');
  } finally {
    child.kill('SIGTERM');
  }
});

test('watch globs over a huge tree (a /usr, a home) are refused before anything is watched', () => {
  ensureBuilt();
  const { ws, inst } = instance({ prebuild: 'true', watch: ['../big/**/*.c'] });
  // 10,001 directories: one past the cap (before the fix a glob over /usr here took 2 min and 1.3 GB).
  for (let i = 0; i < 101; i++)
    for (let j = 0; j < 100; j++) mkdirSync(join(ws, 'big', `d${i}`, `e${j}`), { recursive: true });
  const r = spawnSync(process.execPath, [CLI, 'watch', inst], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /the watched sources \.\.\/big\/\*\*\/\*\.c reach more than 10000 directories below .*\/big/);
});

// A bom the loop copies on changes can be rewritten between builds (by a program whose hostfs
// mount reaches it, or anyone who can write it), and a source it copies can get a link planted
// in it: the next change build copied any file of the user's into the image, which the program
// then reads (measured before the fix: the rewritten bom's ../secret and the planted link's
// target were copied into image/). A change build copies only from what a build started by hand
// copied from; anything new waits for one.
test('watch: a bom rewritten, or a link out of a copied dir planted, while watching waits for a build by hand', async () => {
  ensureBuilt();
  const { ws, inst } = instance({ bom: ['bom.yaml'] });
  const secret = join(ws, 'secret');
  writeFileSync(secret, 'key material\n');
  mkdirSync(join(ws, 'app', 'lib'), { recursive: true });
  writeFileSync(join(ws, 'app', 'hello'), 'hello\n');
  writeFileSync(join(ws, 'app', 'lib', 'a.txt'), 'a\n');
  const bom = (extra: string) =>
    writeFileSync(
      join(inst, 'bom.yaml'),
      `targets:\n  - target: /bin\n    copy:\n      - from: ../app\n        files: [hello]\n        dirs: [lib]\n${extra}`,
    );
  bom('');
  const first = watchJson(inst);
  try {
    const { events, ends } = first;
    await waitFor(() => ends().length === 1, 'the first build', 60_000);
    assert.equal(ends()[0]!.outcome, 'ok', JSON.stringify(events));
    assert.ok(existsSync(join(inst, 'image', 'bin', 'lib', 'a.txt')));
    bom(`      - files: [${secret}]\n`);
    await waitFor(() => ends().length === 2, 'the bom change', 60_000);
    assert.equal(ends()[1]!.outcome, 'held', JSON.stringify(ends()[1]));
    assert.match(
      ends()[1]!.cause!.message,
      /the bom copy of bom\.yaml now reads .*\/secret, which no build you started/,
    );
    assert.equal(existsSync(join(inst, 'image', 'bin', 'secret')), false, 'the rewritten bom was copied');
  } finally {
    first.child.kill('SIGTERM');
  }
  // Restarted (a build by hand) on the bom as it was; then a link planted in lib/, a copied dir.
  bom('');
  const second = watchJson(inst);
  try {
    const { ends } = second;
    await waitFor(() => ends().length === 1, 'the build by hand', 60_000);
    assert.equal(ends()[0]!.outcome, 'ok', JSON.stringify(ends()[0]));
    symlinkSync(secret, join(ws, 'app', 'lib', 'key'));
    await waitFor(() => ends().length === 2, 'the planted link', 60_000);
    assert.equal(ends()[1]!.outcome, 'held', JSON.stringify(ends()[1]));
    assert.match(ends()[1]!.cause!.message, /lib\/key -> .*\/secret, which no build you started/);
    assert.equal(existsSync(join(inst, 'image', 'bin', 'lib', 'key')), false, 'the link target was copied');
  } finally {
    second.child.kill('SIGTERM');
  }
});
