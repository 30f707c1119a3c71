// The parser against the real Occlum output in ../shared/log-samples: exact field values per
// issue group, plus grammar invariants checked on every line of every sample file (so lines
// added later are held to the same rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_SAMPLES, needsCorpus } from '../helpers/paths.ts';
import { parseLog, type LogRecord } from '../../src/core/logs/index.ts';

interface Group {
  issue: string;
  lines: string[];
}

function sampleFiles(): string[] {
  return readdirSync(LOG_SAMPLES)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => join(LOG_SAMPLES, f));
}

/** Groups of lines, keyed by the issue number of their `== <url>` header; comments dropped. */
function groups(): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const file of sampleFiles()) {
    let cur: Group | null = null;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.startsWith('#')) continue;
      const h = /^== \S*\/issues\/(\d+)/.exec(line);
      if (h) {
        cur = { issue: h[1] as string, lines: [] };
        out.set(cur.issue, cur);
        continue;
      }
      if (cur && line.trim() !== '') cur.lines.push(line);
    }
  }
  return out;
}

const G = needsCorpus(LOG_SAMPLES) ? new Map<string, Group>() : groups();
function recs(issue: string): LogRecord[] {
  const g = G.get(issue);
  assert.ok(g, `sample group for issue ${issue} is missing`);
  return parseLog(g.lines.join('\n'));
}
/** Drops `text`, `lineNo`, `colored` to compare the parsed fields. */
function fields(r: LogRecord | undefined): Omit<LogRecord, 'text' | 'lineNo' | 'colored'> {
  assert.ok(r);
  const { text: _t, lineNo: _l, colored: _c, ...rest } = r;
  return rest;
}
const ENOENT = { name: 'ENOENT', number: 2, description: 'No such file or directory' };

test('#1698: current format with [module]; eprintln boot failure; PAL line', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const r = recs('1698');
  assert.equal(r.length, 7);
  assert.deepEqual(fields(r[0]), {
    kind: 'libos',
    level: 'debug',
    time: '2025-12-26T01:24:09.456Z',
    thread: 1,
    round: 3,
    syscall: 'Open',
    module: 'fs',
    message: 'lookup_inode: cwd: "/", path: "/opt/occlum/toolchains/gcc/x86_64-linux-musl/lib/libgcc_s.so.1"',
  });
  assert.deepEqual(fields(r[1]), {
    kind: 'libos',
    level: 'error',
    time: '2025-12-26T01:24:09.456Z',
    thread: 1,
    round: 3,
    syscall: 'Open',
    module: 'syscall',
    message: 'Error = ENOENT (#2, No such file or directory): EntryNotFound',
    errno: ENOENT,
  });
  assert.equal(r[2]?.message, 'Retval = 0xfffffffffffffffe');
  assert.equal(r[2]?.level, 'trace');
  assert.equal(r[3]?.round, 4);
  assert.equal(r[3]?.message, 'Syscall { num = Open, path = 0x7987677ff750, flags = 524288, mode = 438 }');
  assert.deepEqual(
    [r[4]?.syscall, r[4]?.module, r[4]?.round, r[4]?.time],
    ['Mprotect', 'vm', 14, '2025-12-26T01:24:09.460Z'],
  );
  assert.deepEqual(fields(r[5]), {
    kind: 'boot-failure',
    level: 'error',
    message: 'ENOENT (#2, No such file or directory): EntryNotFound',
    errno: ENOENT,
  });
  assert.deepEqual(fields(r[6]), {
    kind: 'pal',
    level: 'error',
    component: 'occlum-pal',
    message: 'occlum_ecall_new_process returns ENOENT',
    errno: ENOENT,
    location: { file: 'src/pal_api.c', line: 210 },
  });
});

test(
  '#1580: older format without [module]; errno and source location split off',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    const r = recs('1580');
    assert.equal(r.length, 2);
    assert.deepEqual(fields(r[0]), {
      kind: 'libos',
      level: 'error',
      time: '2024-06-27T08:39:42.875Z',
      thread: 2,
      round: 59845,
      syscall: 'Lseek',
      message:
        'Error = ENOSYS (#38, Function not implemented): occlum_libos_core_rs::fs::pipe::PipeReader does not support seek',
      errno: { name: 'ENOSYS', number: 38, description: 'Function not implemented' },
      location: { file: 'src/fs/file.rs', line: 43 },
    });
    assert.deepEqual(
      [r[1]?.thread, r[1]?.round, r[1]?.syscall, r[1]?.errno?.name, r[1]?.location?.line],
      [105, 2, 'Futex', 'EINTR', 294],
    );
    assert.equal(r[1]?.module, undefined);
  },
);

