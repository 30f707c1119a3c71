// Levels (OCCLUM_LOG_LEVEL semantics), the ring buffer, filters over the buffer, and hints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkLogLevel,
  compileFilter,
  DEFAULT_FILTER,
  effectiveLogLevel,
  FilterError,
  hintsFor,
  hintsForText,
  OutputHints,
  levelEnabled,
  LogBuffer,
  matchRanges,
  parseLog,
  parseLogLevel,
  RingBuffer,
  type LogFilter,
  type LogRecord,
} from '../../src/core/logs/index.ts';

test('OCCLUM_LOG_LEVEL: case-insensitive, aliases, unknown and unset are off', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'off'],
    ['', 'off'],
    ['off', 'off'],
    ['OFF', 'off'],
    ['panic', 'error'],
    ['Fatal', 'error'],
    ['ERROR', 'error'],
    ['warning', 'warn'],
    ['WARN', 'warn'],
    ['info', 'info'],
    ['Debug', 'debug'],
    ['TRACE', 'trace'],
    ['verbose', 'off'],
    ['2', 'off'],
  ];
  for (const [v, want] of cases) assert.equal(parseLogLevel(v), want, String(v));
  assert.deepEqual(checkLogLevel('verbose'), { level: 'off', known: false });
  assert.deepEqual(checkLogLevel('Warning'), { level: 'warn', known: true });
});

test('effective level: release enclaves clamp to error or turn logging off', () => {
  assert.deepEqual(effectiveLogLevel({ env: 'trace' }), { level: 'trace', releaseWarning: false });
  assert.deepEqual(effectiveLogLevel({ env: 'trace', debuggable: true, disableLog: true }).level, 'trace');
  const clamped = effectiveLogLevel({ env: 'debug', debuggable: false, disableLog: false });
  assert.equal(clamped.level, 'error');
  assert.equal(clamped.releaseWarning, true);
  assert.match(clamped.reason ?? '', /capped at error/);
  assert.equal(effectiveLogLevel({ env: 'error', debuggable: false, disableLog: false }).level, 'error');
  assert.equal(effectiveLogLevel({ env: 'trace', debuggable: false, disableLog: true }).level, 'off');
  // disable_log defaults to true for a release enclave.
  assert.equal(effectiveLogLevel({ env: 'trace', debuggable: false }).level, 'off');
  assert.equal(levelEnabled('warn', 'error'), true);
  assert.equal(levelEnabled('warn', 'info'), false);
  assert.equal(levelEnabled('off', 'error'), false);
});

test('ring buffer: O(1) append, stable ids, eviction of the oldest', () => {
  const r = new RingBuffer<number>(3);
  assert.equal(r.push(10), 0);
  r.push(11);
  r.push(12);
  assert.equal(r.push(13), 3);
  assert.deepEqual([r.size, r.firstId, r.endId], [3, 1, 4]);
  assert.equal(r.get(0), undefined);
  assert.equal(r.get(1), 11);
  assert.equal(r.get(3), 13);
  assert.deepEqual(
    [...r.entries()],
    [
      [1, 11],
      [2, 12],
      [3, 13],
    ],
  );
  assert.throws(() => new RingBuffer(0), /positive integer/);
});

const LOG = [
  '[2025-12-26T01:24:09.456Z][DEBUG][T1][#3][····Open][fs] lookup_inode: cwd: "/", path: "/lib/libc.so"',
  '[2025-12-26T01:24:09.456Z][ERROR][T1][#3][····Open][syscall] Error = ENOENT (#2, No such file or directory): EntryNotFound',
  '[2025-12-26T01:24:09.456Z][TRACE][T1][#3][····Open][syscall] Retval = 0xfffffffffffffffe',
  'hello from the program',
  '[2025-12-26T01:24:09.460Z][DEBUG][T2][#14][Mprotect][vm] mprotect: addr: 0x1000, size: 0x4000, perms: READ',
  '[2025-12-26T01:24:09.461Z][ WARN][T2][#15][·····Brk][vm] New brk address is too high',
  '[ERROR] occlum-pal: occlum_ecall_new_process returns ENOENT (line 210, file src/pal_api.c)',
].join('\n');
const RECS = parseLog(LOG);

