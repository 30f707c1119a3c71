// writeFileAtomic's temporary file: a name someone could guess (and plant a link at) is not
// written through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/core/instance/atomic.ts';

test('a link planted at the temporary name of the pid and time is not followed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  try {
    const canary = join(dir, 'canary');
    writeFileSync(canary, 'keep\n');
    const now = Date.now();
    t.mock.method(Date, 'now', () => now);
    symlinkSync(canary, join(dir, `.state.tmp-${process.pid}-${now}`));
    writeFileAtomic(join(dir, 'state'), 'new\n');
    assert.equal(readFileSync(canary, 'utf8'), 'keep\n');
    assert.equal(readFileSync(join(dir, 'state'), 'utf8'), 'new\n');
    assert.equal(readdirSync(dir).length, 3, 'canary, the planted link, state');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
