import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayLine } from '../../src/core/text/output-line.ts';

test('a carriage return rewinds like a terminal: the last state of a progress line shows', () => {
  assert.equal(displayLine('compiling 10%\rcompiling 100%'), 'compiling 100%');
  assert.equal(displayLine('abcdef\rXY'), 'XYcdef');
  assert.equal(displayLine('done\r\r'), 'done');
});

test('colours and other escape sequences are dropped; tabs expand to 8-column stops; controls are shown', () => {
  assert.equal(displayLine('\x1b[1;32mok\x1b[0m'), 'ok');
  assert.equal(displayLine('\x1b]0;title\x07x'), 'x');
  assert.equal(displayLine('a\tb\tc'), 'a       b       c');
  assert.equal(displayLine('ding\x07 \x0b\x0c'), 'ding\\x07 \\x0b\\x0c');
});

test('a rewind over coloured text overwrites what was visible, not the escape codes', () => {
  assert.equal(displayLine('\x1b[1;31mwarning\x1b[0m: x\rXX'), 'XXrning: x');
});