function view(f: Partial<LogFilter>, cap = 100): string[] {
  const b = new LogBuffer(cap);
  for (const r of RECS) b.append(r);
  b.setFilter({ ...DEFAULT_FILTER, ...f });
  return b.slice(0, b.length).map((r) => r.message.slice(0, 12));
}

test('filters: level, exact-level toggles, thread, syscall, module, text, regex, inverse, raw', () => {
  assert.equal(view({}).length, 7);
  assert.deepEqual(view({ minLevel: 'warn' }), ['Error = ENOE', 'hello from t', 'New brk addr', 'occlum_ecall']);
  assert.deepEqual(view({ minLevel: 'warn', includeRaw: false }), ['Error = ENOE', 'New brk addr', 'occlum_ecall']);
  assert.deepEqual(view({ hiddenLevels: ['debug', 'trace'], includeRaw: false }), [
    'Error = ENOE',
    'New brk addr',
    'occlum_ecall',
  ]);
  assert.deepEqual(view({ thread: 2 }), ['mprotect: ad', 'New brk addr']);
  assert.deepEqual(view({ syscall: 'open' }), ['lookup_inode', 'Error = ENOE', 'Retval = 0xf']);
  assert.deepEqual(view({ module: 'vm' }), ['mprotect: ad', 'New brk addr']);
  assert.deepEqual(view({ text: 'enoent' }), ['Error = ENOE', 'occlum_ecall']);
  assert.deepEqual(view({ text: 'ENOENT' }), ['Error = ENOE', 'occlum_ecall']);
  assert.deepEqual(view({ text: 'Enoent' }), []); // smart case: an upper-case letter makes it exact
  assert.deepEqual(view({ text: '^\\[ERROR\\]', regex: true }), ['occlum_ecall']);
  assert.deepEqual(view({ text: 'T1', inverse: true, includeRaw: false }), [
    'mprotect: ad',
    'New brk addr',
    'occlum_ecall',
  ]);
  assert.throws(
    () => compileFilter({ ...DEFAULT_FILTER, text: '(', regex: true }),
    (e: Error) => e instanceof FilterError && /invalid regular expression \/\(\/: Unterminated group/.test(e.message),
  );
});

test('the filtered index follows appends and evictions', () => {
  const b = new LogBuffer(4, 0);
  b.setFilter({ ...DEFAULT_FILTER, minLevel: 'error' });
  for (const r of RECS) b.append(r);
  // Capacity 4 keeps the last 4 records: raw, Mprotect, Brk, PAL → raw and PAL pass.
  assert.deepEqual(
    b.slice(0, 10).map((r) => r.kind),
    ['raw', 'pal'],
  );
  assert.equal(b.size, 4);
  assert.equal(b.total, 7);
  const id = b.idAt(1) as number;
  assert.equal(b.indexOfId(id), 1);
  assert.equal(
    b.find(0, 1, (r) => r.kind === 'pal'),
    1,
  );
  assert.equal(
    b.find(1, 1, (r) => r.kind === 'raw'),
    0,
  ); // wraps
  assert.equal(
    b.find(1, 1, (r) => r.kind === 'raw', false),
    -1,
  );
  for (let i = 0; i < 10_000; i++) b.append(RECS[2] as LogRecord); // trace lines
  assert.equal(b.length, 0);
});

test('errors and warnings pushed out of the ring by a flood stay in the view (bounded)', () => {
  const b = new LogBuffer(4, 3);
  for (const r of RECS) b.append(r); // the ENOENT error (#1) is evicted → kept
  assert.equal(b.keptCount, 1);
  assert.deepEqual(
    b.slice(0, 10).map((r) => r.message.slice(0, 12)),
    ['Error = ENOE', 'hello from t', 'mprotect: ad', 'New brk addr', 'occlum_ecall'],
  );
  const trace = RECS[2] as LogRecord;
  for (let i = 0; i < 100; i++) b.append(trace);
  // The warn (brk) and PAL error were evicted too: three kept, then the four live trace records.
  assert.equal(b.keptCount, 3);
  assert.deepEqual(
    b.slice(0, 3).map((r) => r.level),
    ['error', 'warn', 'error'],
  );
  assert.equal(b.length, 7);
  assert.equal(b.size, 7);
  b.setFilter({ ...DEFAULT_FILTER, minLevel: 'error' });
  assert.deepEqual(
    b.slice(0, 10).map((r) => r.kind),
    ['libos', 'pal'],
  );
  assert.equal(b.indexOfId(b.idAt(1) as number), 1);
  assert.equal(
    b.find(1, 1, (r) => r.level === 'error'),
    0,
  );
  // Over the keep capacity the oldest kept record goes, also from the filtered index.
  const err = RECS[1] as LogRecord;
  for (let i = 0; i < 4; i++) b.append(err);
  for (let i = 0; i < 4; i++) b.append(trace);
  assert.equal(b.keptCount, 3);
  assert.deepEqual(
    b.slice(0, 10).map((r) => r.kind),
    ['libos', 'libos', 'libos'],
  );
  b.clear();
  assert.deepEqual([b.length, b.size, b.keptCount], [0, 0, 0]);
});

test('match ranges for highlighting (plain and regex, smart case)', () => {
  assert.deepEqual(matchRanges('ENOENT and enoent', 'enoent', false), [
    [0, 6],
    [11, 17],
  ]);
  assert.deepEqual(matchRanges('a.b a_b', 'a.b', false), [[0, 3]]);
  assert.deepEqual(matchRanges('a.b a_b', 'a.b', true), [
    [0, 3],
    [4, 7],
  ]);
  assert.deepEqual(matchRanges('x', '(', true), []);
});

const hintPaths = (line: string) =>
  parseLog(line).flatMap((r) => hintsFor(r).map((h) => (h.configPath ?? ['-']).join('.')));

test('hints map known messages to the Occlum.json field to change', () => {
  assert.deepEqual(
    hintPaths(
      '[2025-01-01T00:00:00.000Z][ERROR][T1][#5][····Mmap][syscall] Error = ENOMEM (#12, Out of memory): not enough memory [line = 1, file = src/vm/a.rs]',
    ),
    ['resource_limits.user_space_size'],
  );
  assert.deepEqual(
    hintPaths(
      '[2020-01-01T00:00:00.000Z][ERROR][T1][#5][____Mmap] Error = ENOMEM (#12, Out of memory): not enough memory',
    ),
    ['resource_limits.user_space_size'],
  );
  assert.deepEqual(hintPaths('[2025-01-01T00:00:00.000Z][ WARN][T2][#15][·····Brk][vm] New brk address is too high'), [
    'process.default_heap_size',
  ]);
  assert.deepEqual(
    hintPaths(
      "failed to boot up LibOS: ENOMEM (#12, Out of memory): failed to create process VM [line = 17, file = src/process/do_spawn/init_vm.rs]\n    Caused by ENOMEM (#12, Out of memory): can't allocate free chunks [line = 66, file = src/vm/vm_manager.rs]",
    ),
    ['resource_limits.user_space_size'],
  );
  assert.deepEqual(hintPaths('[2025-01-01T00:00:00.000Z][ERROR][T1][#5][···Mmap2][vm] run out of reserved memory'), [
    'resource_limits.user_space_size',
  ]);
  assert.deepEqual(hintPaths('memory allocation of 8388608 bytes failed'), ['resource_limits.kernel_space_heap_size']);
  assert.deepEqual(
    hintPaths(
      '[2025-01-01T00:00:00.000Z][ERROR][T1][#5][···Write][syscall] Error = EIO (#5, I/O error): SGX protected file I/O error: EIO (#5, I/O error): Cannot allocate memory (os error: 12)',
    ),
    ['resource_limits.kernel_space_heap_size'],
  );
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 9) with error code 0x1003: Out of TCS. (line 21, file src/ocalls/spawn.c)',
    ),
    ['resource_limits.max_num_of_threads'],
  );
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 9) with error code 0x1003: Unknown SGX error (line 21, file src/ocalls/spawn.c)',
    ),
    ['resource_limits.max_num_of_threads'],
  );
  // The resource guide's own wording (§6), without a code.
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 1234): Unknown SGX error',
    ),
    ['resource_limits.max_num_of_threads'],
  );
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 367) with error code 0x1009: Unknown SGX error (line 21, file src/ocalls/spawn.c)',
    ),
    ['resource_limits.kernel_space_stack_size'],
  );
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to create enclave with error code 0x2009: Invalid enclave metadata. (line 80, file src/pal_enclave.c)',
    ),
    ['resource_limits.kernel_space_stack_size'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: EACCES (#13, Permission denied): program path is NOT a valid entry point [line = 354, file = src/entry.rs]',
    ),
    ['entry_points'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: EINVAL (#22, Invalid argument): program path must be absolute [line = 3, file = src/entry.rs]',
    ),
    ['entry_points'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: ENOEXEC (#8, Exec format error): unknown executable file format [line = 23, file = src/process/do_spawn/exec_loader.rs]',
    ),
    ['-'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: ENOENT (#2, No such file or directory): cannot load ld.so [line = 192, file = src/process/do_spawn/mod.rs]',
    ),
    ['-'],
  );
  assert.deepEqual(
    hintPaths(
      '[ERROR] occlum-pal: Failed to create enclave with error code 0x4004: Enclave has no privilege to get run in the release mode. (line 80, file src/pal_enclave.c)',
    ),
    ['metadata.debuggable'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: EINVAL (#22, Invalid argument): cannot find the interpreter segment [line = 9, file = src/process/do_spawn/exec_loader.rs]',
    ),
    ['-'],
  );
  assert.deepEqual(
    hintPaths(
      'failed to boot up LibOS: EACCES (#13, Permission denied): file is not executable [line = 9, file = src/process/do_spawn/exec_loader.rs]',
    ),
    ['-'],
  );
  assert.deepEqual(hintPaths('FATAL: kernel too old'), ['-']);
  assert.deepEqual(hintPaths('bash: fork: Function not implemented'), ['-']);
  assert.deepEqual(hintPaths("28:M 06 Dec 2026 Can't save in background: fork: Function not implemented"), ['-']);
  // No hint for ordinary lines, nor for a program that merely prints such text.
  assert.deepEqual(hintPaths(LOG.split('\n').slice(0, 5).join('\n')), []);
  assert.deepEqual(hintPaths('my app: memory allocation of 5 bytes failed (retrying)'), []);
});

test('hints: ENOSYS from the LibOS, mremap out of memory, missing or mismatched shared libraries', () => {
  const enosys =
    '[2023-05-06T07:08:09.010Z][ WARN][T2][#30][Madvise][syscall] Error = ENOSYS (#38, Function not implemented): advice not supported [line = 4, file = src/vm/y.rs]';
  assert.deepEqual(
    parseLog(enosys).flatMap((r) => hintsFor(r).map((h) => h.message)),
    ['Occlum does not implement this system call (or this use of it)'],
  );
  assert.deepEqual(hintPaths('failed to execute a process: ENOSYS (#38, Function not implemented): no vfork'), ['-']);
  // The PAL's ENOSYS is the host's: no syscall hint.
  assert.deepEqual(
    hintPaths('[ERROR] occlum-pal: Failed to start the interrupt thread: ENOSYS (line 1, file src/a.c)'),
    [],
  );
  assert.deepEqual(
    hintPaths(
      '[2023-05-06T07:08:09.010Z][ERROR][T2][#31][··Mremap][vm] Error = ENOMEM (#12, Out of memory): cannot grow [line = 4, file = src/vm/y.rs]',
    ),
    ['resource_limits.user_space_size'],
  );
  // The user-space allocator's other ways of saying it is full, in a spawn or at boot.
  assert.deepEqual(
    hintPaths(
      "failed to execute a process: ENOMEM (#12, Out of memory): can't allocate a chunk in global list [line = 5, file = src/vm/m.rs]",
    ),
    ['resource_limits.user_space_size'],
  );
  assert.deepEqual(
    hintPaths(
      "[2023-05-06T07:08:09.010Z][ERROR][T0][#0][vm] Error = ENOMEM (#12, Out of memory): Can't find a free chunk for this allocation",
    ),
    ['resource_limits.user_space_size'],
  );
  const lib = (line: string) => parseLog(line).flatMap((r) => hintsFor(r).map((h) => h.message));
  assert.deepEqual(lib('Error loading shared library libz.so.1: No such file or directory (needed by /bin/tool)'), [
    'a shared library the program needs is not in the image',
  ]);
  assert.deepEqual(
    lib(
      '/bin/tool: error while loading shared libraries: libcrypto.so.3: cannot open shared object file: No such file or directory',
    ),
    ['a shared library the program needs is not in the image'],
  );
  assert.equal(lib('Error relocating /bin/tool: getrandom: symbol not found').length, 1);
  // A JVM or CPython that could not map its memory, as they print it under a too small user space.
  for (const line of [
    'Could not reserve enough space for code cache (245760K)',
    'Could not reserve enough space for 1048576KB object heap',
    'Error occurred during initialization of VM\nCould not allocate metaspace: 1073741824 bytes',
    'MemoryError',
    'numpy.core._exceptions._ArrayMemoryError: Unable to allocate 30.5 MiB for an array with shape (2000, 2000)',
  ])
    assert.deepEqual(hintPaths(line), ['resource_limits.user_space_size'], line);
  for (const line of ['a MemoryError was caught', 'Exception in thread "main" java.lang.OutOfMemoryError: x'])
    assert.deepEqual(hintPaths(line), [], line);
});

test('hints: a program missing from the image, and a path with .. (spec 5.1), only where they mean that', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  const missing = 'the program is not in the image at that path';
  // ≤ 0.30 and 0.31 wordings of the same boot failure.
  assert.deepEqual(
    messages(
      'failed to boot up LibOS: ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/do_spawn/exec_loader.rs]',
    ),
    [missing],
  );
  assert.deepEqual(messages('failed to boot up LibOS: ENOENT (#2, No such file or directory): EntryNotFound'), [
    missing,
  ]);
  // The same words as the cause of a missing loader are the loader's hint only.
  assert.deepEqual(
    messages(
      'failed to boot up LibOS: ENOENT (#2, No such file or directory): cannot load ld.so [line = 192, file = src/process/do_spawn/mod.rs]\n' +
        '    Caused by ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/do_spawn/exec_loader.rs]',
    ),
    ["the program's dynamic loader is missing from the image"],
  );
  // A program opening a missing file is ordinary.
  assert.deepEqual(
    messages(
      '[2025-12-26T01:24:09.456Z][ERROR][T1][#3][····Open][syscall] Error = ENOENT (#2, No such file or directory): EntryNotFound',
    ),
    [],
  );
  assert.deepEqual(
    messages(
      'failed to boot up LibOS: EINVAL (#22, Invalid argument): program path cannot contain any parent component [line = 280, file = src/entry.rs]',
    ),
    ['program paths cannot contain ..'],
  );
});

test('hints: SGX device and mode errors, FSGSBASE, the initial stack of a new process', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  const noDevice = 'no usable SGX device for a hardware-mode enclave';
  assert.deepEqual(
    messages(
      '[ERROR] occlum-pal: Failed to create enclave with error code 0x2006: Invalid SGX device. Please make sure SGX module is enabled. (line 152, file src/pal_enclave.c)',
    ),
    [noDevice],
  );
  // sgx_urts says why just before.
  assert.deepEqual(messages('[get_driver_type edmm_utility.cpp:116] Failed to open Intel SGX device.'), [noDevice]);
  assert.deepEqual(
    messages('Failed to create enclave with error code 0x200e: Unknown SGX error (line 152, file src/pal_enclave.c)'),
    ["the enclave was built for another SGX mode than the runtime's (SIM vs HW)"],
  );
  const fsgsbase = 'the host kernel does not let programs use the FSGSBASE instructions Occlum needs';
  assert.deepEqual(
    messages(
      '[ERROR] occlum-pal: \tSIGILL Caught ! (line 37, file src/pal_check_fsgsbase.c)\n' +
        '[ERROR] occlum-pal: FSGSBASE enablement check failed. (line 89, file src/pal_api.c)',
    ),
    [fsgsbase, fsgsbase],
  );
  // A program's own SIGILL report is not the PAL's check.
  assert.deepEqual(messages('worker: SIGILL Caught ! retrying'), []);
  assert.deepEqual(
    hintPaths(
      'failed to execute a process: ENOMEM (#12, Out of memory): No enough space in buffer [line = 142, file = src/process/do_spawn/init_stack.rs]',
    ),
    ['process.default_stack_size'],
  );
});

