import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeSystemError, errorMessage, formatError, withPath } from '../../src/core/errors.ts';

function sysErr(code: string, syscall: string, path?: string, dest?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, ${syscall}`), { code, syscall, path, dest });
}

test('system errors become one line with what, the path and the fix', () => {
  assert.equal(
    describeSystemError(sysErr('ENOSPC', 'copyfile', '/a', '/b/c')),
    'no space left on device (ENOSPC) copying /a to /b/c: free space on that file system (df -h) and try again',
  );
  assert.match(
    describeSystemError(sysErr('EACCES', 'open', '/x/y'))!,
    /^permission denied \(EACCES\) opening \/x\/y: check the owner/,
  );
  assert.match(describeSystemError(sysErr('EMFILE', 'open', '/f'))!, /ulimit -n/);
  assert.match(
    describeSystemError(sysErr('E2BIG', 'spawn'))!,
    /^argument list too long \(E2BIG\) starting a process: /,
  );
  assert.match(
    describeSystemError(withPath(sysErr('EDQUOT', 'write'), '/q/file'))!,
    /^disk quota exceeded \(EDQUOT\) writing \/q\/file: /,
  );
  assert.equal(describeSystemError(new Error('plain')), undefined);
  assert.equal(errorMessage(new Error('plain')), 'plain');
});

test('a hostile path cannot reach the terminal raw', () => {
  const line = describeSystemError(sysErr('ENOENT', 'open', '/tmp/\x1b]0;owned\x07\n'))!;
  assert.doesNotMatch(line, /[\x00-\x1f]/);
  assert.match(line, /\\e\]0;owned\\x07\\n/);
});

test('other errors: the message and how to see the stack; the stack only with OCCLUM_STUDIO_DEBUG', () => {
  const e = new Error('boom\x1b[2J');
  assert.equal(formatError(e, {}), 'internal error: boom\\e[2J (set OCCLUM_STUDIO_DEBUG=1 for the stack trace)');
  assert.match(
    formatError(e, { OCCLUM_STUDIO_DEBUG: '1' }),
    /^internal error: boom\\e\[2J\nError: boom\\e\[2J\n\s+at /,
  );
  assert.doesNotMatch(formatError(e, { OCCLUM_STUDIO_DEBUG: '0' }), /\n/);
});
