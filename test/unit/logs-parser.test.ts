// Line shapes from the spec that the sample file does not hold, streaming (chunk splits at
// every byte offset), and robustness against garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_SAMPLES, OWN_LOG } from '../helpers/paths.ts';
import { LogParser, parseLog, MAX_LINE } from '../../src/core/logs/parser.ts';
import type { LogRecord } from '../../src/core/logs/index.ts';
import { formatRecord } from '../../src/core/logs/format.ts';
import { jsonForTerminal } from '../../src/core/text/sanitize.ts';

const one = (line: string): LogRecord => {
  const r = parseLog(line);
  assert.equal(r.length, 1, `expected one record for ${JSON.stringify(line)}, got ${r.length}`);
  return r[0] as LogRecord;
};

test('real ESC colour codes and CRLF are stripped; colour is flagged', () => {
  const r = one(
    '\x1b[31m[2025-12-26T01:24:09.456Z][ERROR][T1][#3][····Open][syscall] Error = ENOENT (#2, No such file or directory): EntryNotFound\x1b[0m\r\n',
  );
  assert.equal(r.colored, true);
  assert.deepEqual(
    [r.kind, r.level, r.syscall, r.module, r.errno?.name],
    ['libos', 'error', 'Open', 'syscall', 'ENOENT'],
  );
  assert.ok(!r.text.includes('\x1b') && !r.text.includes('\r'));
  assert.equal(one('plain line').colored, false);
});

test('names longer than 8 are unpadded; module-era boot line on T0 has [module] but no syscall', () => {
  const a = one(
    '[2022-07-12T09:17:01.077Z][TRACE][T3][#144][Nanosleep] Syscall { num = Nanosleep, req_u = 0x7fec554b3960, rem_u = 0x0 }',
  );
  assert.deepEqual([a.syscall, a.thread, a.round], ['Nanosleep', 3, 144]);
  const b = one('[2025-01-01T00:00:00.000Z][ INFO][T0][#0][entry] Process created: elf = /bin/app, pid = 1');
  assert.deepEqual([b.syscall, b.module, b.level], [undefined, 'entry', 'info']);
  const c = one('[2025-01-01T00:00:00.000Z][ WARN][T2][#9][ClockGettime][vm] New brk address is too high');
  assert.deepEqual([c.syscall, c.module, c.level], ['ClockGettime', 'vm', 'warn']);
  // Old docs padded with '_'.
  assert.equal(
    one('[2020-01-01T00:00:00.000Z][ERROR][T1][#5][____Mmap] Error = ENOMEM (#12, Out of memory): not enough memory')
      .syscall,
    'Mmap',
  );
});

test('a LibOS error line followed by Caused by lines is one record with causes', () => {
  const r = parseLog(
    '[2025-01-01T00:00:00.000Z][ERROR][T1][#7][···Write][syscall] Error = EIO (#5, I/O error): write failed [line = 10, file = src/fs/a.rs]\n' +
      '    Caused by ENOMEM (#12, Out of memory): SGX protected file I/O error [line = 20, file = src/fs/b.rs]\n' +
      '[2025-01-01T00:00:00.001Z][TRACE][T1][#7][···Write][syscall] Retval = 0xfffffffffffffffb\n',
  );
  assert.equal(r.length, 2);
  assert.equal(r[0]?.causes?.length, 1);
  assert.deepEqual(r[0]?.causes?.[0]?.errno?.name, 'ENOMEM');
  assert.deepEqual(r[0]?.causes?.[0]?.location, { file: 'src/fs/b.rs', line: 20 });
  assert.equal(r[1]?.message, 'Retval = 0xfffffffffffffffb');
});

test('PAL lines: SGX status codes, WARN, occlum-run', () => {
  const a = one(
    '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 367) with error code 0x1009: Unknown SGX error (line 21, file src/ocalls/spawn.c)',
  );
  assert.deepEqual(a.sgx, { code: 0x1009, text: 'Unknown SGX error' });
  assert.deepEqual(a.location, { file: 'src/ocalls/spawn.c', line: 21 });
  assert.equal(a.errno, undefined);
  const b = one(
    '[ERROR] occlum-pal: Failed to create enclave with error code 0x2009: Invalid enclave metadata. (line 80, file src/pal_enclave.c)',
  );
  assert.deepEqual(b.sgx, { code: 0x2009, text: 'Invalid enclave metadata.' });
  const c = one('[WARN] occlum-pal: Invalid CONFIG SVN value');
  assert.deepEqual([c.kind, c.level, c.location], ['pal', 'warn', undefined]);
  const d = one('[ERROR] occlum-run: at least one argument must be provided');
  assert.deepEqual([d.kind, d.component], ['pal', 'occlum-run']);
});

