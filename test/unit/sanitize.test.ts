import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needsSanitizing, sanitizeForTerminal } from '../../src/core/text/sanitize.ts';

test('escape sequences and controls become visible escapes', () => {
  assert.equal(sanitizeForTerminal('a\x1b]0;owned\x07b'), 'a\\e]0;owned\\x07b');
  assert.equal(sanitizeForTerminal('x\r\ny\tz\v\f\x7f\x9b'), 'x\\r\\ny\\tz\\x0b\\x0c\\x7f\\x9b');
  assert.equal(sanitizeForTerminal('evil\u202etxt.exe'), 'evil\\u202etxt.exe');
});

test('printable text, wide characters and emoji are kept; lone surrogates are replaced', () => {
  const s = 'héllo 世界 🙂 [0m';
  assert.equal(sanitizeForTerminal(s), s);
  assert.equal(needsSanitizing(s), false);
  assert.equal(sanitizeForTerminal('a\ud800b'), 'a\ufffdb');
  assert.equal(needsSanitizing('a\udc00'), true);
});

test('keepLayout keeps newlines and tabs only', () => {
  assert.equal(sanitizeForTerminal('a\n\tb\x1b[2J', { keepLayout: true }), 'a\n\tb\\e[2J');
});

test('keepNewlines keeps newlines only', () => {
  assert.equal(sanitizeForTerminal('a\n\tb\x0b\r', { keepNewlines: true }), 'a\n\\tb\\x0b\\r');
});

test("the host runtime log line keeps its colours but not the message's escapes", async () => {
  const { formatOcclumLine } = await import('../../src/core/backend/host/log.ts');
  const line = formatOcclumLine(new Date(0), 'info', 'process', 'Process created: elf = /bin/x\x1b]0;owned\x07\r');
  assert.ok(line.startsWith('\x1b[32m[') && line.endsWith('\x1b[0m'));
  assert.ok(line.includes('elf = /bin/x\\e]0;owned\\x07\\r'));
});
