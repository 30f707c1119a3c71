import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReports } from '../../views/mouse.ts';

test('SGR mouse reports become events and leave the keys around them', () => {
  const { rest, events } = parseReports('a\x1b[<64;10;5Mb\x1b[<65;1;2M\x1b[<0;7;1M\x1b[<0;7;1mc');
  assert.equal(rest, 'abc');
  assert.deepEqual(events, [
    { kind: 'wheelup', x: 10, y: 5 },
    { kind: 'wheeldown', x: 1, y: 2 },
    { kind: 'press', x: 7, y: 1 },
  ]);
});

test('drags, right clicks and releases are dropped, not typed', () => {
  assert.deepEqual(parseReports('\x1b[<32;3;3M\x1b[<2;3;3M\x1b[<2;3;3m'), { rest: '', events: [] });
});
