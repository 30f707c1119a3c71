// packImage with a `changed` hint: the hinted incremental image equals the source after edits,
// adds, deletes and renames, and verifies; a wrong hint misses changes without breaking the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffWithSource, openImage, packImage, type KeyMode } from '../../src/core/securefs/index.ts';

test('hinted incremental packs track edits, adds, deletes and renames', async () => {
  const d = mkdtempSync(join(tmpdir(), 'securefs-hint-'));
  try {
    const src = join(d, 'image');
    mkdirSync(join(src, 'bin'), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, 'bin', `f${i}`), `file ${i}\n`);
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    const opts = {
      src,
      outRoot: join(d, 'mount/__ROOT'),
      macFile: join(d, 'mount/.ROOT_MAC'),
      key: { kind: 'integrity-only' } as KeyMode,
      incremental: true,
    };
    const check = async (what: string, changed?: string[]) => {
      const r = await packImage({ ...opts, changed });
      const v = openImage(opts.outRoot);
      assert.deepEqual(await diffWithSource(v, src), [], what);
      const rep = await v.verify();
      assert.equal(rep.ok, true, what);
      assert.equal(rep.rootMac, r.rootMac, what);
      return r;
    };
    await check('first pack (full walk)', []);
    writeFileSync(join(src, 'hello.txt'), 'edited\n');
    assert.equal((await check('edit', ['hello.txt'])).filesPacked, 1);
    mkdirSync(join(src, 'etc/conf'), { recursive: true });
    writeFileSync(join(src, 'etc/conf/app.json'), '{}');
    await check('add under new directories', ['etc/conf/app.json']);
    unlinkSync(join(src, 'bin/f3'));
    await check('delete', ['bin/f3']);
    renameSync(join(src, 'bin/f4'), join(src, 'etc/f4-moved'));
    await check('rename', ['bin/f4', 'etc/f4-moved']);

    // Wrong hint: the unhinted edit is missed, the image stays consistent; no hint catches up.
    writeFileSync(join(src, 'bin/f5'), 'edited, not hinted\n');
    const r = await packImage({ ...opts, changed: ['hello.txt'] });
    const v = openImage(opts.outRoot);
    assert.equal((await v.verify()).ok, true);
    assert.equal(r.filesPacked, 0);
    assert.deepEqual(
      (await diffWithSource(v, src)).map((i) => [i.path, i.change]),
      [['/bin/f5', 'changed']],
    );
    await check('unhinted pack after a wrong hint');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