test('panics: old and new Rust formats, with the backtrace folded in', () => {
  const r = parseLog(
    "thread '<unnamed>' panicked at 'called `Option::unwrap()` on a `None` value', src/fs/x.rs:12:5\n" +
      'stack backtrace:\n' +
      '   0: occlum_libos_core_rs::foo\n' +
      '             at src/fs/x.rs:12:5\n' +
      '   1: rust_begin_unwind\n' +
      'note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n' +
      '/opt/occlum/build/bin/occlum: line 315:  8025 Illegal instruction     (core dumped) RUST_BACKTRACE=1 "$instance_dir/build/bin/occlum-run" "$@"\n',
  );
  assert.equal(r.length, 2);
  assert.deepEqual(
    [r[0]?.kind, r[0]?.message, r[0]?.location],
    ['panic', 'called `Option::unwrap()` on a `None` value', { file: 'src/fs/x.rs', line: 12, column: 5 }],
  );
  assert.deepEqual(r[0]?.backtrace, [
    '0: occlum_libos_core_rs::foo',
    'at src/fs/x.rs:12:5',
    '1: rust_begin_unwind',
    'note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.',
  ]);
  assert.equal(r[1]?.kind, 'crash');
  assert.deepEqual(r[1]?.exit, { pid: 8025, signal: 4, signalName: 'SIGILL', status: 132, coreDumped: true });
  assert.deepEqual(r[1]?.location, { file: '/opt/occlum/build/bin/occlum', line: 315 });

  const n = parseLog("thread '<unnamed>' panicked at src/config.rs:24:17:\nexplicit panic\n");
  assert.equal(n.length, 1);
  assert.deepEqual([n[0]?.kind, n[0]?.message, n[0]?.location?.line], ['panic', 'explicit panic', 24]);
  const m = one('memory allocation of 8388608 bytes failed');
  assert.deepEqual([m.kind, m.level], ['panic', 'error']);
});

test('crash line with Segmentation fault', () => {
  const r = one(
    '/opt/occlum/build/bin/occlum: line 315:  8025 Segmentation fault      (core dumped) RUST_BACKTRACE=1 "$instance_dir/build/bin/occlum-run" "$@"',
  );
  assert.deepEqual([r.kind, r.exit?.signal, r.exit?.status, r.exit?.signalName], ['crash', 11, 139, 'SIGSEGV']);
  // Not a signal bash knows: stays raw.
  assert.equal(one('foo: line 3: 12 Something else').kind, 'raw');
});

test('exec client statuses and other eprintln messages', () => {
  assert.deepEqual(one('Error: 256').exit, { status: 1 });
  assert.deepEqual(one('Error: 9').exit, { signal: 9 });
  assert.deepEqual(one('Error: -1').exit, { status: -1 });
  assert.equal(one('Error: 256').kind, 'exec-status');
  const a = one('Error: the server of current Occlum instance has not been started.');
  assert.deepEqual([a.kind, a.level], ['eprintln', 'error']);
  const b = one(
    'failed to execute a process: EACCES (#13, Permission denied): program path is NOT a valid entry point [line = 354, file = src/entry.rs]',
  );
  assert.deepEqual([b.kind, b.errno?.name, b.location?.line], ['eprintln', 'EACCES', 354]);
  const w = parseLog(
    'Warnning: Occlum Log is enabled for release enclave!\nUses can disable Occlum Log by setting metadata.disable_log=true in Occlum.json and rebuild Occlum instance.\n',
  );
  assert.deepEqual(
    w.map((x) => [x.kind, x.level]),
    [
      ['eprintln', 'warn'],
      ['eprintln', 'warn'],
    ],
  );
  assert.equal(one('invalid log level: x').kind, 'eprintln');
});

test('env_logger lines of other tools and the pre-0.5 format', () => {
  const a = one('[2021-03-01T10:00:00Z DEBUG occlum_exec_client] connecting to socket');
  assert.deepEqual(
    [a.kind, a.level, a.module, a.message],
    ['env-logger', 'debug', 'occlum_exec_client', 'connecting to socket'],
  );
});

test('program stderr that merely looks bracketed stays raw', () => {
  for (const l of ['[INFO] server: started', '[1/3] compiling', '[2025] year', '[T1] tag', 'Caused by nothing']) {
    const r = one(l);
    assert.deepEqual([r.kind, r.level, r.message], ['raw', null, l], l);
  }
});

test('an orphan "Caused by" line (no record before it) is a raw record, not dropped', () => {
  const r = parseLog('    Caused by ENOENT (#2, No such file or directory): x\n');
  assert.equal(r.length, 1);
});

