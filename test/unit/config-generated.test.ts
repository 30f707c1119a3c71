// Files `occlum build` generates, checked by mistake as an Occlum.json: one finding naming the file,
// not a page of false errors; and no user config is ever taken for one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../src/core/config/index.ts';
import { corpusConfigs, ownConfigs, SKIP_WITHOUT_CONFIG_CORPUS } from '../helpers/config-corpus.ts';
import { CONFIG_CORPUS, needsCorpus, WAMR_FIXTURE } from '../helpers/paths.ts';

const findings = (text: string) => checkConfig(text).diagnostics.map((d) => `${d.code}: ${d.message}`);

test('each kind of generated file gets one error naming it and what to edit instead', () => {
  const cases: [string, string][] = [
    ['{"image_type": "encrypted"}', 'build/image_config.json'],
    [
      JSON.stringify({
        resource_limits: { user_space_init_size: '314572800B', user_space_max_size: '314572800B' },
        process: {},
        env: { default: [], untrusted: [] },
        disable_log: false,
        app: [{ stage: 'init', entry_points: ['/bin'], mount: [] }],
        feature: {},
      }),
      'build/.Occlum_sys.json',
    ],
    ['<?xml version="1.0"?>\n<EnclaveConfiguration><ProdID>0</ProdID></EnclaveConfiguration>', 'build/Enclave.xml'],
    ['0c-fc-fa-28-15-a2-1b-17-ca-42-1a-69-fb-68-58-2e', '.ROOT_MAC'],
  ];
  for (const [text, file] of cases) {
    const f = findings(text);
    assert.equal(f.length, 1, f.join('\n'));
    assert.match(f[0]!, /^generated-file: this is /);
    assert.ok(f[0]!.includes(file), f[0]);
    assert.match(f[0]!, /edit is the instance's Occlum\.json/);
  }
});

test("a user's Occlum.json with the template's empty MAC placeholder is checked as usual", () => {
  const own = ownConfigs();
  assert.ok(own.length > 0);
  for (const c of own) assert.ok(!findings(c.text).some((f) => f.startsWith('generated-file')), c.name);
  // The key alone is not the build's mark: an image_config-like key next to real sections.
  assert.ok(!findings('{"image_type": "x", "resource_limits": {}}').some((f) => f.startsWith('generated-file')));
});

test(
  'the real 0.28 build artefacts are recognised, and no real user config is taken for one',
  { skip: SKIP_WITHOUT_CONFIG_CORPUS || needsCorpus(WAMR_FIXTURE) },
  () => {
    const dir = join(CONFIG_CORPUS, 'generated');
    const generated = readdirSync(dir).map((n) => join(dir, n));
    generated.push(join(WAMR_FIXTURE, 'build', 'Occlum.json'), join(WAMR_FIXTURE, 'build', '.Occlum_sys.json'));
    assert.ok(generated.length >= 8);
    for (const p of generated) {
      const f = findings(readFileSync(p, 'utf8'));
      assert.equal(f.length, 1, `${p}:\n${f.join('\n')}`);
      assert.match(f[0]!, /^generated-file: /, p);
    }
    const users = [
      ...corpusConfigs(),
      { name: 'wamr Occlum.json', text: readFileSync(join(WAMR_FIXTURE, 'Occlum.json'), 'utf8') },
    ];
    for (const c of users) assert.ok(!findings(c.text).some((f) => f.startsWith('generated-file')), c.name);
  },
);
