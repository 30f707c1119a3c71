// Picker lines ↔ path + args, run history on disk, and entry-point candidates.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CommandLineError,
  formatCommandLine,
  formatWords,
  parseCommandLine,
  splitWords,
} from '../../src/core/pty/command-line.ts';
import {
  addToHistory,
  HISTORY_LIMIT,
  historyPath,
  loadHistory,
  saveHistory,
  type HistoryEntry,
} from '../../src/core/pty/history.ts';
import { entryCandidates, entryPoints } from '../../src/core/pty/candidates.ts';
import { translateInput } from '../../src/core/pty/input.ts';

const work = mkdtempSync(join(tmpdir(), 'pty-cmdline-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('splitWords follows shell quoting without a shell', () => {
  assert.deepEqual(splitWords(`/bin/app  a 'b c' "d \\"e\\"" f\\ g ''`), ['/bin/app', 'a', 'b c', 'd "e"', 'f g', '']);
  assert.deepEqual(splitWords('$HOME *.txt >out'), ['$HOME', '*.txt', '>out']);
  assert.throws(
    () => splitWords(`/bin/x 'open`),
    (e: Error) => e instanceof CommandLineError && /unterminated ' quote starting at column 8/.test(e.message),
  );
  assert.throws(() => splitWords('/bin/x "open'), /unterminated " quote/);
});

test('parseCommandLine and formatCommandLine round-trip', () => {
  assert.deepEqual(parseCommandLine('  /bin/hello exit=3 "two words" '), {
    path: '/bin/hello',
    args: ['exit=3', 'two words'],
  });
  assert.throws(() => parseCommandLine('   '), /type the path of a program/);
  for (const c of [
    { path: '/bin/a', args: [] },
    { path: '/bin/a b', args: ["it's", '', 'x=1', '--flag', 'a"b'] },
  ]) {
    assert.deepEqual(parseCommandLine(formatCommandLine(c)), c);
  }
  assert.equal(
    formatCommandLine({ path: '/bin/hello', args: ['exit=3', 'two words'] }),
    "/bin/hello exit=3 'two words'",
  );
});

test('history: most recent first, no duplicates, capped, written atomically, damaged file tolerated', () => {
  const inst = join(work, 'inst');
  mkdirSync(inst);
  assert.deepEqual(loadHistory(inst), { entries: [], problem: null });
  let h: HistoryEntry[] = [];
  h = addToHistory(h, { kind: 'run', path: '/bin/a', args: [] });
  h = addToHistory(h, { kind: 'run', path: '/bin/b', args: ['1'] });
  h = addToHistory(h, { kind: 'run', path: '/bin/a', args: [] });
  h = addToHistory(h, { kind: 'exec', path: '/bin/a', args: [] });
  assert.deepEqual(
    h.map((e) => `${e.kind} ${e.path}`),
    ['exec /bin/a', 'run /bin/a', 'run /bin/b'],
  );
  for (let i = 0; i < 80; i++) h = addToHistory(h, { kind: 'run', path: `/bin/p${i}`, args: [] });
  assert.equal(h.length, HISTORY_LIMIT);
  saveHistory(inst, h);
  assert.deepEqual(readdirSync(join(inst, '.occlum-studio')), ['history.json']); // no temp file left
  assert.deepEqual(loadHistory(inst).entries, h);

  writeFileSync(
    historyPath(inst),
    '{"version":1,"entries":[{"kind":"run","path":"/bin/ok","args":[]},{"kind":"weird"}, 7]}',
  );
  assert.deepEqual(loadHistory(inst).entries, [{ kind: 'run', path: '/bin/ok', args: [] }]);
  writeFileSync(historyPath(inst), '{ not json');
  const bad = loadHistory(inst);
  assert.deepEqual(bad.entries, []);
  assert.match(bad.problem!, /history\.json: not valid history .* rewritten on the next run/);
  saveHistory(inst, [{ kind: 'run', path: '/bin/x', args: [] }]);
  assert.equal(JSON.parse(readFileSync(historyPath(inst), 'utf8')).version, 1);
});

test('candidates: executables directly under each entry point of Occlum.json', () => {
  const inst = join(work, 'cand');
  for (const d of ['image/bin', 'image/opt/app/bin', 'image/etc']) mkdirSync(join(inst, d), { recursive: true });
  const exe = (p: string) => {
    writeFileSync(join(inst, 'image', p), '#!/bin/sh\n');
    chmodSync(join(inst, 'image', p), 0o755);
  };
  exe('bin/hello');
  exe('opt/app/bin/server');
  exe('etc/not-an-entry');
  writeFileSync(join(inst, 'image/bin/data.txt'), 'x');
  writeFileSync(
    join(inst, 'Occlum.json'),
    '// comments are fine\n{ "entry_points": ["/bin", "/opt/app/bin", "relative"] }',
  );
  assert.deepEqual(entryPoints(inst), ['/bin', '/opt/app/bin']);
  assert.deepEqual(entryCandidates(inst), ['/bin/hello', '/opt/app/bin/server']);
  writeFileSync(join(inst, 'Occlum.json'), '{ broken');
  assert.deepEqual(entryPoints(inst), ['/bin']);
  assert.deepEqual(entryCandidates(inst), ['/bin/hello']);
});

test('cursor keys follow the program’s cursor-key mode', () => {
  assert.equal(translateInput('\x1b[A\x1b[Dx', { applicationCursorKeys: false }), '\x1b[A\x1b[Dx');
  assert.equal(translateInput('\x1b[A\x1b[Dx\x1b[5~', { applicationCursorKeys: true }), '\x1bOA\x1bODx\x1b[5~');
});

test('formatWords shows an empty or spaced argument quoted, as the picker parses it back', () => {
  const words = ['/bin/redis-server', '--save', '', 'two words', "it's"];
  const line = formatWords(words);
  assert.equal(line, `/bin/redis-server --save '' 'two words' 'it'\\''s'`);
  assert.deepEqual(splitWords(line), words);
});
