// Integrity-only protected files (the host backend's .Occlum_sys.json.protected): byte-identical
// to what Occlum's own tools wrote in the real 0.28 instance, and readable by the native engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  decodeIntegrityOnly,
  encodeIntegrityOnly,
  ProtectedFileError,
} from '../../src/core/backend/host/protected-file.ts';
import { WAMR_FIXTURE, needsCorpus } from '../helpers/paths.ts';

const build = join(WAMR_FIXTURE, 'build');

test(
  "Occlum's own protected configs decode to their documented MACs and re-encode byte for byte",
  { skip: needsCorpus(WAMR_FIXTURE) },
  () => {
    for (const [file, plain, mac] of [
      ['.Occlum_sys.json.protected', '.Occlum_sys.json', '17-ad-57-21-d4-b3-17-bc-42-c5-3c-e7-ac-39-a9-2f'],
      ['Occlum.json.protected', 'Occlum.json', '85-ac-82-bc-51-af-2d-55-9c-e4-84-08-cc-89-eb-a9'],
    ]) {
      const bytes = readFileSync(join(build, file));
      const r = decodeIntegrityOnly(bytes, file);
      assert.equal(r.mac, mac);
      assert.deepEqual(r.data, readFileSync(join(build, plain)));
      assert.deepEqual(encodeIntegrityOnly(readFileSync(join(build, plain)), file).bytes, bytes);
    }
  },
);

test('multi-node files: node counts of the spec, and the native reader agrees', async () => {
  let native: typeof import('../../src/core/securefs/index.ts') | null;
  try {
    native = await import('../../src/core/securefs/index.ts');
    native.loadNative();
  } catch {
    native = null; // engine not built: the encoder is still checked against itself and the spec
  }
  const dir = mkdtempSync(join(tmpdir(), 'pf-'));
  for (const [size, nodes] of [
    [0, 1],
    [3072, 1],
    [3073, 3],
    [3072 + 4096 * 96, 98],
    [3072 + 4096 * 96 + 1, 100],
    [14_000_000, 3455],
  ]) {
    const data = randomBytes(size);
    const { bytes, mac } = encodeIntegrityOnly(data, `f${size}`);
    assert.equal(bytes.length / 4096, nodes, `size ${size}`);
    const back = decodeIntegrityOnly(bytes, `f${size}`);
    assert.equal(back.mac, mac);
    assert.ok(back.data.equals(data));
    if (native) {
      writeFileSync(join(dir, `f${size}`), bytes);
      assert.equal((await native.pfVerify(join(dir, `f${size}`))).mac, mac);
      assert.ok((await native.pfRead(join(dir, `f${size}`))).equals(data));
    }
  }
});

test('any change is caught: content, a tag, the name, trailing bytes', () => {
  const { bytes } = encodeIntegrityOnly(randomBytes(9000), 'cfg');
  const flip = (at: number) => {
    const b = Buffer.from(bytes);
    b[at] ^= 1;
    return b;
  };
  assert.throws(() => decodeIntegrityOnly(flip(95 + 320 + 5), 'cfg'), ProtectedFileError); // data in node 0
  assert.throws(() => decodeIntegrityOnly(flip(2 * 4096 + 7), 'cfg'), ProtectedFileError); // data node
  assert.throws(() => decodeIntegrityOnly(flip(4096 + 20), 'cfg'), ProtectedFileError); // tag in the MHT
  assert.throws(() => decodeIntegrityOnly(bytes, 'other-name'), ProtectedFileError);
  assert.throws(() => decodeIntegrityOnly(Buffer.concat([bytes, Buffer.alloc(4096)]), 'cfg'), ProtectedFileError);
});