// The grammar invariants below hold for any Occlum output: the real samples of the corpus, or
// our own cases where the corpus is absent.
const CORPUS_SAMPLE = join(LOG_SAMPLES, 'occlum-log-samples.txt');
const SAMPLE = readFileSync(existsSync(CORPUS_SAMPLE) ? CORPUS_SAMPLE : OWN_LOG);
const MIN_RECORDS = existsSync(CORPUS_SAMPLE) ? 50 : 10;
// The samples with real ESC bytes, CRLF line ends and some multi-line records, as Occlum writes them.
const LIVE = Buffer.concat([
  Buffer.from(SAMPLE.toString('utf8').replace(/\^\[/g, '\x1b').replace(/\^M/g, '\r')),
  Buffer.from(
    '\x1b[33m[2025-01-01T00:00:00.000Z][ WARN][T2][#9][·····Brk][vm] New brk address is too high\x1b[0m\r\n' +
      "thread '<unnamed>' panicked at src/config.rs:24:17:\nexplicit panic\nstack backtrace:\n   0: x\n" +
      'tail without newline ····',
  ),
]);

function parseInChunks(buf: Buffer, cuts: number[]): LogRecord[] {
  const p = new LogParser();
  const out: LogRecord[] = [];
  let from = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(...p.feed(buf.subarray(from, c)));
    from = c;
  }
  out.push(...p.end());
  return out;
}

test('splitting the stream at every byte offset gives the same records', () => {
  const whole = parseInChunks(LIVE, []);
  assert.ok(whole.length > MIN_RECORDS, `${whole.length} records`);
  assert.equal(whole.at(-1)?.message, 'tail without newline ····');
  for (let i = 1; i < LIVE.length; i++) {
    assert.deepEqual(parseInChunks(LIVE, [i]), whole, `split at byte ${i}`);
  }
  // Three-way splits at a stride, and one byte at a time.
  for (let i = 1; i < LIVE.length; i += 97) {
    for (let j = i + 1; j < LIVE.length; j += 389)
      assert.deepEqual(parseInChunks(LIVE, [i, j]), whole, `split at ${i},${j}`);
  }
  const bytes = Array.from({ length: LIVE.length - 1 }, (_, k) => k + 1);
  assert.deepEqual(parseInChunks(LIVE, bytes), whole);
  // String chunks too (split on UTF-16 units).
  const text = LIVE.toString('utf8');
  const p = new LogParser();
  const out: LogRecord[] = [];
  for (let i = 0; i < text.length; i += 7) out.push(...p.feed(text.slice(i, i + 7)));
  out.push(...p.end());
  assert.deepEqual(out, whole);
});

test('flush() finalises a held multi-line record; hasPending tells when one is held', () => {
  const p = new LogParser();
  assert.deepEqual(
    p.feed('failed to boot up LibOS: ENOENT (#2, No such file or directory): x [line = 1, file = a.rs]\n'),
    [],
  );
  assert.equal(p.hasPending, true);
  const r = p.flush();
  assert.equal(r.length, 1);
  assert.equal(p.hasPending, false);
  // A trace line is final at once: no latency for ordinary lines.
  assert.equal(p.feed('[2021-04-19T10:02:40.450Z][TRACE][T1][#1][·····Brk] Retval = 1\n').length, 1);
});

