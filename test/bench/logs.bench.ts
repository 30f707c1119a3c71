// Log parser throughput and memory. Parse rate (goal ≥ 200k lines/s) is reported with its ratio
// to a bare line-splitting loop over the same bytes in the same run; RSS is measured after 1M
// records went through a LogBuffer (default capacity, an active filter), in a fresh process
// (goal < 200 MB). LOG_CAP=<n> measures another capacity.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { LOG_SAMPLES } from '../helpers/paths.ts';
import { DEFAULT_CAPACITY, LogBuffer, LogParser, DEFAULT_FILTER } from '../../src/core/logs/index.ts';
import { median, report } from './helpers.ts';

// A realistic mix: the real sample lines (LibOS of both eras, PAL, chains, env_logger, raw),
// with real ESC colour codes and CRs, repeated; trace lines dominate as in a trace-level run.
// The bundled memory run cannot locate ../shared from its own URL: it gets the path as an argument.
const SAMPLES_FILE =
  process.argv[2] === '--memory' ? (process.argv[3] as string) : join(LOG_SAMPLES, 'occlum-log-samples.txt');
const sample = readFileSync(SAMPLES_FILE, 'utf8')
  .split('\n')
  .filter((l) => !l.startsWith('#') && !l.startsWith('=='))
  .map((l) => l.replace(/\^\[/g, '\x1b').replace(/\^M/g, '\r'));
const trace = [
  '\x1b[0m[2025-12-26T01:24:09.456Z][TRACE][T1][#4][····Open][syscall] Syscall { num = Open, path = 0x7987677ff750, flags = 524288, mode = 438 }\x1b[0m',
  '\x1b[0m[2025-12-26T01:24:09.456Z][TRACE][T1][#4][····Open][syscall] Retval = 0x3\x1b[0m',
  '\x1b[0m[2025-12-26T01:24:09.460Z][DEBUG][T1][#14][Mprotect][vm] mprotect: addr: 0x798764e5c000, size: 0x4000, perms: READ\x1b[0m',
];
const unit = [...sample, ...trace, ...trace, ...trace].join('\n') + '\n';
const LINES_PER_UNIT = unit.split('\n').length - 1;
const REPEAT = Math.ceil(200_000 / LINES_PER_UNIT);
const totalLines = LINES_PER_UNIT * REPEAT;
const CHUNK = 64 * 1024;
if (process.argv[2] === '--memory') {
  memoryRun();
  process.exit(0);
}
const bytes = Buffer.from(unit.repeat(REPEAT));

function baseline(): number {
  // Decode + split into lines, nothing else: the floor any line parser pays.
  const t0 = performance.now();
  let n = 0;
  let rest = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const s = rest + bytes.subarray(i, i + CHUNK).toString('utf8');
    let from = 0;
    for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', from)) {
      if (s.slice(from, nl).length >= 0) n++;
      from = nl + 1;
    }
    rest = s.slice(from);
  }
  const dt = performance.now() - t0;
  if (n !== totalLines) throw new Error(`baseline counted ${n} lines, expected ${totalLines}`);
  return totalLines / (dt / 1000);
}

function parse(): number {
  const t0 = performance.now();
  const p = new LogParser();
  let n = 0;
  for (let i = 0; i < bytes.length; i += CHUNK) n += p.feed(bytes.subarray(i, i + CHUNK)).length;
  n += p.end().length;
  const dt = performance.now() - t0;
  if (n === 0) throw new Error('no records');
  return totalLines / (dt / 1000);
}

for (let i = 0; i < 2; i++) {
  baseline();
  parse();
}
const base = median(Array.from({ length: 5 }, baseline));
const rate = median(Array.from({ length: 5 }, parse));
report('parse rate', rate / 1000, 'k lines/s', { name: 'line split', value: base / 1000 }, '>= 200 k lines/s');

// Memory in a fresh process, so the numbers are the buffer's and not this benchmark's data. The
// process runs this file bundled by esbuild under plain node, as the shipped CLI runs: the tsx
// loader would add its own worker thread (tens of MB) to the RSS.
const bundleDir = mkdtempSync(join(tmpdir(), 'logs-bench-'));
const bundled = join(bundleDir, 'logs-bench.mjs');
const { build } = await import('esbuild');
await build({
  entryPoints: [fileURLToPath(import.meta.url)],
  outfile: bundled,
  bundle: true,
  platform: 'node',
  format: 'esm',
  logLevel: 'error',
  external: ['esbuild'],
});
const child = spawnSync(process.execPath, [bundled, '--memory', SAMPLES_FILE], { encoding: 'utf8' });
rmSync(bundleDir, { recursive: true, force: true });
process.stdout.write(child.stdout);
if (child.status !== 0) {
  process.stderr.write(child.stderr);
  process.exit(1);
}

/** 1M records through parser + LogBuffer with a filter active, as the Logs pane holds them. */
function memoryRun(): void {
  const rssBefore = process.memoryUsage().rss;
  const buf = new LogBuffer(Number(process.env.LOG_CAP ?? DEFAULT_CAPACITY));
  buf.setFilter({ ...DEFAULT_FILTER, minLevel: 'debug', text: 'enoent' });
  const parser = new LogParser();
  const t0 = performance.now();
  // Feed the sample unit in 64 KiB chunks until 1M records went in (no 1M-line text is built).
  const block = Buffer.from(unit.repeat(Math.ceil(CHUNK / unit.length)));
  let peak = 0;
  while (buf.total < 1_000_000) {
    for (const r of parser.feed(block)) buf.append(r);
    if ((buf.total & 0xffff) < 500) peak = Math.max(peak, process.memoryUsage().rss);
  }
  for (const r of parser.end()) buf.append(r);
  const ingest = performance.now() - t0;
  const rssNoGc = process.memoryUsage().rss;
  // A full GC, so the second number is what the buffer retains rather than collector lag.
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const mu = process.memoryUsage();
  report(
    `ingest 1M records into LogBuffer(${buf.ring.capacity}) with a text filter`,
    buf.total / (ingest / 1000) / 1000,
    'k records/s',
  );
  console.log(`  records held: ${buf.size}, matching filter: ${buf.length}`);
  report(
    'RSS after 1M records (no forced GC)',
    Math.max(rssNoGc, peak) / 2 ** 20,
    'MB',
    { name: 'process start', value: rssBefore / 2 ** 20 },
    '< 200 MB',
  );
  report(
    'RSS after 1M records, after a full GC',
    mu.rss / 2 ** 20,
    'MB',
    { name: 'process start', value: rssBefore / 2 ** 20 },
    '< 200 MB',
  );
  report('JS heap in use after GC', mu.heapUsed / 2 ** 20, 'MB');
  console.log(
    `  heapTotal ${(mu.heapTotal / 2 ** 20).toFixed(1)} MB, external ${(mu.external / 2 ** 20).toFixed(1)} MB, arrayBuffers ${(mu.arrayBuffers / 2 ** 20).toFixed(1)} MB`,
  );
  const t1 = performance.now();
  buf.setFilter({ ...DEFAULT_FILTER, minLevel: 'error', includeRaw: false });
  report(`re-filter ${buf.size} records`, performance.now() - t1, 'ms');
}
