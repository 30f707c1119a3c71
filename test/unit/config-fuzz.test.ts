// Fuzz: our config cases and the corpus files mutated thousands of times (bit flips, truncation, wrong types, huge and
// negative numbers, deep nesting, multi-MB strings, stray comments and commas). The checker must
// never throw and must locate every diagnostic inside the text. Timing is measured in
// test/bench/config.bench.ts, not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTextEdits, checkConfig, LineIndex } from '../../src/core/config/index.ts';
import { corpusConfigs, ownConfigs, SKIP_WITHOUT_CONFIG_CORPUS, type CorpusFile } from '../helpers/config-corpus.ts';
import { mutate, rng } from '../helpers/config-mutate.ts';

function fuzz(corpus: CorpusFile[], seed: number) {
  const r = rng(seed);
  let runs = 0;
  let diagnostics = 0;
  let fixesApplied = 0;
  for (let i = 0; i < 4000; i++) {
    const base = corpus[i % corpus.length]!.text;
    let text = mutate(base, r);
    if (r() < 0.3) text = mutate(text, r, false); // some get two mutations
    const lines = new LineIndex(text);
    for (const version of [undefined, '0.31.0', '0.24'] as const) {
      if (version && r() < 0.6) continue;
      const res = checkConfig(text, { version: version === '0.24' ? '0.24' : version });
      runs++;
      for (const d of res.diagnostics) {
        diagnostics++;
        assert.ok(
          Number.isInteger(d.line) && d.line >= 1 && d.line <= lines.lineCount,
          `line ${d.line} of ${lines.lineCount}: ${d.message}`,
        );
        assert.ok(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`);
        assert.ok(typeof d.message === 'string' && d.message.length > 0);
        assert.notEqual(d.code, 'internal', `rule crashed: ${d.message}`);
        if (d.fix) for (const e of d.fix.edits) assert.ok(e.offset >= 0 && e.offset + e.length <= text.length);
      }
      // Every twentieth input: apply each fix and check again (fixes must never break the checker).
      if (i % 20 === 0 && text.length < 100_000) {
        for (const d of res.diagnostics) {
          if (!d.fix) continue;
          const after = checkConfig(applyTextEdits(text, d.fix.edits), { version: res.version });
          assert.ok(!after.diagnostics.some((x) => x.code === 'internal'), `after fix "${d.fix.title}"`);
          fixesApplied++;
        }
      }
    }
  }
  assert.ok(runs >= 4000, `${runs} runs`);
  assert.ok(diagnostics > runs, `${diagnostics} diagnostics`);
  assert.ok(fixesApplied > 50, `${fixesApplied} fixes applied`);
}

test('thousands of mutated configs of our own: no throw, every diagnostic located', () => {
  fuzz(ownConfigs(), 0x0cc2);
});

test(
  'thousands of mutated corpus configs: no throw, every diagnostic located',
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    fuzz(corpusConfigs(), 0x0cc1);
  },
);
