// Backend.openFs on the host backend: the packed secure image merged with the run layer, as the
// sandboxed program sees `/` (files written, copied up and deleted by real runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';

test('openFs: image layer alone, and merged with what programs wrote and deleted', async () => {
  const dir = makeInstance(['writer', 'hello']);
  // Not /etc/hosts: the host backend writes the host's over it at every boot, as Occlum does.
  writeFileSync(join(dir, 'image/etc/app.conf'), '127.0.0.1   localhost\n');
  const b = new HostBackend(dir);
  assert.ok((await b.build()).ok);
  const image = await b.openFs({ layer: 'image' });
  assert.deepEqual(
    image.list('/bin').map((e) => e.name),
    ['hello', 'writer'],
  );
  assert.equal(image.readFile('/etc/app.conf').toString(), '127.0.0.1   localhost\n');
  const run = (args: string[]) => b.run('/bin/writer', args, { stdio: 'pipe' });
  assert.equal((await run([])).status, 0); // creates /root/counter.txt
  assert.equal((await run(['write', '/etc/app.conf'])).status, 0); // copy-up
  assert.equal((await run(['unlink', '/bin/hello'])).status, 0); // whiteout
  const fs = await b.openFs();
  assert.deepEqual(
    fs.list('/bin').map((e) => `${e.name}:${e.layer}`),
    ['writer:image'],
  );
  assert.equal(fs.stat('/root/counter.txt').layer, 'run');
  assert.equal(fs.readFile('/root/counter.txt').toString(), 'run\n');
  assert.equal(fs.readFile('/etc/app.conf').toString(), '127.0.0.1   localhost\nx\n');
  assert.throws(() => fs.stat('/bin/hello'), /no such file/);
  assert.ok(fs.walk().some((e) => e.path === '/root/counter.txt'));
  assert.equal((await fs.verify()).ok, true);
  await assert.rejects(b.openFs({ layer: 'initfs' }), /no init stage/);
});
