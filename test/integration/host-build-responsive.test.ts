// A host build of a 2000-file image must not hold the event loop: timers (the TUI's renders,
// chokidar's events) keep running while it stages, packs and commits, and the build it produces
// is still exact: the secure image equals image/ (fs diff), the image layer verifies in full,
// the program runs. Timings are printed, never asserted (test/bench/watch.bench.ts measures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { diffWithSource } from '../../src/core/securefs/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';

const DIRS = 20;
const PER_DIR = 100;

/** Counts the ticks of a 2 ms interval while `work` runs, and the longest gap between two. */
async function probed<T>(work: () => Promise<T>): Promise<{ value: T; ticks: number; maxGapMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 2);
  try {
    const value = await work();
    maxGapMs = Math.max(maxGapMs, performance.now() - last);
    return { value, ticks, maxGapMs };
  } finally {
    clearInterval(timer);
  }
}

function generate(dir: string): void {
  for (let d = 0; d < DIRS; d++) {
    mkdirSync(join(dir, 'image', 'data', `d${d}`), { recursive: true });
    for (let i = 0; i < PER_DIR; i++)
      writeFileSync(join(dir, 'image', 'data', `d${d}`, `f${i}`), randomBytes(4096 + ((d * PER_DIR + i) % 7) * 1000));
  }
  writeFileSync(join(dir, 'image', 'data', 'big'), randomBytes(8 << 20));
}

async function assertExact(b: HostBackend, dir: string): Promise<void> {
  const view = await b.openFs({ layer: 'image' });
  assert.deepEqual(await diffWithSource(view, join(dir, 'image')), [], 'the secure image equals image/');
  const full = await b.verify({ full: true });
  assert.ok(full.ok, full.problems.join('\n'));
  const quick = await b.verify();
  assert.ok(quick.ok, quick.problems.join('\n'));
  const out: Buffer[] = [];
  const runner = new HostBackend(dir, { output: (_s, c) => out.push(c) });
  const exit = await runner.run('/bin/hello', [], { stdio: 'pipe' });
  assert.equal(exit.status, 0);
  assert.match(Buffer.concat(out).toString(), /Hello from \/bin\/hello/);
}

test('a host build of a 2000-file image keeps timers running and builds exactly; so does an incremental one', async () => {
  const dir = makeInstance(['hello']);
  try {
    generate(dir);
    const b = new HostBackend(dir);

    const first = await probed(() => b.build());
    assert.ok(first.value.ok, first.value.errors.join('\n'));
    console.log(
      `# first build: ${first.value.ms.toFixed(0)} ms, ${first.ticks} probe ticks during it, longest event-loop stall ${first.maxGapMs.toFixed(0)} ms`,
    );
    assert.ok(first.ticks > 0, 'timers ran while the build was in progress');
    await assertExact(b, dir);

    // One changed file, one added (in a new directory), one removed, one chmod: the rest is reused.
    writeFileSync(join(dir, 'image', 'data', 'd3', 'f7'), 'changed\n');
    mkdirSync(join(dir, 'image', 'data', 'new'));
    writeFileSync(join(dir, 'image', 'data', 'new', 'added'), 'added\n');
    rmSync(join(dir, 'image', 'data', 'd5', 'f9'));
    chmodSync(join(dir, 'image', 'data', 'd7', 'f1'), 0o600);
    const incr = await probed(() => b.build());
    assert.ok(incr.value.ok, incr.value.errors.join('\n'));
    console.log(
      `# incremental build: ${incr.value.ms.toFixed(0)} ms, ${incr.ticks} probe ticks, longest stall ${incr.maxGapMs.toFixed(0)} ms, ${incr.value.filesReused} files reused`,
    );
    assert.ok(incr.ticks > 0, 'timers ran while the incremental build was in progress');
    const files = DIRS * PER_DIR + 1; // + big; minus the removed one, plus the added one
    assert.ok(incr.value.filesReused >= files - 3, `unchanged files are reused (${incr.value.filesReused})`);
    assert.equal(readFileSync(join(dir, 'build', 'host', 'rootfs', 'data', 'd3', 'f7'), 'utf8'), 'changed\n');
    await assertExact(b, dir);

    // A third build removes the replaced build kept by the second (only one is ever kept).
    appendFileSync(join(dir, 'image', 'data', 'd0', 'f0'), 'more');
    const third = await probed(() => b.build());
    assert.ok(third.value.ok, third.value.errors.join('\n'));
    assert.ok(third.ticks > 0);
    const kept = readdirSync(join(dir, 'build', '.superseded'));
    assert.ok(
      kept.includes('host') && !kept.includes('.superseded'),
      `one replaced build is kept, not a chain (${kept.join(', ')})`,
    );
    await assertExact(b, dir);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('a run after the build trusts the secure image only while its files are as the build left them', async () => {
  const dir = makeInstance(['hello']);
  try {
    generate(dir);
    const b = new HostBackend(dir);
    assert.ok((await b.build()).ok);
    const quick = await b.verify();
    assert.ok(quick.ok && quick.image === undefined, 'unchanged since the build: no re-read of the image');
    // Tamper with one host file of the packed image: the stamp no longer holds, the MAC chain fails.
    const root = join(dir, 'build', 'mount', '__ROOT');
    const victim = readdirSync(root)
      .filter((n) => /^[0-9a-f]{32}$/.test(n))
      .sort()[0]!;
    const bytes = readFileSync(join(root, victim));
    bytes[bytes.length - 100] ^= 0xff; // inside the MAC'ed node (the tail is padding)
    writeFileSync(join(root, victim), bytes);
    const after = await b.verify();
    assert.equal(after.ok, false, 'a modified secure image is refused');
    assert.match(after.problems.join('\n'), /secure image/);
    const runner = new HostBackend(dir, { output: () => {} });
    await assert.rejects(runner.run('/bin/hello', [], { stdio: 'pipe' }), /tampered/);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