test('hints: a file type without the operation (ENOSYS) is not a missing syscall', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  assert.deepEqual(
    messages(
      '[2024-01-01T00:00:00.000Z][ERROR][T2][#9][···Lseek] Error = ENOSYS (#38, Function not implemented): occlum_libos_core_rs::fs::pipe::PipeReader does not support seek [line = 43, file = src/fs/file.rs]',
    ),
    ["this kind of file (pipe, socket, stdio …) lacks the operation in Occlum's LibOS"],
  );
  assert.deepEqual(
    messages(
      '[2024-01-01T00:00:00.000Z][ERROR][T2][#9][SetRobustList] Error = ENOSYS (#38, Function not implemented): Unimplemented or unknown syscall [line = 897, file = src/syscall/mod.rs]',
    ),
    ['Occlum does not implement this system call (or this use of it)'],
  );
});

test('hints: program output of runtimes out of memory or threads', () => {
  for (const line of [
    "terminate called after throwing an instance of 'std::bad_alloc'",
    'fatal error: out of memory',
    'ImportError: libfoo.so.0: failed to map segment from shared object',
    'OpenBLAS blas_thread_init: pthread_create failed for thread 7 of 64: Resource temporarily unavailable',
    '[0.031s][warning][os,thread] Failed to start thread "GC Thread#1" - pthread_create failed (EAGAIN) for attributes: stacksize: 1024k',
    'Exception in thread "main" java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory',
  ])
    assert.deepEqual(hintPaths(line), ['resource_limits.user_space_size'], line);
  // Go prints the reason first and `fatal error` after it: one hint.
  assert.deepEqual(
    hintPaths(
      'runtime: out of memory: cannot allocate 268435456-byte block (66158592 in use)\nfatal error: out of memory',
    ),
    ['resource_limits.user_space_size'],
  );
  for (const line of [
    'what():  std::bad_alloc',
    'pthread_create failed: Invalid argument',
    'fatal error: out of memory in cache, retrying',
  ])
    assert.deepEqual(hintPaths(line), [], line);
});

