// A prebuild's output as an unlucky user's tools produce it: 30 MB without a line break (a binary
// dumped to stdout), a progress bar redrawn with CR 300,000 times, multi-byte characters split
// across pipe reads. The lines the Build pane gets stay bounded, nothing is lost or garbled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LINE, runPrebuild } from '../../src/core/watch/prebuild.ts';
import { displayLine } from '../../src/core/text/output-line.ts';

async function lines(command: string): Promise<string[]> {
  const out: string[] = [];
  const r = await runPrebuild(command, '/', (l) => out.push(l), new AbortController().signal);
  assert.equal(r.status, 0);
  return out;
}

test('30 MB without a line break arrives in bounded pieces, every byte kept', async () => {
  const out = await lines("head -c 30000000 /dev/zero | tr '\\0' x");
  assert.ok(out.length > 1, 'cut into pieces');
  assert.ok(
    out.every((l) => l.length <= MAX_LINE + 65536),
    `longest ${Math.max(...out.map((l) => l.length))}`,
  );
  assert.equal(
    out.reduce((n, l) => n + l.length, 0),
    30_000_000,
  );
});

test('a progress bar redrawn with CR keeps its last state, not 4 MB of redraws', async () => {
  const out = await lines("yes 'progress 50%' | head -n 300000 | tr '\\n' '\\r'; printf '\\rprogress 100%%\\ndone\\n'");
  assert.deepEqual(out.map(displayLine), ['progress 100%', 'done']);
  assert.ok(out[0]!.length <= MAX_LINE + 65536);
});

test('a 3-byte character split between two pipe reads is kept whole', async () => {
  const out = await lines("yes '€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€' | head -n 20000");
  assert.equal(out.length, 20000);
  assert.ok(
    out.every((l) => l === '€'.repeat(32)),
    'no U+FFFD',
  );
});
