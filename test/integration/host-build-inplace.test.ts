// The dev loop's in-place build (src/core/backend/host/in-place.ts): edits, additions, removals
// and new directories reach the build exactly (image layer equal to image/, full verification
// passes, the program runs); and an in-place build SIGKILLed at increasing delays leaves the
// last good build (or the new one) runnable, with the next build exact again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { inPlaceJournalPath } from '../../src/core/backend/host/in-place.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';
import { ROOT } from '../helpers/paths.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { listTree } from '../helpers/watch-stand-in-backend.ts';

function assertExact(dir: string): void {
  const p = instancePaths(dir);
  assert.deepEqual(listTree(p.hostRootfs), listTree(p.image), 'the image layer equals image/');
  assert.equal(existsSync(inPlaceJournalPath(p)), false, 'no journal left');
  // Every file re-hashed and the whole MAC chain re-read, not the stat caches the build updated.
  const r = runCli(['run', '--full-verify', '/bin/hello'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Hello from \/bin\/hello/);
}

test('in-place builds apply edits, additions, removals, modes and new directories exactly', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const img = (rel: string) => join(dir, 'image', rel);
  mkdirSync(img('data/a'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(img(`data/a/f${i}`), randomBytes(4096));
  const host = new HostBackend(dir);
  assert.equal((await host.build()).ok, true);
  const steps: [string, () => string[]][] = [
    ['edit', () => (writeFileSync(img('data/a/f0'), 'changed'), ['data/a/f0'])],
    ['add', () => (writeFileSync(img('data/new'), randomBytes(100)), ['data/new'])],
    ['remove', () => (rmSync(img('data/a/f1')), ['data/a/f1'])],
    ['chmod', () => (chmodSync(img('data/a/f2'), 0o600), ['data/a/f2'])],
    ['symlink', () => (symlinkSync('a/f3', img('data/link')), ['data/link'])],
    [
      'new dir',
      () => {
        mkdirSync(img('data/b/c'), { recursive: true });
        writeFileSync(img('data/b/c/x'), 'x');
        return ['data/b'];
      },
    ],
    ['remove dir', () => (rmSync(img('data/a'), { recursive: true }), ['data/a'])],
  ];
  for (const [what, change] of steps) {
    const r = await host.build({ changed: change() });
    assert.equal(r.ok, true, `${what}: ${r.errors.join('; ')}`);
    assertExact(dir);
  }
});

/** An in-place build in its own process, as the dev loop runs it, SIGKILLed after `ms`. */
function inPlaceBuildKilledAfter(dir: string, changed: string[], ms: number | null): Promise<void> {
  const script =
    `import { HostBackend } from ${JSON.stringify(join(ROOT, 'src/core/backend/host/index.ts'))};` +
    `const r = await new HostBackend(${JSON.stringify(dir)}).build({ changed: ${JSON.stringify(changed)} });` +
    `if (!r.ok) { console.error(r.errors.join('\\n')); process.exit(1); }`;
  return scriptKilledAfter(script, ms).then(({ code, sig, err }) => {
    if (ms === null && code !== 0) throw new Error(`in-place build failed (${code ?? sig}): ${err}`);
  });
}

/** Runs a module script in its own process, SIGKILLed after `ms` (null: left to end). */
function scriptKilledAfter(
  script: string,
  ms: number | null,
): Promise<{ code: number | null; sig: NodeJS.Signals | null; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = ms === null ? undefined : setTimeout(() => c.kill('SIGKILL'), ms);
    c.on('exit', (code, sig) => {
      clearTimeout(t);
      resolve({ code, sig, err });
    });
  });
}

test('in-place builds killed at any point keep the instance runnable; the next build is exact', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const img = (rel: string) => join(dir, 'image', rel);
  mkdirSync(img('data'));
  for (let i = 0; i < 8; i++) writeFileSync(img(`data/f${i}`), randomBytes(1 << 20));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  for (const [n, ms] of [150, 300, 450, 600, 750, 900, 1100, 1400].entries()) {
    // An edit, an addition and a removal, so every kind of operation is in flight.
    writeFileSync(img('data/f0'), randomBytes(1 << 20));
    writeFileSync(img(`data/new${n}`), randomBytes(1 << 16));
    rmSync(img(`data/new${n - 1}`), { force: true });
    await inPlaceBuildKilledAfter(dir, ['data/f0', `data/new${n}`, `data/new${n - 1}`], ms);
    const r = runCli(['run', '/bin/hello', 'exit=0'], { cwd: dir });
    assert.equal(r.status, 0, `after an in-place build killed at ${ms} ms: ${r.stderr}`);
    assert.match(r.stdout, /Hello from \/bin\/hello/);
  }
  // Whatever the kills left, a hinted build of everything they touched makes the build exact.
  await inPlaceBuildKilledAfter(dir, ['data'], null);
  assertExact(dir);
});

/**
 * The dev loop's process: verifies the build once (its guard, src/core/backend/host/guard.ts),
 * then builds in place from edits one after another, so the manifest and both stat caches grow
 * by their deltas (deltas.ts); SIGKILLed after `ms`.
 */
