// PtySession with real programs in real pseudo-terminals: colours, cursor moves, full-screen
// programs, input, resize (seen by the child), scrollback, exit status and signals.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PtySession, type PtyCommand } from '../../src/core/pty/session.ts';
import { plainText } from '../../src/core/pty/screen.ts';

const sessions: PtySession[] = [];
const work = mkdtempSync(join(tmpdir(), 'pty-session-'));
after(() => {
  sessions.forEach((s) => s.dispose());
  rmSync(work, { recursive: true, force: true });
});

function start(cmd: PtyCommand, cols = 40, rows = 8, scrollback?: number): PtySession {
  const s = PtySession.spawn(cmd, { cols, rows, scrollback });
  sessions.push(s);
  return s;
}

const sh = (script: string): PtyCommand => ({ file: 'sh', args: ['-c', script] });

function text(s: PtySession, offset = 0): string {
  return s.snapshot({ offset }).lines.map(plainText).join('\n');
}

/** Waits (on change notifications, not sleeps) until the screen shows `what`. */
async function waitForScreen(s: PtySession, what: string | RegExp, timeoutMs = 10_000): Promise<void> {
  const ok = () => (typeof what === 'string' ? text(s).includes(what) : what.test(text(s)));
  await s.flush();
  if (ok()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${String(what)}\n--- screen ---\n${text(s)}`));
    }, timeoutMs);
    const off = s.onChange(() => {
      if (ok()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
    void s.exited.then((e) => {
      if (!ok()) {
        clearTimeout(timer);
        off();
        reject(
          new Error(`program ended (${JSON.stringify(e)}) before showing ${String(what)}\n--- screen ---\n${text(s)}`),
        );
      }
    });
  });
}

test('colours and attributes come back as SGR codes only, with the plain text intact', async () => {
  const s = start(
    sh(
      String.raw`printf '\033[1;31mbold red\033[0m \033[2mdim\033[0m \033[3mital\033[0m \033[4mund\033[0m \033[7minv\033[0m\n\033[92mbright\033[0m \033[38;5;208morange\033[0m \033[48;2;10;20;30mrgb-bg\033[0m\n'`,
    ),
  );
  await s.exited;
  const [l1, l2] = s.snapshot().lines;
  assert.equal(plainText(l1), 'bold red dim ital und inv');
  assert.equal(plainText(l2), 'bright orange rgb-bg');
  assert.ok(l1.includes('\x1b[1;31mbold red'), l1);
  assert.ok(
    l1.includes('\x1b[2mdim') && l1.includes('\x1b[3mital') && l1.includes('\x1b[4mund') && l1.includes('\x1b[7minv'),
    l1,
  );
  assert.ok(
    l2.includes('\x1b[92mbright') && l2.includes('\x1b[38;5;208morange') && l2.includes('\x1b[48;2;10;20;30mrgb-bg'),
    l2,
  );
  // Nothing but SGR: no cursor positioning, erase or mode sequences.
  for (const line of s.snapshot().lines) assert.doesNotMatch(line, /\x1b\[[0-9;?]*[A-Za-ln-z]/);
  assert.deepEqual(await s.exited, { status: 0, exitCode: 0, signal: null });
});

test('a program drawing with cursor moves renders as a terminal would, with the cursor position', async () => {
  const script = join(work, 'draw.mjs');
  writeFileSync(
    script,
    [
      "process.stdout.write('\\x1b[2J\\x1b[H');",
      "process.stdout.write('\\x1b[3;5Hmiddle');",
      "process.stdout.write('\\x1b[1;1Htop-left');",
      "process.stdout.write('\\x1b[5;10Hdone');",
      "process.stdin.once('data', () => process.exit(0));",
    ].join('\n'),
  );
  const s = start({ file: process.execPath, args: [script] }, 30, 6);
  await waitForScreen(s, 'done');
  const snap = s.snapshot();
  assert.equal(plainText(snap.lines[0]), 'top-left');
  assert.equal(plainText(snap.lines[2]), '    middle');
  assert.equal(plainText(snap.lines[4]), '         done');
  assert.deepEqual(snap.cursor, { x: 13, y: 4, visible: true });
  // paintCursor shows the cursor as an inverse cell.
  assert.ok(s.snapshot({ paintCursor: true }).lines[4].endsWith('\x1b[0m\x1b[7m \x1b[0m'));
  s.write('\r'); // the terminal is in line mode: the script reads a line
  assert.equal((await s.exited).status, 0);
});

test('a full-screen program (vi) uses the alternate screen; quitting it restores the shell screen', async () => {
  const file = join(work, 'notes.txt');
  writeFileSync(file, 'first line of the file\nsecond line\n');
  const s = start(sh(`echo before-vi; vi -u NONE -N -i NONE -n ${file}; echo after-vi`), 60, 10);
  await waitForScreen(s, 'second line');
  assert.equal(s.snapshot().buffer, 'alternate');
  assert.match(text(s), /^first line of the file\nsecond line\n~/);
  s.write(':q!\r');
  await waitForScreen(s, 'after-vi');
  await s.exited;
  assert.equal(s.snapshot().buffer, 'normal');
  assert.match(text(s), /before-vi/);
  assert.doesNotMatch(text(s), /first line of the file/);
});

test('input reaches an interactive reader', async () => {
  const s = start(sh('printf "name? "; read name; echo "hello, $name"; read again; echo "again: $again"'));
  await waitForScreen(s, 'name?');
  s.write('enclave\r');
  await waitForScreen(s, 'hello, enclave');
  s.write('x y z\r');
  await waitForScreen(s, 'again: x y z');
  assert.equal((await s.exited).status, 0);
});

test('resize reaches the program (stty size) and the emulator', async () => {
  const s = start(sh('stty size; read x; stty size; read y'), 40, 8);
  await waitForScreen(s, '8 40');
  s.resize({ cols: 52, rows: 11 });
  assert.deepEqual(s.size, { cols: 52, rows: 11 });
  assert.equal(s.snapshot().lines.length, 11);
  s.write('\r');
  await waitForScreen(s, '11 52');
  s.write('\r');
  await s.exited;
});

test('scrollback keeps the configured number of lines and can be viewed by offset', async () => {
  const s = start(sh('seq 1 200'), 20, 5, 50);
  await s.exited;
  const live = s.snapshot();
  assert.equal(live.scrollback, 50);
  // Output ends with "200\n", so the last line of the screen is empty.
  assert.deepEqual(live.lines.map(plainText), ['197', '198', '199', '200', '']);
  assert.equal(live.cursor.visible, false); // ended: no cursor
  const back = s.snapshot({ offset: 10 });
  assert.equal(back.offset, 10);
  assert.deepEqual(back.lines.map(plainText), ['187', '188', '189', '190', '191']);
  // Offsets beyond the history clamp to its top.
  const top = s.snapshot({ offset: 1000 });
  assert.equal(top.offset, 50);
  assert.equal(plainText(top.lines[0]), '147');
});

test('exit codes and signals: status is the code, or 128 + signal', async () => {
  const s = start(sh('exit 42'));
  assert.deepEqual(await s.exited, { status: 42, exitCode: 42, signal: null });
  const k = start({ file: 'sleep', args: ['30'] });
  k.kill('SIGTERM');
  const e = await k.exited;
  assert.equal(e.signal, 15);
  assert.equal(e.status, 143);
  assert.equal(k.running, false);
  // Writing to an ended program is ignored rather than throwing.
  k.write('ignored');
});

test('change notifications are throttled but the final screen is always delivered', async () => {
  const s = PtySession.spawn(sh('i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo LAST'), {
    cols: 30,
    rows: 5,
    throttleMs: 50,
  });
  sessions.push(s);
  let notes = 0;
  let chunks = 0;
  let seenLast = false;
  s.onData(() => chunks++);
  s.onChange(() => {
    notes++;
    if (text(s).includes('LAST')) seenLast = true;
  });
  await s.exited;
  assert.ok(seenLast, 'a notification carried the final screen');
  assert.ok(notes >= 1);
  assert.ok(chunks >= 1);
});

test('the end of a large output survives a busy event loop after the exit', async () => {
  // 48 KB then LAST: the kernel still holds the end when the program exits, and a loop busy for
  // 30 ms each turn reads it 4 KB a turn. libuv then takes the hang-up for the end of the output;
  // where a process left behind holds the terminal, node-pty closes it 200 ms after the exit.
  const busy = setInterval(() => {
    const until = Date.now() + 30;
    while (Date.now() < until);
  }, 1);
  try {
    for (const script of ['seq 1 10000; echo LAST', '(sleep 3) & seq 1 10000; echo LAST']) {
      const s = start(sh(script), 30, 5);
      let received = '';
      s.onData((d) => (received += d));
      await s.exited;
      assert.match(received, /9999\r\n10000\r\nLAST\r\n$/, script);
      assert.match(text(s), /10000\nLAST/, script);
    }
  } finally {
    clearInterval(busy);
  }
});

test('a program that cannot start is refused with a clear message', () => {
  assert.throws(
    () => PtySession.spawn({ file: 'no-such-program-xyz', args: [] }, { cols: 20, rows: 5 }),
    /cannot start no-such-program-xyz: not found on PATH/,
  );
  assert.throws(
    () => PtySession.spawn({ file: join(work, 'missing'), args: [] }, { cols: 20, rows: 5 }),
    /no such file/,
  );
  const notExec = join(work, 'plain.txt');
  writeFileSync(notExec, 'data');
  assert.throws(() => PtySession.spawn({ file: notExec, args: [] }, { cols: 20, rows: 5 }), /not an executable file/);
  assert.throws(
    () => PtySession.spawn({ file: 'sh', args: [], cwd: join(work, 'nope') }, { cols: 20, rows: 5 }),
    /working directory .* does not exist/,
  );
});

test('the program sees the environment it was given, with TERM set', async () => {
  const s = start({
    file: '/bin/sh',
    args: ['-c', 'echo "T=$TERM V=$STUDIO_V"'],
    env: { PATH: '/usr/bin:/bin', STUDIO_V: 'v1' },
  });
  await s.exited;
  assert.match(text(s), /T=xterm-256color V=v1/);
});

test('wide characters take two cells and come back once', async () => {
  const s = start(sh(String.raw`printf '\344\275\240\345\245\275|ok\n'`), 20, 3);
  await s.exited;
  assert.equal(plainText(s.snapshot().lines[0]), '你好|ok');
});
