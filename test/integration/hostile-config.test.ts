// Large hostile configs stay linear in time and bounded in memory (issue 11, defect 9):
// `check` of an Occlum.json padded with 50 MiB of spaces (was 41 s and 2.9 GB, mostly GC) runs in
// a child whose heap is capped at 256 MiB, and reports what it reports for the unpadded file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

/** A config with missing keys, so that there is something to report. */
const TEMPLATE = JSON.stringify(
  {
    resource_limits: { user_space_size: '300MB', kernel_space_heap_size: '32MB', max_num_of_threads: 32 },
    process: { default_stack_size: '4MB', default_heap_size: '32MB' },
    entry_points: ['/bin'],
    env: { default: ['OCCLUM=yes'], untrusted: ['EXAMPLE'] },
    metadata: { product_id: 0, version_number: 0, debuggable: true },
    mount: [],
  },
  null,
  2,
);
const CAPPED = { NODE_OPTIONS: '--max-old-space-size=256' };

function checkJson(file: string) {
  const r = runCli(['check', file, '--json'], { env: CAPPED, timeout: 300_000, maxBuffer: 1 << 26 });
  assert.ok(r.status === 0 || r.status === 1, `check ended normally (status ${r.status}): ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout) as { diagnostics: { code: string; message: string; path: unknown[] }[] };
}

/** What was found, without positions; the migration offer is left out (not made for texts over 512 KiB). */
const gist = (r: ReturnType<typeof checkJson>) =>
  r.diagnostics
    .filter((d) => d.code !== 'migrate')
    .map((d) => `${d.code} ${JSON.stringify(d.path)} ${d.message}`)
    .sort();

test('50 MiB of spaces (before the last brace and between tokens): same verdict, heap capped at 256 MiB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-config-'));
  const plain = join(dir, 'plain.json');
  writeFileSync(plain, TEMPLATE);
  const expected = gist(checkJson(plain));
  assert.ok(expected.length > 0, 'the template lacks required keys: there is something to report');
  const pad = ' '.repeat(25 << 20);
  const padded = join(dir, 'padded.json');
  writeFileSync(padded, TEMPLATE.replace('"process":', `${pad}"process":`).replace(/}$/, `${pad}\t}`));
  assert.deepEqual(gist(checkJson(padded)), expected);
  const human = runCli(['check', padded], { env: CAPPED, timeout: 300_000 });
  assert.equal(human.status, 1, human.stderr.slice(0, 500));
  assert.match(human.stdout, /padded\.json:\d+:\d+: error: missing field/);
});

test('10 MiB of line breaks: completes with the heap capped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-config-'));
  const file = join(dir, 'lines.json');
  writeFileSync(file, TEMPLATE.replace(/}$/, `${'\n'.repeat(10 << 20)}}`));
  const r = checkJson(file);
  assert.ok(r.diagnostics.some((d) => d.code === 'missing-key'));
});