function devLoopKilledAfter(dir: string, ms: number): Promise<void> {
  const src = (f: string) => JSON.stringify(join(ROOT, 'src/core', f));
  const script =
    `import { writeFileSync } from 'node:fs';` +
    `import { HostBackend } from ${src('backend/host/index.ts')};` +
    `import { verifyForRun } from ${src('backend/host/verify-run.ts')};` +
    `import { instancePaths } from ${src('instance/layout.ts')};` +
    `const dir = ${JSON.stringify(dir)}; const host = new HostBackend(dir);` +
    `if (!(await verifyForRun(instancePaths(dir))).ok) process.exit(2);` +
    `for (let i = 0; ; i++) {` +
    `  writeFileSync(dir + '/image/data/f' + (i % 4), 'edit ' + i + ' ' + Math.random());` +
    `  const r = await host.build({ changed: ['data/f' + (i % 4)] });` +
    `  if (!r.ok) process.exit(1);` +
    `  if (!(await verifyForRun(instancePaths(dir))).ok) process.exit(3);` +
    `}`;
  return scriptKilledAfter(script, ms).then(({ code, sig, err }) => {
    if (sig !== 'SIGKILL') throw new Error(`the dev-loop process ended by itself (${code}): ${err}`);
  });
}

test('a dev-loop process killed while it builds in place with deltas leaves a runnable, exact build', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const img = (rel: string) => join(dir, 'image', rel);
  mkdirSync(img('data'));
  for (let i = 0; i < 4; i++) writeFileSync(img(`data/f${i}`), randomBytes(1 << 16));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  const p = instancePaths(dir);
  let sawDeltas = false;
  for (const ms of [1500, 2200, 2900, 3600, 4300]) {
    await devLoopKilledAfter(dir, ms);
    sawDeltas ||= ['manifest.delta', 'statcache.delta', 'securecache.delta'].every((f) =>
      existsSync(join(p.hostBuild, f)),
    );
    // Another process: the full check, reading every base and delta.
    const r = runCli(['run', '/bin/hello', 'exit=0'], { cwd: dir });
    assert.equal(r.status, 0, `after the dev loop was killed at ${ms} ms: ${r.stderr}`);
  }
  assert.ok(sawDeltas, 'the in-place builds appended to the deltas');
  await inPlaceBuildKilledAfter(dir, ['data'], null);
  assertExact(dir);
});

test('the manifest grows by a delta and is compacted when the delta outgrows a quarter of it', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const p = instancePaths(dir);
  const delta = join(p.hostBuild, 'manifest.delta');
  const host = new HostBackend(dir);
  assert.equal((await host.build()).ok, true);
  writeFileSync(join(dir, 'image', 'one'), '1');
  assert.equal((await host.build({ changed: ['one'] })).ok, true);
  assert.ok(existsSync(delta), 'a small change is appended');
  // ≈ 200 bytes of delta per entry: more than 1 MiB, and more than a quarter of the base.
  mkdirSync(join(dir, 'image', 'many'));
  for (let i = 0; i < 6000; i++) writeFileSync(join(dir, 'image', 'many', `f${i}`), String(i));
  assert.equal((await host.build({ changed: ['many'] })).ok, true);
  assert.equal(existsSync(delta), false, 'compacted into a new base');
  writeFileSync(join(dir, 'image', 'two'), '2');
  assert.equal((await host.build({ changed: ['two'] })).ok, true);
  assert.ok(existsSync(delta), 'appended again after the compaction');
  assertExact(dir);
});

// The dev loop's first build is a staged one (packed into a temporary build dir, then renamed into
// place); the engine's warm state follows the rename, so the first edit after it is packed warm
// (one inode file and the metadata nodes above it) instead of reading the whole image again.
test('the first in-place edit after a staged build takes the engine warm path', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  writeFileSync(join(dir, 'image/data.txt'), 'one');
  const script =
    `import { writeFileSync } from 'node:fs';` +
    `import { HostBackend } from ${JSON.stringify(join(ROOT, 'src/core/backend/host/index.ts'))};` +
    `const b = new HostBackend(${JSON.stringify(dir)});` +
    `if (!(await b.build()).ok) process.exit(1);` +
    `console.error('--- edit');` +
    `writeFileSync(${JSON.stringify(join(dir, 'image/data.txt'))}, 'two');` +
    `const r = await b.build({ changed: ['data.txt'] });` +
    `if (!r.ok) { console.error(r.errors.join('\\n')); process.exit(1); }`;
  process.env.OCCLUM_STUDIO_PACK_TRACE = '1';
  const { code, err } = await scriptKilledAfter(script, null).finally(
    () => delete process.env.OCCLUM_STUDIO_PACK_TRACE,
  );
  assert.equal(code, 0, err);
  const edit = err.slice(err.indexOf('--- edit'));
  assert.match(edit, /warm pack done/, edit);
  assertExact(dir);
});
