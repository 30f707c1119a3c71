// User regexes (logs --grep, the Logs pane's filter and search) end on catastrophic patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileFilter,
  DEFAULT_FILTER,
  FilterError,
  LogBuffer,
  matchRanges,
  parseLog,
} from '../../src/core/logs/index.ts';
import { compileUserRegex } from '../../src/core/logs/user-regex.ts';
import { createStudioStore } from '../../src/store/index.ts';

const EVIL_LINE = `${'a'.repeat(34)}!`;

test('(a+)+$ on a 35-character line ends (V8 switches to its linear engine)', () => {
  const re = compileUserRegex('(a+)+$');
  assert.equal(re.test(EVIL_LINE), false);
  assert.equal(re.test(`${'a'.repeat(100_000)}!`), false);
  assert.equal(re.test('xaa'), true);
  assert.deepEqual(re.ranges('xaa aa', 10), [[4, 6]]);
});

test('smart case without the i flag: lower-case patterns match any case, others exactly', () => {
  assert.equal(compileUserRegex('(e+)+noent').test('ENOENT'), true);
  assert.equal(compileUserRegex('ENOENT').test('enoent'), false);
  assert.deepEqual(matchRanges('Open ENOENT here', 'e(n|x)+oent', true), [[5, 11]]);
});

test('a pattern only backtracking can run gets a time budget per line, then a clear FilterError', () => {
  const f = compileFilter({ ...DEFAULT_FILTER, text: '(a+)+(?=b)', regex: true });
  const [rec] = parseLog(EVIL_LINE);
  assert.throws(
    () => f(rec!),
    (e: Error) => e instanceof FilterError && /took more than \d+ ms on one log line/.test(e.message),
  );
  assert.equal(
    compileFilter({ ...DEFAULT_FILTER, text: '(a)\\1', regex: true })(parseLog('xaa')[0]!),
    true,
    'backreferences still work',
  );
  // The buffer keeps streaming: the record is not shown, nothing throws.
  const b = new LogBuffer(100);
  b.setFilter({ ...DEFAULT_FILTER, text: '(a+)+(?=b)', regex: true });
  b.append(rec!);
  assert.equal(b.length, 0);
  assert.equal(b.size, 1);
});

test('the Logs pane refuses such a filter with the message instead of hanging', () => {
  const store = createStudioStore({ launchDir: process.cwd() });
  store.getState().appendLogChunk('run', `${EVIL_LINE}\n`);
  store.getState().endLogSource('run');
  assert.equal(store.getState().logsSetFilter({ text: '(a+)+(?=b)', regex: true }), false);
  assert.match(store.getState().logs.filterError ?? '', /took more than \d+ ms/);
  assert.equal(store.getState().logsSetFilter({ text: '(a+)+$', regex: true }), true);
  assert.equal(store.getState().logs.matching, 0);
});
