// The validator against real configs: no crash, zero errors for configs under the rules of the
// version they were written for, and every failure INDEX.md lists reported under 0.31.0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyTextEdits, checkConfig, resolveVersion, type Diagnostic } from '../../src/core/config/index.ts';
import { corpusAllFiles, corpusConfigs, indexVerdicts, SKIP_WITHOUT_CONFIG_CORPUS } from '../helpers/config-corpus.ts';
import { CONFIG_CORPUS } from '../helpers/paths.ts';

const v = (s: string) => {
  const r = resolveVersion(s);
  assert.ok(r.ok);
  return r.id;
};

const show = (ds: Diagnostic[]) => ds.map((d) => `${d.line}:${d.column} ${d.severity} ${d.message}`).join('\n');

test(
  'every corpus file is handled without a throw and every diagnostic is located',
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    const files = corpusAllFiles();
    assert.ok(files.length >= 30, `corpus has ${files.length} files`);
    for (const f of files) {
      for (const version of [undefined, v('0.31.0'), v('0.20'), v('0.12')]) {
        const r = checkConfig(f.text, { version });
        for (const d of r.diagnostics) {
          assert.ok(d.line >= 1 && d.column >= 1, `${f.name}: unlocated ${d.message}`);
          assert.ok(d.message.length > 0);
        }
      }
    }
  },
);

/** The tag a corpus file of occlum/occlum comes from: its name prefix, or v0.31.0 for occlum/ (INDEX.md). */
function tagOf(name: string): string | undefined {
  if (name.startsWith('occlum/')) return '0.31.0';
  return /^occlum-history\/(v?\d+\.\d+\.\d+)__/.exec(name)?.[1];
}

/** Findings that are real at their own tag: stale demo configs the tag's build tool rejects. */
const REAL_AT_TAG: [RegExp, RegExp][] = [[/maa_json__config__Occlum\w*\.json$/, /^missing field `feature`/]];

test(
  "every occlum/occlum file of a tag, under that tag's rules, gets no false error",
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    let checked = 0;
    for (const f of corpusConfigs()) {
      const tag = tagOf(f.name);
      if (!tag) continue;
      checked++;
      const errors = checkConfig(f.text, { version: v(tag), fileName: f.name.split('__').pop() }).diagnostics.filter(
        (d) => d.severity === 'error',
      );
      const real = REAL_AT_TAG.find(([file]) => file.test(f.name))?.[1];
      const unexpected = errors.filter((d) => !real?.test(d.message));
      assert.deepEqual(
        unexpected.map((d) => d.message),
        [],
        `${f.name} under ${tag}:\n${show(errors)}`,
      );
    }
    assert.ok(checked >= 8, `only ${checked} tagged files in the corpus`);
  },
);

test(
  'configs INDEX.md marks OK get zero errors under 0.31.0; all well-formed ones under their detected version',
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    const verdicts = new Map(indexVerdicts().map((x) => [x.name, x]));
    for (const f of corpusConfigs()) {
      const verdict = verdicts.get(f.name);
      if (verdict?.ok) {
        const r = checkConfig(f.text, { version: v('0.31.0') });
        assert.equal(r.counts.error, 0, `${f.name}:\n${show(r.diagnostics)}`);
      }
      // Failures that no Occlum version accepts (root mount, env lists, overlays) are excluded.
      const inherent = verdict?.items.some((i) =>
        /Mount configuration invalid|env\.untrusted|Source is expected|metadata`|process`/.test(i),
      );
      if (verdict && !inherent) {
        const r = checkConfig(f.text);
        assert.equal(r.counts.error, 0, `${f.name} under detected ${r.version}:\n${show(r.diagnostics)}`);
      }
    }
  },
);

/** Does some diagnostic report what an INDEX verdict item says? */
function reported(item: string, ds: Diagnostic[]): boolean {
  const warn = item.startsWith('warn:');
  const text = item.replace(/^warn:\s*/, '');
  const sev = (d: Diagnostic) => (warn ? d.severity !== 'info' : d.severity === 'error');
  let m: RegExpExecArray | null;
  if ((m = /missing field `(\w+)`/.exec(text)))
    return ds.some((d) => sev(d) && d.message.includes(`missing field \`${m![1]}\``));
  if ((m = /^env\.(\w+) missing/.exec(text)))
    return ds.some((d) => sev(d) && d.message.includes(`missing field \`${m![1]}\``));
  if ((m = /Mount configuration invalid: (Err\(".*"\))/.exec(text)))
    return ds.some((d) => sev(d) && d.message.includes(m![1]!));
  if ((m = /^mount\[(\d+)\]: (Source is expected for \w+)/.exec(text))) {
    return ds.some((d) => sev(d) && d.message.includes(m![2]!) && d.path[0] === 'mount' && d.path[1] === Number(m![1]));
  }
  if ((m = /^unknown key (\S+)/.exec(text))) return ds.some((d) => sev(d) && d.path.join('.') === m![1]);
  if ((m = /^user mount (\S+) duplicates/.exec(text)))
    return ds.some((d) => sev(d) && d.message.includes(`user mount ${m![1]} duplicates`));
  if ((m = /^mount\[(\d+)\]: source '([^']+)'/.exec(text)))
    return ds.some((d) => sev(d) && d.message.includes(`'${m![2]}'`) && d.path[1] === Number(m![1]));
  if ((m = /unknown option '(\w+)'/.exec(text))) return ds.some((d) => sev(d) && d.message.includes(m![1]!));
  // Anything else: Occlum's own wording must appear in a diagnostic.
  return ds.some((d) => sev(d) && d.message.includes(text.replace(/^mount\[\d+\](\.\S+)?:\s*/, '')));
}

test(
  'each failure INDEX.md lists is reported with its cause under 0.31.0 rules',
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    const verdicts = indexVerdicts();
    assert.ok(verdicts.length >= 20);
    let checked = 0;
    for (const verdict of verdicts) {
      const path = join(CONFIG_CORPUS, verdict.name);
      if (!existsSync(path)) continue; // held back
      const f = corpusConfigs().find((c) => c.name === verdict.name)!;
      const r = checkConfig(f.text, { version: v('0.31.0') });
      if (!verdict.ok) assert.ok(r.counts.error > 0, `${verdict.name} should fail under 0.31.0`);
      for (const item of verdict.items) {
        assert.ok(reported(item, r.diagnostics), `${verdict.name}: not reported: ${item}\n${show(r.diagnostics)}`);
        checked++;
      }
    }
    assert.ok(checked > 50, `checked ${checked} verdict items`);
  },
);

test('the migration fix makes every older corpus config pass 0.31.0', { skip: SKIP_WITHOUT_CONFIG_CORPUS }, () => {
  let migrated = 0;
  for (const f of corpusConfigs()) {
    const r = checkConfig(f.text);
    const migrate = r.diagnostics.find((d) => d.code === 'migrate');
    // Only configs of an older shape get the migration offer.
    if (!migrate?.fix) continue;
    const text = applyTextEdits(f.text, migrate.fix.edits);
    const after = checkConfig(text, { version: v('0.31.0') });
    // env.untrusted is added empty; nothing else should remain.
    assert.equal(after.counts.error, 0, `${f.name} after migration:\n${show(after.diagnostics)}\n${text}`);
    migrated++;
  }
  assert.ok(migrated >= 20, `migrated ${migrated}`);
});
