// The build's metadata files as base + append-only delta (src/core/backend/host/deltas.ts): the
// entries a reader gets, the MAC the config pins (over the exact bytes, hashed incrementally), and
// a repeated append after a kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendManifestDelta,
  appendSecureStamp,
  appendStatCache,
  compactionDue,
  manifestDelta,
  manifestLines,
  manifestMac,
  manifestState,
  readManifestTexts,
  readSecureStamp,
  readStatCache,
} from '../../src/core/backend/host/deltas.ts';
import { contentMac } from '../../src/core/backend/host/pin.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';
import type { ManifestEntry } from '../../src/core/backend/host/manifest.ts';

function paths() {
  const p = instancePaths(mkdtempSync(join(tmpdir(), 'deltas-')));
  mkdirSync(p.hostBuild, { recursive: true });
  return p;
}

const file = (path: string, sha256: string): ManifestEntry => ({ path, type: 'file', mode: 0o644, size: 1, sha256 });

test('a manifest delta applies in order, and its MAC is that of base ‖ delta, also incrementally', () => {
  const p = paths();
  const base = JSON.stringify({ version: 1, entries: [file('/a', 'aa'), file('/b', 'bb')] });
  writeFileSync(p.hostManifest, base);
  const s0 = manifestState(base, '');
  const next = new Map(s0.entries);
  next.set('/a', file('/a', 'a2'));
  next.delete('/b');
  next.set('/c', file('/c', 'cc'));
  const lines = manifestLines(next, ['/a', '/b', '/c']);
  appendManifestDelta(p, 0, lines);
  const t = readManifestTexts(p);
  const s1 = manifestState(t.base, t.delta);
  assert.deepEqual([...s1.entries.keys()].sort(), ['/a', '/c']);
  assert.equal(s1.entries.get('/a')!.sha256, 'a2');
  assert.equal(manifestMac(s1), contentMac(base + lines));
  const incremental = { ...s0, hash: s0.hash.copy().update(lines) };
  assert.equal(manifestMac(incremental), manifestMac(s1), 'hashing only the appended lines gives the same MAC');
  // A kill after the append, before the commit's end: the recovery appends again from the same length.
  appendManifestDelta(p, 0, lines);
  assert.equal(readFileSync(manifestDelta(p), 'utf8'), lines);
});

test('the stat caches read through their deltas', () => {
  const p = paths();
  writeFileSync(p.hostStatCache, JSON.stringify({ '/a': '1:1', '/b': '2:2' }));
  appendStatCache(p, [
    ['/a', '1:9'],
    ['/b', null],
  ]);
  assert.deepEqual(readStatCache(p), { '/a': '1:9' });
  writeFileSync(p.hostSecureCache, JSON.stringify({ rootMac: 'm1', files: { x: '1:1', y: '2:2' } }));
  appendSecureStamp(p, 'm2', [
    ['y', null],
    ['z', '3:3'],
  ]);
  assert.deepEqual(readSecureStamp(p), { rootMac: 'm2', files: { x: '1:1', z: '3:3' } });
});

test('a delta is compacted once it is worth a quarter of its base (at least 1 MiB)', () => {
  assert.equal(compactionDue(100, 1 << 20), false);
  assert.equal(compactionDue(100, (1 << 20) + 1), true);
  assert.equal(compactionDue(8 << 20, (2 << 20) + 1), true);
  assert.equal(compactionDue(8 << 20, 2 << 20), false);
});