test('hints: mmap EINVAL for a flag Occlum lacks; other mmap EINVALs are the program’s own', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  assert.deepEqual(
    messages(
      '[2024-01-01T00:00:00.000Z][ERROR][T1][#7][····Mmap][syscall] Error = EINVAL (#22, Invalid argument): unknown mmap flags [line = 644, file = src/vm/process_vm.rs]',
    ),
    ['Occlum does not support this use of mmap/mremap (an unknown flag such as MAP_32BIT or MAP_HUGE_*)'],
  );
  assert.deepEqual(
    messages(
      '[2024-01-01T00:00:00.000Z][ERROR][T1][#7][····Mmap][syscall] Error = EINVAL (#22, Invalid argument): invalid size for mmap [line = 219, file = src/vm/vm_util.rs]',
    ),
    [],
  );
});

test('hints: the PAL cannot resolve the instance directory (rune, embedding programs)', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  assert.deepEqual(messages('[ERROR] occlum-pal: realpath returns ENOENT (line 76, file src/pal_api.c)'), [
    'the Occlum instance directory given to the PAL does not exist or cannot be reached',
  ]);
  assert.deepEqual(messages('realpath returns ENOENT for /data'), []);
});

test('hints: the LibOS allocation-failure panic (≥ 0.29.5) vs the bare line, which a Rust program prints too', () => {
  const messages = (text: string) => parseLog(text).flatMap((r) => hintsFor(r).map((h) => h.message));
  assert.deepEqual(
    messages("thread '<unnamed>' panicked at 'memory allocation of 32 bytes failed\n', src/entry.rs:132:5"),
    ['the LibOS kernel heap is exhausted'],
  );
  assert.deepEqual(messages('memory allocation of 10735056 bytes failed'), [
    'the LibOS kernel heap is exhausted (Occlum ≤ 0.29.4; later, a Rust program’s own)',
  ]);
  assert.deepEqual(hintPaths('memory allocation of 10735056 bytes failed'), ['resource_limits.kernel_space_heap_size']);
});

test('hints of a whole output: the LibOS/PAL records’ before the program’s own words', () => {
  const text =
    'OpenBLAS blas_thread_init: pthread_create failed for thread 7 of 64: Resource temporarily unavailable\n' +
    '[ERROR] occlum-pal: Failed to enter the enclave to execute a LibOS thread (host tid = 9) with error code 0x1003: Out of TCS. (line 21, file src/ocalls/spawn.c)\n';
  const paths = (hs: { configPath: (string | number)[] | null }[]) => hs.map((h) => (h.configPath ?? ['-']).join('.'));
  assert.deepEqual(paths(hintsForText(text)), [
    'resource_limits.max_num_of_threads',
    'resource_limits.user_space_size',
  ]);
  const o = new OutputHints();
  o.push(text);
  assert.deepEqual(paths(o.end()), ['resource_limits.max_num_of_threads', 'resource_limits.user_space_size']);
});
