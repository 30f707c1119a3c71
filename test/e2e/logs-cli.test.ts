// `occlum-studio logs` through the built binary, as users and CI scripts run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { LOG_SAMPLES, needsCorpus } from '../helpers/paths.ts';

const SAMPLES = join(LOG_SAMPLES, 'occlum-log-samples.txt');

test(
  'human output: one line per record, hints under matching records, no colour when not a TTY',
  { skip: needsCorpus(SAMPLES) },
  () => {
    const r = runCli(['logs', SAMPLES, '--no-raw']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes('\x1b['));
    const lines = r.stdout.split('\n');
    assert.ok(
      lines.includes(
        '2025-12-26T01:24:09.456Z ERROR T1 #3 Open [syscall] Error = ENOENT (#2, No such file or directory): EntryNotFound',
      ),
    );
    assert.ok(lines.includes('ERROR occlum-pal occlum_ecall_new_process returns ENOENT (src/pal_api.c:210)'));
    const boot = lines.findIndex((l) => l.includes('failed to create process VM'));
    assert.match(lines[boot + 1] ?? '', /Caused by ENOMEM .*can't allocate free chunks/);
    assert.match(
      lines[boot + 2] ?? '',
      /hint: raise resource_limits.user_space_size .*\(Occlum.json: resource_limits.user_space_size\)/,
    );
    assert.ok(!r.stdout.includes('Building new image'));
  },
);

test('--json gives NDJSON with parsed fields; --level and --grep filter', { skip: needsCorpus(SAMPLES) }, () => {
  const r = runCli(['logs', SAMPLES, '--json', '--level', 'error', '--no-raw']);
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(recs.length >= 15);
  assert.ok(recs.every((x) => x.level === 'error'));
  const vm = recs.find((x) => x.kind === 'boot-failure' && x.errno?.name === 'ENOMEM');
  assert.equal(vm.causes.length, 1);
  assert.deepEqual(vm.hints[0].configPath, ['resource_limits', 'user_space_size']);

  const g = runCli(['logs', SAMPLES, '--json', '--grep', 'occlum-pal: .*ENOENT']);
  const pal = g.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    pal.map((x) => x.location.line),
    [210, 165, 129],
  );
});

test('reads stdin ("-"), keeps the program\'s own lines as raw records', { skip: needsCorpus(SAMPLES) }, () => {
  const input =
    '\x1b[31m[2025-12-26T01:24:09.456Z][ERROR][T1][#3][····Open][syscall] Error = ENOENT (#2, No such file or directory): x\x1b[0m\r\nmy program says hi\n';
  const r = runCli(['logs', '-', '--json'], { input });
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    recs.map((x) => [x.kind, x.level, x.colored]),
    [
      ['libos', 'error', true],
      ['raw', null, false],
    ],
  );
  const noRaw = runCli(['logs', '-', '--no-raw'], { input });
  assert.equal(noRaw.stdout.trim().split('\n').length, 1);
});

test('clear errors, exit 2: missing file, directory, bad regex, bad level', { skip: needsCorpus(SAMPLES) }, () => {
  const missing = runCli(['logs', '/nonexistent/occlum.log']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read log "\/nonexistent\/occlum.log": no such file/);
  const dir = mkdtempSync(join(tmpdir(), 'logs-cli-'));
  const d = runCli(['logs', dir]);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /is a directory/);
  const re = runCli(['logs', SAMPLES, '--grep', '(unclosed']);
  assert.equal(re.status, 2);
  assert.match(re.stderr, /--grep: invalid regular expression \/\(unclosed\/: Unterminated group/);
  const lv = runCli(['logs', SAMPLES, '--level', 'loud']);
  assert.equal(lv.status, 2);
  assert.match(lv.stderr, /unknown level "loud" for --level/);
  const two = runCli(['logs', SAMPLES, SAMPLES]);
  assert.equal(two.status, 2);
});

test('garbage and binary input do not crash the command', { skip: needsCorpus(SAMPLES) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-cli-'));
  const f = join(dir, 'garbage.bin');
  writeFileSync(f, Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256)));
  const r = runCli(['logs', f, '--json']);
  assert.equal(r.status, 0, r.stderr);
  for (const l of r.stdout.trim().split('\n')) JSON.parse(l);
});
