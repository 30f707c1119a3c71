// A forged in-place build journal (build/host/inplace.journal) in an instance copied from
// elsewhere: recovery runs on the next `run` or `build`, and must not write, remove, rename or
// chmod anything outside the build's image layer: ".." paths, an index naming another file,
// a symlink planted in the image layer or in place of the layer or its work dir. Each case has
// a canary outside the instance that must be left exactly as it was, and a one-line error
// naming the journal and the fix; after removing the journal, the instance builds and runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { symlinkSync } from 'node:fs';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { inPlaceJournalPath } from '../../src/core/backend/host/in-place.ts';
import { instancePaths, type InstancePaths } from '../../src/core/instance/layout.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';

interface Canary {
  dir: string;
  file: string;
  sub: string;
}

function canary(): Canary {
  const dir = mkdtempSync(join(tmpdir(), 'journal-canary-'));
  const file = join(dir, 'precious');
  const sub = join(dir, 'subdir');
  writeFileSync(file, 'precious\n');
  chmodSync(file, 0o640);
  mkdirSync(sub);
  writeFileSync(join(sub, 'inner'), 'inner\n');
  return { dir, file, sub };
}

function assertUntouched(c: Canary): void {
  assert.equal(readFileSync(c.file, 'utf8'), 'precious\n', 'the canary file is unchanged');
  assert.equal(statSync(c.file).mode & 0o7777, 0o640, 'the canary keeps its mode');
  assert.equal(statSync(c.dir).mode & 0o7777, 0o700, 'the canary dir keeps its mode');
  assert.equal(readFileSync(join(c.sub, 'inner'), 'utf8'), 'inner\n', 'the canary dir keeps its content');
}

/** The build's root MAC: a journal naming it is rolled back (the path that writes most). */
const rootMac = (p: InstancePaths): string => JSON.parse(readFileSync(p.hostSecureCache, 'utf8')).rootMac;

function journal(p: InstancePaths, ops: unknown[], extra: Record<string, unknown> = {}): void {
  mkdirSync(join(p.hostBuild, '.inplace', 'old'), { recursive: true });
  mkdirSync(join(p.hostBuild, '.inplace', 'new'), { recursive: true });
  const j = { version: 1, oldRootMac: rootMac(p), configText: '{}', imageType: 'integrity-only', ops, ...extra };
  writeFileSync(inPlaceJournalPath(p), JSON.stringify(j));
}

async function instance(): Promise<{ dir: string; p: InstancePaths }> {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const host = new HostBackend(dir);
  assert.equal((await host.build()).ok, true);
  return { dir, p: instancePaths(dir) };
}

