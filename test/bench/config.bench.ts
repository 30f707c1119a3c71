// Config checker speed: per corpus file against JSON.parse of the same text (baseline measured in
// this run), and the worst mutated inputs of the fuzz test (goal: every file under 1 s).
import { checkConfig } from '../../src/core/config/index.ts';
import { corpusConfigs } from '../helpers/config-corpus.ts';
import { mutate, rng } from '../helpers/config-mutate.ts';
import { median, percentile, report } from './helpers.ts';

const corpus = corpusConfigs();
const ROUNDS = 30;

function timeEach(fn: (text: string) => unknown, texts: string[]): number[] {
  const out: number[] = [];
  for (const t of texts) {
    const t0 = performance.now();
    fn(t);
    out.push(performance.now() - t0);
  }
  return out;
}

const texts = corpus.map((f) => f.text);
// Warm up the JIT on both.
for (let i = 0; i < 5; i++) {
  timeEach((t) => checkConfig(t), texts);
  timeEach((t) => {
    try {
      JSON.parse(t);
    } catch {
      /* comments */
    }
  }, texts);
}
const check: number[] = [];
const parse: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  check.push(...timeEach((t) => checkConfig(t, { version: '0.31.0' }), texts));
  parse.push(
    ...timeEach((t) => {
      try {
        JSON.parse(t);
      } catch {
        /* comments */
      }
    }, texts),
  );
}
const base = { name: 'JSON.parse', value: median(parse) * 1000 };
report('check, median per corpus file', median(check) * 1000, 'µs', base);
report('check, p99 per corpus file', percentile(check, 99) * 1000, 'µs', base);

// Mutated inputs (same generator as the fuzz test), including multi-MB strings and deep nesting.
const r = rng(0xbe7c);
const mutated: number[] = [];
const mutatedParse: number[] = [];
let worst = { ms: 0, size: 0 };
for (let i = 0; i < 2000; i++) {
  const text = mutate(texts[i % texts.length]!, r);
  const t0 = performance.now();
  checkConfig(text);
  const ms = performance.now() - t0;
  mutated.push(ms);
  const t1 = performance.now();
  try {
    JSON.parse(text);
  } catch {
    /* invalid */
  }
  mutatedParse.push(performance.now() - t1);
  if (ms > worst.ms) worst = { ms, size: text.length };
}
const mbase = { name: 'JSON.parse', value: median(mutatedParse) * 1000 };
report('check, median per mutated file', median(mutated) * 1000, 'µs', mbase);
report(
  'check, slowest mutated file',
  worst.ms,
  'ms',
  undefined,
  `under 1000 ms (size ${(worst.size / 1024).toFixed(0)} KiB)`,
);
if (worst.ms > 1000) {
  console.error('FAIL: a file took more than 1 s');
  process.exitCode = 1;
}

// Hostile padding: 50 MiB of spaces before the closing brace (issue 11; was 41 s and 2.9 GB).
const padded = texts[0]!.trimEnd().replace(/}$/, `${' '.repeat(50 << 20)}}`);
const tp = performance.now();
checkConfig(padded);
const paddedMs = performance.now() - tp;
const tj = performance.now();
try {
  JSON.parse(padded);
} catch {
  /* comments */
}
report(
  'check, 50 MiB of padding',
  paddedMs,
  'ms',
  { name: 'JSON.parse', value: performance.now() - tj },
  'under 1000 ms (was 41 s)',
);