test(
  '#408: boot line on T0 without syscall; padded short names; decimal Retval',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    const r = recs('408');
    assert.equal(r.length, 5);
    assert.deepEqual(fields(r[0]), {
      kind: 'libos',
      level: 'info',
      time: '2021-04-19T10:02:40.450Z',
      thread: 0,
      round: 0,
      message: 'Process created: elf = /bin/ra-tls-server, pid = 1',
    });
    assert.deepEqual(
      [r[1]?.syscall, r[1]?.level, r[1]?.message],
      ['Brk', 'trace', 'Syscall { num = Brk, new_brk_addr = 0 }'],
    );
    assert.equal(r[2]?.message, 'Retval = 140329053483008');
    assert.deepEqual([r[3]?.syscall, r[3]?.round, r[3]?.errno], ['Openat', 68, ENOENT]);
    assert.equal(r[4]?.message, 'Retval = -2');
  },
);

test('#948: LibOS lines interleaved with a PAL line', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const r = recs('948');
  assert.deepEqual(
    r.map((x) => x.kind),
    ['libos', 'pal', 'libos'],
  );
  assert.deepEqual(fields(r[0]), {
    kind: 'libos',
    level: 'error',
    time: '2022-07-08T14:37:08.051Z',
    thread: 0,
    round: 0,
    message: 'failed to parse /etc/hosts: EINVAL (#22, Invalid argument): malformated host /etc/hosts',
    errno: { name: 'EINVAL', number: 22, description: 'Invalid argument' },
    location: { file: 'src/util/host_file_util.rs', line: 67 },
  });
  assert.deepEqual(
    [r[1]?.message, r[1]?.errno?.name, r[1]?.location],
    ['Failed to start the interrupt thread: ENOSYS', 'ENOSYS', { file: 'src/pal_interrupt_thread.c', line: 59 }],
  );
  assert.equal(r[2]?.level, 'info');
  assert.equal(r[2]?.syscall, undefined);
});

test(
  '#1375: colour codes in caret notation and the CR are stripped, colour flagged',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    const r = recs('1375');
    assert.equal(r.length, 1);
    assert.equal(r[0]?.colored, true);
    assert.equal(
      r[0]?.text,
      '[2023-09-05T14:38:10.640Z][DEBUG][T0][#0] lookup_inode: cwd: "/", path: "/etc/resolv.conf"',
    );
    assert.deepEqual(
      [r[0]?.level, r[0]?.thread, r[0]?.message],
      ['debug', 0, 'lookup_inode: cwd: "/", path: "/etc/resolv.conf"'],
    );
  },
);

test(
  '#764: boot failure with its Caused by line is ONE record; then two PAL lines',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    const r = recs('764');
    assert.deepEqual(
      r.map((x) => x.kind),
      ['boot-failure', 'pal', 'pal'],
    );
    assert.deepEqual(fields(r[0]), {
      kind: 'boot-failure',
      level: 'error',
      message: 'ENOENT (#2, No such file or directory): cannot load ld.so',
      errno: ENOENT,
      location: { file: 'src/process/do_spawn/mod.rs', line: 192 },
      causes: [
        {
          message: 'ENOENT (#2, No such file or directory): cannot find the file',
          errno: ENOENT,
          location: { file: 'src/process/do_spawn/exec_loader.rs', line: 81 },
        },
      ],
    });
    assert.equal(r[0]?.text.split('\n').length, 2);
    assert.deepEqual([r[2]?.message, r[2]?.location?.line], ['Failed to run the init process: ENOENT', 129]);
  },
);

test('#1594 / #1536 / #933: entry point, ENOEXEC and VM boot failures', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const a = recs('1594');
  assert.deepEqual(
    [a[0]?.kind, a[0]?.errno?.name, a[0]?.errno?.number, a[0]?.location],
    ['boot-failure', 'EACCES', 13, { file: 'src/entry.rs', line: 354 }],
  );
  assert.equal(a[0]?.message, 'EACCES (#13, Permission denied): program path is NOT a valid entry point');
  assert.deepEqual([a[1]?.kind, a[1]?.errno?.name], ['pal', 'EACCES']);
  const b = recs('1536');
  assert.deepEqual([b.length, b[0]?.errno?.name, b[0]?.errno?.description], [1, 'ENOEXEC', 'Exec format error']);
  const c = recs('933');
  assert.equal(c.length, 1);
  assert.equal(c[0]?.causes?.length, 1);
  assert.deepEqual(
    [c[0]?.errno?.name, c[0]?.causes?.[0]?.message],
    ['ENOMEM', "ENOMEM (#12, Out of memory): can't allocate free chunks"],
  );
});