/** `run` (which recovers) is refused with the journal named; `build` too; nothing outside changes. */
function assertRefused(dir: string, p: InstancePaths, c: Canary, why: RegExp): void {
  for (const args of [['run', '/bin/hello'], ['build']]) {
    const r = runCli(args, { cwd: dir });
    assertUntouched(c);
    assert.equal(r.status, 1, `${args[0]}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /inplace\.journal/, r.stderr);
    assert.match(r.stderr, why, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.ok(existsSync(inPlaceJournalPath(p)), 'the forged journal is left for the user to look at');
  // The fix the message gives: remove the journal, then build again.
  rmSync(inPlaceJournalPath(p));
  const b = runCli(['build'], { cwd: dir });
  assert.equal(b.status, 0, b.stderr);
  const r = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assertUntouched(c);
}

test('a journal whose paths climb out of the image layer is refused (mkdir rollback = rm -rf)', async () => {
  const { dir, p } = await instance();
  const c = canary();
  const up = relative(p.hostRootfs, c.dir);
  journal(p, [
    { op: 'mkdir', path: `/${up}/subdir`, mode: 0o755 },
    { op: 'chmod', path: `/${up}`, mode: 0o777, old: 0o777 },
    { op: 'put', path: `/${up}/precious`, i: 0, had: false },
  ]);
  assertRefused(dir, p, c, /climbs out|not a path inside/);
});

test('a journal whose index names a file outside .inplace/old is refused (rollback renames it in)', async () => {
  const { dir, p } = await instance();
  const c = canary();
  const fromOld = relative(join(p.hostBuild, '.inplace', 'old'), c.file);
  journal(p, [{ op: 'del', path: '/bin/stolen', i: fromOld }]);
  assertRefused(dir, p, c, /index/);
});

test('a symlink planted in the image layer is not followed by a rollback', async () => {
  const { dir, p } = await instance();
  const c = canary();
  symlinkSync(c.dir, join(p.hostRootfs, 'planted'));
  journal(p, [
    { op: 'mkdir', path: '/planted/subdir', mode: 0o755 },
    { op: 'chmod', path: '/planted', mode: 0o777, old: 0o777 },
    { op: 'put', path: '/planted/precious', i: 0, had: false },
  ]);
  assertRefused(dir, p, c, /symlink/);
  rmSync(join(p.hostRootfs, 'planted'), { force: true });
});

test('the image layer or the work dir replaced by a symlink is refused', async () => {
  const { dir, p } = await instance();
  const c = canary();
  // rootfs -> the canary dir: a rollback of "mkdir /subdir" would remove the canary's subdir.
  const real = `${p.hostRootfs}.real`;
  renameSync(p.hostRootfs, real);
  symlinkSync(c.dir, p.hostRootfs);
  journal(p, [{ op: 'mkdir', path: '/subdir', mode: 0o755 }]);
  const r = runCli(['run', '/bin/hello'], { cwd: dir });
  assertUntouched(c);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /symlink/);
  rmSync(p.hostRootfs);
  renameSync(real, p.hostRootfs);
  // .inplace -> the canary dir, old/0 -> its file: a rollback of "del" would move it into the image.
  rmSync(join(p.hostBuild, '.inplace'), { recursive: true });
  const outside = mkdtempSync(join(tmpdir(), 'journal-work-'));
  mkdirSync(join(outside, 'old'));
  writeFileSync(join(outside, 'old', '0'), 'outside\n');
  const mac = rootMac(p);
  writeFileSync(
    inPlaceJournalPath(p),
    JSON.stringify({
      version: 1,
      oldRootMac: mac,
      configText: '{}',
      imageType: 'integrity-only',
      ops: [{ op: 'del', path: '/bin/stolen', i: 0 }],
    }),
  );
  symlinkSync(outside, join(p.hostBuild, '.inplace'));
  const r2 = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(r2.status, 1, r2.stderr);
  assert.match(r2.stderr, /symlink/);
  assert.equal(readFileSync(join(outside, 'old', '0'), 'utf8'), 'outside\n', 'not moved into the image');
  assert.equal(existsSync(join(p.hostRootfs, 'bin', 'stolen')), false);
  // With the link gone the journal is harmless (old/0 is not there): recovered, the build runs.
  rmSync(join(p.hostBuild, '.inplace'));
  const r3 = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(r3.status, 0, r3.stderr);
  assert.equal(existsSync(inPlaceJournalPath(p)), false);
  assertUntouched(c);
});

test('malformed ops (unknown op, mode out of range, relative path) are refused without a change', async () => {
  const { dir, p } = await instance();
  const c = canary();
  for (const ops of [
    [{ op: 'shred', path: '/bin/hello' }],
    [{ op: 'chmod', path: '/bin', mode: 0o40000, old: 0o755 }],
    [{ op: 'mkdir', path: 'bin/x', mode: 0o755 }],
    [{ op: 'put', path: '/bin/x\0y', i: 1, had: true }],
    'not a list',
  ]) {
    journal(p, Array.isArray(ops) ? ops : [], Array.isArray(ops) ? {} : { ops });
    const r = runCli(['run', '/bin/hello'], { cwd: dir });
    assertUntouched(c);
    assert.equal(r.status, 1, `${JSON.stringify(ops)}: ${r.stderr}`);
    assert.match(r.stderr, /inplace\.journal/);
  }
  assertRefused(dir, p, c, /inplace\.journal/);
});

test('an in-place build does not write through a symlink planted in the image layer: a staged build', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const p = instancePaths(dir);
  mkdirSync(join(dir, 'image', 'data'));
  writeFileSync(join(dir, 'image', 'data', 'precious'), 'v1\n');
  const host = new HostBackend(dir);
  assert.equal((await host.build()).ok, true);
  const c = canary();
  rmSync(join(p.hostRootfs, 'data'), { recursive: true });
  symlinkSync(c.dir, join(p.hostRootfs, 'data'));
  writeFileSync(join(dir, 'image', 'data', 'precious'), 'v2\n');
  const r = await host.build({ changed: ['data/precious'] });
  assert.equal(r.ok, true);
  assertUntouched(c);
  assert.equal(lstatSync(join(p.hostRootfs, 'data')).isDirectory(), true, 'the staged build replaced the link');
  assert.equal(readFileSync(join(p.hostRootfs, 'data', 'precious'), 'utf8'), 'v2\n');
});

test('a forged manifest entry with ".." does not make an in-place build remove a file outside', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  const p = instancePaths(dir);
  mkdirSync(join(dir, 'image', 'data'));
  writeFileSync(join(dir, 'image', 'data', 'a'), 'v1\n');
  const host = new HostBackend(dir);
  assert.equal((await host.build()).ok, true);
  const c = canary();
  // An entry under /data that is not in image/: the plan removes it ("del"), by its path.
  const m = JSON.parse(readFileSync(p.hostManifest, 'utf8'));
  const up = relative(join(p.hostRootfs, 'data'), c.file);
  m.entries.push({ path: `/data/${up}`, type: 'file', mode: 0o644, size: 9 });
  writeFileSync(p.hostManifest, JSON.stringify(m));
  writeFileSync(join(dir, 'image', 'data', 'a'), 'v2\n');
  const r = await host.build({ changed: ['data'] });
  assert.equal(r.ok, true);
  assertUntouched(c);
  assert.equal(readFileSync(join(p.hostRootfs, 'data', 'a'), 'utf8'), 'v2\n');
});