test('garbage never throws and every record is well formed', () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pieces = SAMPLE.toString('utf8').split(/(?=[[\]\n(#:·])/);
  for (let round = 0; round < 300; round++) {
    const p = new LogParser();
    const out: LogRecord[] = [];
    for (let k = 0; k < 40; k++) {
      const kind = rnd();
      let chunk: Buffer;
      if (kind < 0.4)
        chunk = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      else if (kind < 0.8)
        chunk = Buffer.from(Array.from({ length: 6 }, () => pieces[Math.floor(rnd() * pieces.length)]).join(''));
      else
        chunk = Buffer.from(
          [
            '\x1b[',
            '\r',
            '\n',
            '    Caused by ',
            'stack backtrace:\n',
            "thread 'x' panicked at a:1:2:\n",
            '[ERROR] occlum-pal: ',
            '^[[0m',
          ][Math.floor(rnd() * 8)] as string,
        );
      out.push(...p.feed(chunk));
    }
    out.push(...p.end());
    for (const r of out) {
      assert.equal(typeof r.kind, 'string');
      assert.equal(typeof r.text, 'string');
      assert.ok(r.lineNo >= 1);
    }
  }
});

test('a stream without newlines stays bounded (cut into MAX_LINE pieces)', () => {
  const p = new LogParser();
  const out: LogRecord[] = [];
  const chunk = 'x'.repeat(10_000);
  for (let i = 0; i < 100; i++) out.push(...p.feed(chunk));
  out.push(...p.end());
  assert.equal(
    out.reduce((n, r) => n + r.text.length, 0),
    1_000_000,
  );
  assert.ok(out.every((r) => r.text.length <= MAX_LINE));
});

test('panics whose message spans lines stay one record, location from the closing line', () => {
  const r = parseLog(
    "thread '<unnamed>' panicked at 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`', src/vm/x.rs:10:5\n" +
      'note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n' +
      "thread '<unnamed>' panicked at src/vm/y.rs:3:9:\nassertion `left == right` failed\n  left: 1\n right: 2\n" +
      '[ERROR] occlum-pal: after (line 1, file src/a.c)\n',
  );
  assert.deepEqual(
    r.map((x) => x.kind),
    ['panic', 'panic', 'pal'],
  );
  assert.equal(r[0]?.message, 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`');
  assert.deepEqual(r[0]?.location, { file: 'src/vm/x.rs', line: 10, column: 5 });
  assert.equal(r[1]?.message, 'assertion `left == right` failed');
  assert.equal(r[1]?.text.split('\n').length, 4);
});

test('an unclosed panic quote does not swallow the records after it', () => {
  const r = parseLog(
    "thread 'x' panicked at 'no closing quote\nmore text\n[ERROR] occlum-pal: next (line 1, file src/a.c)\n",
  );
  assert.deepEqual(
    r.map((x) => x.kind),
    ['panic', 'pal'],
  );
  assert.equal(r[0]?.message, 'no closing quote\nmore text');
});

test('tolerated variants: panic without a thread name, a bare shell crash report', () => {
  const p = one("thread panicked at 'oops', src/a.rs:1:2");
  assert.deepEqual([p.kind, p.message, p.location?.line], ['panic', 'oops', 1]);
  const c = one('Segmentation fault (core dumped)');
  assert.deepEqual([c.kind, c.exit?.signal, c.exit?.status, c.exit?.coreDumped], ['crash', 11, 139, true]);
  assert.equal(one('Killed').kind, 'crash');
  assert.equal(one('Terminated').exit?.status, 143);
  assert.equal(one('Killed the process myself').kind, 'raw');
});

test('LibOS timestamps with an offset instead of Z, and without a round, still parse', () => {
  const a = one(
    '[2020-06-09T08:53:20.347+08:00][ WARN][T3][#9][··Socket] Error = EAFNOSUPPORT (#97, Unknown error): ["domain not support"] [line = 11, file = src/net/syscalls.rs]',
  );
  assert.deepEqual(
    [a.kind, a.time, a.syscall, a.errno?.number, a.location?.line, a.message],
    [
      'libos',
      '2020-06-09T08:53:20.347+08:00',
      'Socket',
      97,
      11,
      'Error = EAFNOSUPPORT (#97, Unknown error): ["domain not support"]',
    ],
  );
  const b = one('[ERROR][T2][··Ioctl] Error = ENOTTY (#25, Not a typewriter): x');
  assert.deepEqual([b.kind, b.thread, b.round, b.syscall, b.time], ['libos', 2, undefined, 'Ioctl', undefined]);
});

test('trailing blanks after the [line = …] bracket do not hide the location', () => {
  const r = one(
    '[2022-03-04T05:06:07.089Z][ERROR][T7][#12][··Statfs] Error = ENOSYS (#38, Function not implemented): no such call [line = 77, file = src/syscall/mod.rs]      \t  ',
  );
  assert.deepEqual(r.location, { file: 'src/syscall/mod.rs', line: 77 });
  assert.equal(r.message, 'Error = ENOSYS (#38, Function not implemented): no such call');
  assert.ok(!r.text.endsWith(' '));
});

test('a CI runner time stamp before a record (pasted job log) is removed; a program time stamp stays', () => {
  const r = one('2020-11-02T03:04:05.1234567Z [0m[2020-11-02T03:04:05.100Z][DEBUG][T4][#9][···Accept] waiting[0m');
  assert.deepEqual(
    [r.kind, r.level, r.time, r.thread, r.syscall, r.message, r.colored],
    ['libos', 'debug', '2020-11-02T03:04:05.100Z', 4, 'Accept', 'waiting', true],
  );
  const g = one('2020-11-02T03:04:05.1234567Z \x1b[32m[2020-11-02T03:04:05.100Z][ INFO][T4][#9] ready\x1b[0m');
  assert.deepEqual([g.kind, g.level, g.message], ['libos', 'info', 'ready']);
  const p = one('2020-11-02T03:04:05Z server listening');
  assert.deepEqual([p.kind, p.text], ['raw', '2020-11-02T03:04:05Z server listening']);
});

test('early LibOS formats: [LEVEL][pid] (0.5–0.8) and a coloured [LEVEL] (0.9–0.10)', () => {
  const a = one('\x1b[34m[ INFO][3] spawned child, pid = 4\x1b[0m');
  assert.deepEqual([a.kind, a.level, a.thread, a.message], ['libos', 'info', 3, 'spawned child, pid = 4']);
  const b = one('[TRACE][12] brk: 0x0');
  assert.deepEqual([b.kind, b.level, b.thread], ['libos', 'trace', 12]);
  const c = one(
    '\x1b[31m[ERROR] Error = EBADF (#9, Bad file number): fd not open [line = 3, file = src/fs/x.rs]\x1b[0m',
  );
  assert.deepEqual([c.kind, c.level, c.errno?.name, c.location?.line], ['libos', 'error', 'EBADF', 3]);
  const d = one('\x1b[33m[ WARN] slow path\x1b[0m');
  assert.deepEqual([d.kind, d.level, d.message], ['libos', 'warn', 'slow path']);
  // Uncoloured, the same shape is a program's own output.
  assert.deepEqual([one('[ERROR] bad input').kind, one('[ WARN] disk low').kind], ['raw', 'raw']);
  // The LibOS always padded the level to 5: an unpadded one is a program's, coloured or not.
  assert.deepEqual([one('[INFO][2] worker up').kind, one('\x1b[32m[INFO] ready\x1b[0m').kind], ['raw', 'raw']);
});

test("the PAL's old [WARM] level; a PAL message whose prefix was cut off or reworded", () => {
  const w = one('[WARM] occlum-pal: cannot read the token file (line 12, file src/pal_enclave.c)');
  assert.deepEqual([w.kind, w.level, w.component, w.location?.line], ['pal', 'warn', 'occlum-pal', 12]);
  const bare = one(
    'Failed to create enclave with error code 0x2004: Invalid signature (line 99, file src/pal_enclave.c)',
  );
  assert.deepEqual(
    [bare.kind, bare.level, bare.component, bare.sgx?.code, bare.location],
    ['pal', 'error', undefined, 0x2004, { file: 'src/pal_enclave.c', line: 99 }],
  );
  const reworded = one('error: occlum-pal: occlum_ecall_new_process returns EPERM (line 5, file src/pal_api.c)');
  assert.deepEqual(
    [reworded.kind, reworded.component, reworded.errno?.name, reworded.message],
    ['pal', 'occlum-pal', 'EPERM', 'occlum_ecall_new_process returns EPERM'],
  );
  // A program's own "(line N, file F)" without a C source stays raw.
  assert.equal(one('parse failed (line 3, file config.toml)').kind, 'raw');
});

test('failed to broadcast interrupts is a LibOS eprintln message', () => {
  const r = one('failed to broadcast interrupts: EAGAIN (#11, Try again): busy');
  assert.deepEqual([r.kind, r.level, r.errno?.name], ['eprintln', 'error', 'EAGAIN']);
});

test('a PAL line written into a panic header: both records come out', () => {
  const r = parseLog(
    "thread '[ERROR] occlum-pal: Failed to do ECall: occlum_ecall_x with error code 0x2002: Invalid enclave identification. (line 30, file src/pal_x.c)\n" +
      "worker' panicked at 'setup failed: -1', src/bin/server.rs:10:5\n",
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.component, x.sgx?.code, x.message, x.location?.line]),
    [
      [
        'pal',
        'error',
        'occlum-pal',
        0x2002,
        'Failed to do ECall: occlum_ecall_x with error code 0x2002: Invalid enclave identification.',
        30,
      ],
      ['panic', 'error', undefined, undefined, 'setup failed: -1', 10],
    ],
  );
});

test('--json and the CLI print hostile record text inert (C1 CSI, bidi, zero-width escaped as \\u)', () => {
  const json = jsonForTerminal(JSON.stringify({ t: 'a\u009b2Jb\u202ec\u200bd\u2028e\x7f' }));
  assert.equal(json, '{"t":"a\\u009b2Jb\\u202ec\\u200bd\\u2028e\\u007f"}');
  assert.deepEqual(JSON.parse(json), { t: 'a\u009b2Jb\u202ec\u200bd\u2028e\x7f' });
});

test("occlum_exec_client's start failure (both spellings) is an error, not program output", () => {
  for (const l of ['start_server failed cannot open the socket', 'start server failed cannot open the socket']) {
    const r = one(l);
    assert.deepEqual([r.kind, r.level, r.component], ['eprintln', 'error', 'occlum_exec_client'], l);
  }
  assert.equal(one('starting server failed? no').kind, 'raw');
});

test('a timed LibOS line without a thread (logged outside any thread) is a LibOS record', () => {
  const r = one('[2022-02-02T02:02:02.202Z][ INFO] Process created: elf = /bin/srv, pid = 7');
  assert.deepEqual(
    [r.kind, r.level, r.time, r.thread, r.message],
    ['libos', 'info', '2022-02-02T02:02:02.202Z', undefined, 'Process created: elf = /bin/srv, pid = 7'],
  );
  const e = one('[2022-02-02T02:02:02.202Z][ERROR] spawn: ENOENT (#2, No such file or directory): no file');
  assert.deepEqual([e.level, e.errno?.name], ['error', 'ENOENT']);
});

test("an env_logger record's indented continuation lines fold into it", () => {
  const r = parseLog(
    '[2022-05-05T05:05:05Z DEBUG copy_bom::util] output of the loader for bin/tool:\n' +
      '    \tlibm.so.6 => /opt/occlum/glibc/lib/libm.so.6 (0x00007f0000000000)\n' +
      '\tlibc.so.6 => /opt/occlum/glibc/lib/libc.so.6 (0x00007f0000100000)\n' +
      '[2022-05-05T05:05:05Z INFO  copy_bom::util] mkdir -p image/lib\n' +
      'program line\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.text.split('\n').length]),
    [
      ['env-logger', 3],
      ['env-logger', 1],
      ['raw', 1],
    ],
  );
  assert.equal(r[0]?.message, 'output of the loader for bin/tool:');
});

test('every CSI form (colon SGR, private and > parameters) and DCS/APC strings are removed whole', () => {
  const r = one(
    '\x1b[38:5:208m\x1b[?25l[2023-01-02T03:04:05.006Z][ WARN][T3][#7][···Fstat] slow\x1bP1$r0m\x1b\\ path\x1b[>4;2m\x1b_x\x1b\\\x1b[0m',
  );
  assert.deepEqual([r.kind, r.level, r.message, r.colored], ['libos', 'warn', 'slow path', true]);
  assert.equal(one('^[[38:5:1m[2023-01-02T03:04:05.006Z][ INFO][T3][#7] ok^[[0m').message, 'ok');
});

test("Occlum NGO's vCPU bracket; a record whose first '[' was lost in a copy", () => {
  const r = one('[2022-03-03T03:03:03.303Z][TRACE][C:2][T17][#4][···Futex] ret = 0x0');
  assert.deepEqual(
    [r.kind, r.level, r.thread, r.round, r.syscall, r.message],
    ['libos', 'trace', 17, 4, 'Futex', 'ret = 0x0'],
  );
  const e = one(
    '[2022-03-03T03:03:03.303Z][ERROR][C:0][T17][#5] Error = ENOSYS (#38, Function not implemented): bad call',
  );
  assert.deepEqual([e.thread, e.syscall, e.errno?.name], [17, undefined, 'ENOSYS']);
  const lost = one('2022-03-03T03:03:03.303Z][DEBUG][T9][#1][···Close] close: fd: 4');
  assert.deepEqual([lost.kind, lost.level, lost.time, lost.thread], ['libos', 'debug', '2022-03-03T03:03:03.303Z', 9]);
  assert.equal(one('2022-03-03T03:03:03.303Z] done').kind, 'raw');
});

test('two threads panicking at once: the second panic keeps its frames though the first took the header', () => {
  const r = parseLog(
    "thread '<unnamed>' panicked at 'lock poisoned', src/sync/a.rs:5:9\n" +
      'stack backtrace:\n' +
      "thread '<unnamed>' panicked at 'lock poisoned', src/sync/a.rs:5:9\n" +
      '   0: rust_begin_unwind\n' +
      '             at /sdk/sgx_tstd/src/panicking.rs:1\n' +
      '   1: occlum_libos_core_rs::sync::a::lock\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.backtrace]),
    [
      ['panic', []],
      [
        'panic',
        ['0: rust_begin_unwind', 'at /sdk/sgx_tstd/src/panicking.rs:1', '1: occlum_libos_core_rs::sync::a::lock'],
      ],
    ],
  );
});

test("a panic message ending in a newline (the LibOS's allocation-failure hook) has no trailing newline", () => {
  const r = parseLog("thread '<unnamed>' panicked at 'memory allocation of 64 bytes failed\n', src/entry.rs:9:5\n");
  assert.deepEqual(
    r.map((x) => [x.kind, x.message, x.location?.line]),
    [['panic', 'memory allocation of 64 bytes failed', 9]],
  );
});

test('a panic header whose first letters a copy lost (hread …) is still the panic', () => {
  const r = parseLog(
    "hread '<unnamed>' panicked at 'explicit panic', src/config.rs:24:17\n" +
      "ad 'main' panicked at src/entry.rs:3:9:\noops\n",
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.message, x.location?.file, x.location?.line]),
    [
      ['panic', 'error', 'explicit panic', 'src/config.rs', 24],
      ['panic', 'error', 'oops', 'src/entry.rs', 3],
    ],
  );
  // Words that merely end like "thread" are a program's lines.
  assert.equal(one("bread 'x' panicked at the bakery").kind, 'raw');
});

test('a colour code cut in two by a wrapped copy leaves nothing on either line', () => {
  const r = parseLog(
    '^[[0m[2023-09-05T14:38:10.890Z][DEBUG][T2][#72][····Mmap] mmap: fd: 3, offset: 151552^[[00\n' +
      'm^M\n' +
      '\x1b[31m[2023-09-05T14:38:10.891Z][ERROR][T2][#73][····Mmap] x\x1b[0\n' +
      'm[ERROR] occlum-pal: y (line 1, file src/a.c)\n' +
      'mmap is a program line\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.message, x.colored]),
    [
      ['libos', 'debug', 'mmap: fd: 3, offset: 151552', true],
      ['libos', 'error', 'x', true],
      ['pal', 'error', 'y', true],
      ['raw', null, 'mmap is a program line', false],
    ],
  );
});

test('sgx_urts traces ([function file:line] msg) are host-side errors; a message after a newline joins its header', () => {
  const r = parseLog(
    '[get_driver_type /opt/sgx/psw/urts/linux/edmm_utility.cpp:116] Failed to open Intel SGX device.\n' +
      '[enclave_initialize sgx_enclave_common.cpp:1181] \n' +
      'SGX_IOC_ENCLAVE_INIT failed error = -1, errno = 1\n' +
      '[enclave_create_ex sgx_enclave_common.cpp:589] \n' +
      '[ERROR] occlum-pal: Failed to create enclave with error code 0x1: Unexpected error occurred. (line 152, file src/pal_enclave.c)\n' +
      '[ INFO ] Loading network files\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.component, x.message, x.location?.file, x.location?.line]),
    [
      ['pal', 'error', 'sgx-psw', 'Failed to open Intel SGX device.', '/opt/sgx/psw/urts/linux/edmm_utility.cpp', 116],
      ['pal', 'error', 'sgx-psw', 'SGX_IOC_ENCLAVE_INIT failed error = -1, errno = 1', 'sgx_enclave_common.cpp', 1181],
      ['pal', 'error', 'sgx-psw', '', 'sgx_enclave_common.cpp', 589],
      [
        'pal',
        'error',
        'occlum-pal',
        'Failed to create enclave with error code 0x1: Unexpected error occurred.',
        'src/pal_enclave.c',
        152,
      ],
      ['raw', null, undefined, '[ INFO ] Loading network files', undefined, undefined],
    ],
  );
  assert.equal(formatRecord(r[1] as LogRecord, { color: false }).split('\n').length, 1);
});

test('PAL lines: a leading tab in the message, and a first [ lost in a copy', () => {
  for (const line of [
    '[ERROR] occlum-pal: \tSIGILL Caught ! (line 37, file src/pal_check_fsgsbase.c)',
    'ERROR] occlum-pal: \tSIGILL Caught ! (line 37, file src/pal_check_fsgsbase.c)',
  ]) {
    const r = one(line);
    assert.deepEqual(
      [r.kind, r.level, r.component, r.message],
      ['pal', 'error', 'occlum-pal', 'SIGILL Caught !'],
      line,
    );
  }
  const w = one('WARN] occlum-pal: no token file');
  assert.deepEqual([w.kind, w.level, w.message], ['pal', 'warn', 'no token file']);
  // A program's own "ERROR] …" is not the PAL's.
  assert.equal(one('ERROR] disk full').kind, 'raw');
});

test('a LibOS error quoted from its syscall bracket on is a LibOS record with that syscall', () => {
  const r = one(
    '[SetRobustList] Error = ENOSYS (#38, Function not implemented): Unimplemented or unknown syscall [line = 897, file = src/syscall/mod.rs]',
  );
  assert.deepEqual(
    [r.kind, r.level, r.syscall, r.errno?.name, r.location?.line, r.message],
    [
      'libos',
      'error',
      'SetRobustList',
      'ENOSYS',
      897,
      'Error = ENOSYS (#38, Function not implemented): Unimplemented or unknown syscall',
    ],
  );
  const m = one('[____Mmap] Error = ENOMEM (#12, Out of memory): not enough memory');
  assert.deepEqual([m.kind, m.syscall], ['libos', 'Mmap']);
  // A program's bracketed tag stays the program's.
  assert.equal(one('[Server] Error = none').kind, 'raw');
});

test("a LibOS line cut by a terminal's wrap in a copy (its reset on a later line) is joined back", () => {
  const r = parseLog(
    '^[[0m[2023-01-02T03:04:05.678Z][DEBUG][T2][#9][···Clone] clone: flags: CLONE_VM | CLO\n' +
      'NE_FS, stack_addr: 1^[[0m^M\n' +
      '\x1b[31m[2023-01-02T03:04:05.679Z][ERROR][T2][#10][····Mmap] Error = ENOMEM (#12, Out of memory): not enough memory [line = 12\n' +
      '4, file = src/vm/a.rs]\x1b[0m\n' +
      '\x1b[0m[2023-01-02T03:04:05.680Z][DEBUG][T1][#3][····Poll] poll: revents: Cell  \n' +
      '{ value: 1 }\n' +
      '} })\x1b[0m\n' +
      'program output after it\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.syscall, x.message, x.location?.line, x.errno?.name]),
    [
      ['libos', 'debug', 'Clone', 'clone: flags: CLONE_VM | CLONE_FS, stack_addr: 1', undefined, undefined],
      ['libos', 'error', 'Mmap', 'Error = ENOMEM (#12, Out of memory): not enough memory', 124, 'ENOMEM'],
      ['libos', 'debug', 'Poll', 'poll: revents: Cell { value: 1 }} })', undefined, undefined],
      ['raw', null, undefined, 'program output after it', undefined, undefined],
    ],
  );
  // A record after the cut line ends the wrap: nothing is joined into it.
  const s = parseLog(
    '\x1b[0m[2023-01-02T03:04:05.678Z][DEBUG][T2][#9][···Clone] clone: cut\n' +
      '[ERROR] occlum-pal: x (line 1, file src/a.c)\n',
  );
  assert.deepEqual(
    s.map((x) => [x.kind, x.message]),
    [
      ['libos', 'clone: cut'],
      ['pal', 'x'],
    ],
  );
});

test("the PAL's init process exit code says which signal killed the program (128 + n)", () => {
  const r = one('[ERROR] occlum-pal: The init process exit with code: 139 (line 62, file src/pal_api.c)');
  assert.deepEqual(r.exit, { status: 139, signal: 11, signalName: 'SIGSEGV' });
  assert.deepEqual(one('[ERROR] occlum-pal: The init process exit with code: 1 (line 59, file src/pal_api.c)').exit, {
    status: 1,
  });
});

test('a PAL message ending in a newline has its location on the next line: one record', () => {
  const r = parseLog(
    '[WARN] occlum-pal: Invalid launch token read from "/root/.occlum/token".\n' +
      ' (line 112, file src/pal_enclave.c)\n' +
      '[ERROR] occlum-pal: GS register data not match\n' +
      ' (line 50, file src/pal_check_fsgsbase.c)\n' +
      '[ERROR] occlum-pal: Failed to run the init process: EINVAL\n' +
      'next program line\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.level, x.message, x.location?.line]),
    [
      ['pal', 'warn', 'Invalid launch token read from "/root/.occlum/token".', 112],
      ['pal', 'error', 'GS register data not match', 50],
      ['pal', 'error', 'Failed to run the init process: EINVAL', undefined],
      ['raw', null, 'next program line', undefined],
    ],
  );
  assert.equal(formatRecord(r[0] as LogRecord, { color: false }).split('\n').length, 1);
});

test('a pasted caret-form line (^[[0m…^[[0m^M) saved with CRLF gives the same record as with LF', () => {
  const line = '^[[0m[2023-01-02T03:04:05.678Z][DEBUG][T1][#1][····Open] open: x^[[0m^M';
  const lf = parseLog(`${line}\n`);
  const crlf = parseLog(`${line}\r\n`);
  assert.deepEqual(crlf, lf);
  assert.equal(lf[0]?.message, 'open: x');
});

test("SEFS failing to open an image file on the host is Occlum's error, errno from the io::Error", () => {
  const r = one(
    'failed to open SGX protected file: /w/build/mount/__ROOT/metadata, error: Os { code: 11, kind: WouldBlock, message: "Resource temporarily unavailable" }',
  );
  assert.deepEqual([r.kind, r.level, r.errno?.name, r.errno?.number], ['eprintln', 'error', 'EAGAIN', 11]);
});

test('a coloured LibOS error display with Caused by lines (one write, one reset) keeps them as causes', () => {
  const r = parseLog(
    '\x1b[31m[2024-01-01T00:00:00.000Z][ERROR][T1][#3][··Execve][syscall] Error = ENOENT (#2, No such file or directory): cannot load ld.so [line = 192, file = src/process/do_spawn/mod.rs]\n' +
      '    Caused by ENOENT (#2, No such file or directory): cannot find the file\n' +
      '    Caused by EINVAL (#22, Invalid argument): x [line = 1, file = src/a.rs]\x1b[0m\n' +
      'program\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.message, x.causes?.length]),
    [
      ['libos', 'Error = ENOENT (#2, No such file or directory): cannot load ld.so', 2],
      ['raw', 'program', undefined],
    ],
  );
});

test("the DCAP quote library's trace and a Rust tool's panic before the PAL lines", () => {
  const r = parseLog(
    '[get_platform_quote_cert_data ../qe_logic.cpp:352] p_sgx_get_quote_config returned NULL for p_pck_cert_config.\n' +
      "thread 'main' panicked at 'IOCTRL IOCTL_GET_DCAP_QUOTE_SIZE failed', /opt/src/occlum/tools/toolchains/dcap_lib/src/occlum_dcap.rs:70:13\n" +
      'note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n' +
      '[ERROR] occlum-pal: The init process exit with code: 101 (line 62, file src/pal_api.c)\n',
  );
  assert.deepEqual(
    r.map((x) => [x.kind, x.component, x.location?.line]),
    [
      ['pal', 'sgx-psw', 352],
      ['panic', undefined, 70],
      ['pal', 'occlum-pal', 62],
    ],
  );
  assert.deepEqual(r[2]?.exit, { status: 101 });
});

test('the boot failure logged as a LibOS record by 0.8–0.10 is a boot failure', () => {
  const r = one(
    '\x1b[31m[ERROR][1] failed to boot up LibOS: ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/spawn/mod.rs]\x1b[0m',
  );
  assert.deepEqual(
    [r.kind, r.level, r.thread, r.errno?.name, r.message],
    ['boot-failure', 'error', 1, 'ENOENT', 'ENOENT (#2, No such file or directory): cannot find the file'],
  );
});
