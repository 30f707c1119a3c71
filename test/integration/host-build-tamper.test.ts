// A build whose secure image was tampered with (a byte of an inode file or of `metadata` flipped
// in build/mount/__ROOT) is repaired by the next build, as `occlum build` repairs it by rewriting
// the image: the incremental packer reuses an output file only while it is the file it wrote
// (native/src/pack/state.rs, OutId). Before that, the staged build hard-linked the tampered file
// into the new build with its recorded MAC and every later build and run failed verification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readdirSync, readSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { verifyForRun } from '../../src/core/backend/host/verify-run.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';

/** Flips byte 400 of `file` in place (same inode and size): node 0's authenticated part. */
async function tamper(file: string): Promise<void> {
  // File timestamps tick every few ms: a write in the packer's own tick would keep its mtime.
  await new Promise((r) => setTimeout(r, 30));
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 400);
  b[0]! ^= 0xff;
  writeSync(fd, b, 0, 1, 400);
  closeSync(fd);
}

function inodeFile(dir: string): string {
  const root = instancePaths(dir).buildRoot;
  const names = readdirSync(root)
    .filter((n) => /^[0-9a-f]{32}$/.test(n))
    .sort();
  return join(root, names[Math.floor(names.length / 2)]!);
}

function fullRun(dir: string) {
  return runCli(['run', '--full-verify', '/bin/hello'], { cwd: dir });
}

test('occlum-studio build repairs a tampered secure image, and the next run succeeds', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  for (let i = 0; i < 10; i++) writeFileSync(join(dir, 'image', `f${i}`), `data ${i}\n`.repeat(500));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  for (const victim of [inodeFile(dir), join(instancePaths(dir).buildRoot, 'metadata')]) {
    await tamper(victim);
    const refused = fullRun(dir);
    assert.notEqual(refused.status, 0, `${victim}: a run of the tampered build is refused`);
    for (const n of [1, 2]) {
      const b = runCli(['build'], { cwd: dir });
      assert.equal(b.status, 0, b.stderr);
      const v = runCli(['fs', 'verify', '-C', dir]);
      assert.equal(v.status, 0, `${victim}: fs verify after build ${n}: ${v.stdout}${v.stderr}`);
    }
    const r = fullRun(dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Hello from \/bin\/hello/);
  }
});

for (const guarded of [false, true]) {
  const how = guarded ? 'with' : 'without';
  test(`the dev loop’s in-place build repairs a tampered secure image (${how} the verified state’s watch)`, async () => {
    ensureBuilt();
    const dir = makeInstance(['hello']);
    const p = instancePaths(dir);
    for (let i = 0; i < 10; i++) writeFileSync(join(dir, 'image', `f${i}`), `data ${i}\n`.repeat(500));
    const host = new HostBackend(dir);
    assert.equal((await host.build()).ok, true);
    let k = 0;
    for (const pick of [inodeFile, (d: string) => join(instancePaths(d).buildRoot, 'metadata')]) {
      // One in-place build first: the engine keeps what it packed, so the next one may take its
      // warm path (patching `metadata` in place, keeping every other inode file).
      writeFileSync(join(dir, 'image', 'f3'), `edit ${k++}\n`);
      assert.equal((await host.build({ changed: ['f3'] })).ok, true);
      // A check before a run in this process leaves its watch of the build (guard.ts), which
      // the next in-place build asks whether the secure image changed.
      if (guarded) assert.equal((await verifyForRun(p, false)).ok, true);
      const victim = pick(dir);
      await tamper(victim);
      assert.notEqual(fullRun(dir).status, 0, `${victim}: a run of the tampered build is refused`);
      writeFileSync(join(dir, 'image', 'f3'), `edit ${k++}\n`);
      const b = await host.build({ changed: ['f3'] });
      assert.equal(b.ok, true, b.errors.join('; '));
      if (guarded) assert.equal((await verifyForRun(p, false)).ok, true, `${victim}: the check in this process`);
      const r = fullRun(dir);
      assert.equal(r.status, 0, `${victim}: ${r.stderr}`);
      assert.match(r.stdout, /Hello from \/bin\/hello/);
    }
  });
}
