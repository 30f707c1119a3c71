// The parser and the `logs` command on this project's own log cases (fixtures/logs), so the log
// grammar is tested on every clone; the real lines of ../shared/log-samples are in logs-samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseLog, hintsFor } from '../../src/core/logs/index.ts';
import { runCli } from '../helpers/cli.ts';
import { OWN_LOG } from '../helpers/paths.ts';

test('both line formats, an error chain, PAL and program lines: every field parsed', () => {
  const recs = parseLog(readFileSync(OWN_LOG));
  assert.deepEqual(
    recs.map((r) => [r.kind, r.level, r.thread, r.syscall, r.module ?? r.component]),
    [
      ['libos', 'info', 0, undefined, 'entry'],
      ['libos', 'debug', 1, 'Open', 'fs'],
      ['libos', 'error', 1, 'Open', 'syscall'],
      ['libos', 'warn', 2, 'Brk', 'vm'],
      ['libos', 'trace', 2, 'Mmap', undefined],
      ['boot-failure', 'error', undefined, undefined, undefined],
      ['pal', 'error', undefined, undefined, 'occlum-pal'],
      ['raw', null, undefined, undefined, undefined],
    ],
  );
  const [, , enoent, brk, , boot, pal] = recs;
  assert.equal(enoent!.errno?.name, 'ENOENT');
  assert.deepEqual(enoent!.location, { file: 'src/fs/rootfs.rs', line: 48 });
  assert.equal(boot!.causes?.length, 1);
  assert.equal(boot!.causes![0]!.errno?.name, 'ENOMEM');
  assert.deepEqual(
    hintsFor(boot!).map((h) => h.configPath),
    [['resource_limits', 'user_space_size']],
  );
  assert.deepEqual(
    hintsFor(brk!).map((h) => h.configPath),
    [['process', 'default_heap_size']],
  );
  assert.deepEqual(pal!.location, { file: 'src/pal_api.c', line: 210 });
});

test("`logs --json --level error` keeps the errors, with the boot failure's hint", () => {
  const r = runCli(['logs', OWN_LOG, '--json', '--level', 'error', '--no-raw']);
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    recs.map((x) => x.kind),
    ['libos', 'boot-failure', 'pal'],
  );
  assert.deepEqual(recs[1].hints[0].configPath, ['resource_limits', 'user_space_size']);
});