test("#1579: init's Rust error line and PAL exit line", { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const r = recs('1579');
  assert.deepEqual(
    r.map((x) => x.kind),
    ['eprintln', 'pal', 'pal'],
  );
  assert.deepEqual([r[0]?.level, r[0]?.errno], ['error', ENOENT]);
  assert.deepEqual(
    [r[1]?.message, r[1]?.location],
    ['The init process exit with code: 1', { file: 'src/pal_api.c', line: 63 }],
  );
  assert.equal(r[1]?.errno, undefined);
  assert.deepEqual([r[2]?.errno?.name, r[2]?.location?.line], ['EINVAL', 151]);
});

test('#1569: enclave panic', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const r = recs('1569');
  assert.deepEqual(fields(r[0]), {
    kind: 'panic',
    level: 'error',
    message: 'explicit panic',
    location: { file: 'src/config.rs', line: 24, column: 17 },
  });
});

test('#1242 / #121: build output is kept as raw records, level-less', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  for (const issue of ['1242', '121']) {
    const r = recs(issue);
    assert.equal(r.length, G.get(issue)?.lines.length);
    for (const x of r) assert.deepEqual([x.kind, x.level, x.message], ['raw', null, x.text]);
  }
});

test('#1385: copy_bom env_logger line', { skip: needsCorpus(LOG_SAMPLES) }, () => {
  const r = recs('1385');
  assert.deepEqual(fields(r[0]), {
    kind: 'env-logger',
    level: 'info',
    time: '2023-09-13T09:55:15Z',
    module: 'copy_bom::util',
    message: 'mkdir -p image/bin',
  });
});

// ---- grammar invariants over every line of every sample file ----------------------------------

const LIBOS_LINE = /\[(\d{4}-\d\d-\d\dT[\d:.]+Z)\]\[ *(ERROR|WARN|INFO|DEBUG|TRACE)\]\[T(\d+)\]\[#(\d+)\]/;

test(
  'every sample line: LibOS lines, PAL lines, errnos, locations and chains come out as fields',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    let checked = 0;
    for (const g of G.values()) {
      const records = parseLog(g.lines.join('\n'));
      // Each non-continuation line is exactly one record; continuation lines fold into the previous one.
      const continuation = (l: string) => /^\s+(Caused by|\d+: |at )|^stack backtrace:/.test(l);
      assert.equal(records.length, g.lines.filter((l) => !continuation(l)).length, `issue ${g.issue}: record count`);
      let i = 0;
      for (const line of g.lines) {
        if (continuation(line)) continue;
        const r = records[i++] as LogRecord;
        checked++;
        const where = `issue ${g.issue}: ${line}`;
        assert.ok(!r.text.includes('\x1b') && !r.text.includes('\r') && !r.text.includes('^['), where);
        const lib = LIBOS_LINE.exec(line);
        if (lib) {
          assert.equal(r.kind, 'libos', where);
          assert.equal(r.time, lib[1], where);
          assert.equal(r.level, (lib[2] as string).toLowerCase(), where);
          assert.equal(r.thread, Number(lib[3]), where);
          assert.equal(r.round, Number(lib[4]), where);
          const rest = line.slice(line.indexOf(lib[0]) + lib[0].length);
          const sys = /^\[[·_]*([A-Z]\w*)\]/.exec(rest);
          assert.equal(r.syscall, sys?.[1], where);
          const mod = /^(?:\[[·_]*[A-Z]\w*\])?\[([a-z_]+)\]/.exec(rest);
          assert.equal(r.module, mod?.[1], where);
        }
        const pal = /^\[(ERROR|WARN)\] (occlum-\w+): /.exec(line);
        if (pal) {
          assert.equal(r.kind, 'pal', where);
          assert.equal(r.component, pal[2], where);
          const loc = /\(line (\d+), file ([^)]+)\)$/.exec(line);
          if (loc) assert.deepEqual(r.location, { file: loc[2], line: Number(loc[1]) }, where);
        }
        const errno = /\b(E[A-Z0-9]+) \(#(\d+), ([^)]*)\)/.exec(line);
        if (errno)
          assert.deepEqual(r.errno, { name: errno[1], number: Number(errno[2]), description: errno[3] }, where);
        const loc = /\[line = (\d+), file = ([^\]]+)\]\s*$/.exec(line);
        if (loc) {
          assert.deepEqual(r.location, { file: loc[2], line: Number(loc[1]) }, where);
          assert.ok(!r.message.includes('[line ='), where);
        }
        if (line.startsWith('failed to boot up LibOS: ')) assert.equal(r.kind, 'boot-failure', where);
        if (/^thread '.*' panicked at /.test(line)) assert.equal(r.kind, 'panic', where);
      }
    }
    assert.ok(checked >= 40, `only ${checked} sample lines checked`);
  },
);
