// Configs of Occlum's non-mainline branches (occlum/ngo, the 1.0.0-preview branch) and shapes met
// in real-world configs the mainline rules misread. Every config here is written for this test in
// the shape those branches' gen_internal_conf and LibOS parse; none is a copy of a public file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTextEdits, checkConfig, detectVersion, parseConfig } from '../../src/core/config/index.ts';

/** The Occlum.yaml shape of the 1.0 preview / NGO since Dec 2022: num_of_cpus, sizes as {init, max}. */
const PREVIEW_YAML = `# hand-written for this test
resource_limits:
  num_of_cpus: 4
  kernel_space_stack_size: 1MB
  kernel_space_heap_size:
    init: 32MB
    max: 256MB
  user_space_size:
    init: 128MB
    max: 1GB
process:
  default_stack_size: 4MB
  default_heap_size: 16MB
entry_points:
  - /bin
env:
  default:
    - OCCLUM=yes
  untrusted:
    - TERM
metadata:
  product_id: 1
  version_number: 2
  debuggable: true
  enable_kss: false
  ext_prod_id:
    high: '0x0'
    low: '0x0'
  pkru: 0
mount:
  - target: /
    type: unionfs
    options:
      layers:
        - target: /
          type: sefs
          source: ./build/mount/__ROOT
          options:
            MAC: ''
        - target: /
          type: async_sfs
          source: ./run/async_sfs_image
          options:
            async_sfs_total_size: 4GB
            page_cache_size: 64MB
  - target: /host
    type: hostfs
    source: .
`;

/** NGO's JSON of 2021 – 2022: min/max_num_of_cpus and no max_num_of_threads. */
function ngoJson(extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      resource_limits: {
        min_num_of_cpus: 1,
        max_num_of_cpus: 8,
        kernel_space_heap_size: '64MB',
        kernel_space_stack_size: '1MB',
        user_space_size: '256MB',
      },
      process: { default_stack_size: '4MB', default_heap_size: '16MB', default_mmap_size: '64MB' },
      entry_points: ['/bin'],
      env: { default: ['OCCLUM=yes'], untrusted: [] },
      metadata: { product_id: 0, version_number: 0, debuggable: true },
      mount: [
        {
          target: '/',
          type: 'unionfs',
          options: {
            layers: [
              { target: '/', type: 'sefs', source: './build/mount/__ROOT', options: { MAC: '' } },
              { target: '/', type: 'sefs', source: './run/mount/__ROOT' },
            ],
          },
        },
        { target: '/tmp', type: 'async_sfs', source: './run/tmp', options: { total_size: '1GB' } },
      ],
      ...extra,
    },
    null,
    4,
  );
}

function codes(text: string, fileName?: string): string[] {
  return checkConfig(text, { fileName }).diagnostics.map((d) => `${d.code}@${d.path.join('.')}`);
}

test('an Occlum.yaml of the 1.0 preview is checked with its own rules: a valid one is clean', () => {
  const r = checkConfig(PREVIEW_YAML, { fileName: 'Occlum.yaml' });
  assert.equal(r.family, 'ngo');
  assert.match(r.rules, /NGO \/ 1\.0-preview/);
  assert.deepEqual(r.diagnostics, []);
  // Recognised by its text too (the Config pane passes no file name).
  assert.equal(checkConfig(PREVIEW_YAML).family, 'ngo');
});

test("NGO's JSON (min/max_num_of_cpus, async_sfs, total_size) is not judged by mainline rules", () => {
  const r = checkConfig(ngoJson());
  assert.equal(r.family, 'ngo');
  assert.deepEqual(r.diagnostics, []);
  // A mainline key decides for mainline: max_num_of_threads or a feature section.
  const mainline = ngoJson({ feature: {} });
  assert.equal(checkConfig(mainline).family, 'occlum');
});

test('Occlum.yaml problems are located at line:col, say what to write and keep the YAML spelling in fixes', () => {
  const text = PREVIEW_YAML.replace('kernel_space_stack_size: 1MB', 'kernel_space_stack_size: 1mb')
    .replace('num_of_cpus: 4', 'num_of_cpu: 4')
    .replace('type: hostfs', 'type: hostf')
    .replace('target: /host', 'target: host')
    .replace('product_id: 1', 'product_id: 70000')
    .replace('default_heap_size: 16MB', 'default_heap_size: 16');
  const r = checkConfig(text, { fileName: 'Occlum.yaml' });
  const by = (code: string) => r.diagnostics.filter((d) => d.code === code);
  const size = by('size-unit')[0]!;
  assert.equal(size.line, 4);
  assert.equal(size.column, 28);
  assert.match(size.message, /"1mb" is not a valid size for resource_limits\.kernel_space_stack_size.*write "1MB"/);
  assert.match(applyTextEdits(text, size.fix!.edits), /kernel_space_stack_size: 1MB\n/);
  const typo = by('unknown-key')[0]!;
  assert.match(typo.message, /"num_of_cpu" in resource_limits.*did you mean "num_of_cpus"\?/);
  assert.match(applyTextEdits(text, typo.fix!.edits), /\n {2}num_of_cpus: 4\n/);
  assert.ok(by('missing-key').some((d) => /num_of_cpus/.test(d.message)));
  const bare = checkConfig('resource_limits:\n  num_of_cpus: 1\n', { fileName: 'Occlum.yaml' }).diagnostics;
  assert.ok(
    bare.some((d) => /missing field `env`.*add it, e\.g\. env: \{default: \["OCCLUM=yes"\], untrusted/.test(d.message)),
  );
  assert.match(by('mount-type')[0]!.message, /Unsupported file system type "hostf".*did you mean "hostfs"/);
  assert.match(by('mount-target')[0]!.message, /Target must be an absolute path: "host"/);
  assert.match(by('range')[0]!.message, /metadata\.product_id is 70000; the largest value allowed is 65535/);
  assert.match(by('type')[0]!.message, /integer `16`, expected a size string.*16B if 16 means bytes/);
  const hex = checkConfig(PREVIEW_YAML.replace('kernel_space_stack_size: 1MB', 'kernel_space_stack_size: 0x100000'));
  assert.match(hex.diagnostics[0]!.message, /integer `0x100000`.*1MB if 0x100000 means bytes/);
});

test('Occlum.yaml that is not one YAML map is a located error, never a throw', () => {
  const cases: [string, RegExp][] = [
    ['', /the file is empty/],
    ['resource_limits:\n\tnum_of_cpus: 1\n', /not valid YAML: Tabs/],
    ['resource_limits: {}\n---\nprocess: {}\n', /a second document starts here/],
    ['a: [1\n', /not valid YAML/],
    ['- just\n- a list\n', /must be a map of sections/],
  ];
  for (const [text, want] of cases) {
    const r = checkConfig(text, { fileName: 'Occlum.yaml' });
    assert.ok(r.counts.error >= 1, text);
    assert.ok(
      r.diagnostics.some((d) => want.test(d.message) && d.line >= 1),
      `${JSON.stringify(text)}: ${r.diagnostics.map((d) => d.message).join(' | ')}`,
    );
  }
});

test('YAML aliases are expanded for checking, and an alias bomb stays cheap', () => {
  const aliased = PREVIEW_YAML.replace(
    'kernel_space_heap_size:\n    init: 32MB\n    max: 256MB',
    'kernel_space_heap_size: &heap\n    init: 32MB\n    max: 256MB',
  ).replace('user_space_size:\n    init: 128MB\n    max: 1GB', 'user_space_size: *heap');
  assert.deepEqual(codes(aliased, 'Occlum.yaml'), []);
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    lines.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  const start = process.hrtime.bigint();
  const r = checkConfig(lines.join('\n') + '\n', { fileName: 'Occlum.yaml' });
  assert.ok(r.counts.warning >= 10); // ten unknown top-level keys, nothing expanded 10^9 times
  assert.ok(process.hrtime.bigint() - start < 30_000_000_000n);
});

test('the NGO root check: a unionfs at / whose layers hold an image SEFS (MAC, or integrity_only in 2021)', () => {
  const noRoot = ngoJson().replace(
    '"target": "/",\n            "type": "unionfs"',
    '"target": "/x",\n            "type": "unionfs"',
  );
  assert.ok(codes(noRoot).includes('mount-root@mount'), codes(noRoot).join(' '));
  const integrityOnly = ngoJson().replace('"MAC": ""', '"integrity_only": true');
  assert.deepEqual(codes(integrityOnly), []);
  const noImage = ngoJson().replace('"MAC": ""', '"temporary": false');
  assert.ok(checkConfig(noImage).diagnostics.some((d) => /the image SEFS in layers is not valid/.test(d.message)));
});

test('a config older than Occlum 0.5 (vm, no env) is placed at 0.12.0, not taken for an overlay', () => {
  const text = JSON.stringify({
    vm: { user_space_size: '128MB' },
    process: { default_stack_size: '4MB', default_heap_size: '16MB', default_mmap_size: '32MB' },
    mount: [
      { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
      // ≤ 0.20 gave integrity-only mounts a MAC too: that is no sign of 0.21's image layer.
      {
        target: '/bin',
        type: 'sefs',
        source: './bin',
        options: { MAC: '00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00' },
      },
    ],
  });
  const d = detectVersion(parseConfig(text).root);
  assert.equal(d.version, '0.12');
  assert.match(d.reasons.join(' '), /older than Occlum 0\.5/);
  const r = checkConfig(text);
  assert.ok(!r.diagnostics.some((x) => x.code === 'overlay'));
  assert.ok(r.diagnostics.some((x) => x.code === 'missing-key' && /`env`/.test(x.message)));
});

test('one name repeated many times in env.default is one warning whose fix keeps the first', () => {
  const base = JSON.parse(ngoJson({ feature: {} })) as { env: { default: string[] } };
  base.env.default = ['OCCLUM=yes', ...Array(40).fill('PYTHONHOME=/opt/python'), 'B=1', 'B=2'];
  const text = JSON.stringify(base, null, 2);
  const dups = checkConfig(text).diagnostics.filter((d) => d.code === 'env-duplicate');
  assert.equal(dups.length, 2);
  const many = dups.find((d) => /PYTHONHOME/.test(d.message))!;
  assert.match(many.message, /sets PYTHONHOME 40 times \(entry 1, then 2, 3, 4, 5, 6, …\)/);
  assert.deepEqual(many.path, ['env', 'default', 2]);
  const fixed = JSON.parse(applyTextEdits(text, many.fix!.edits)) as { env: { default: string[] } };
  assert.deepEqual(fixed.env.default, ['OCCLUM=yes', 'PYTHONHOME=/opt/python', 'B=1', 'B=2']);
  assert.match(dups.find((d) => /\bB\b/.test(d.message))!.message, /sets B twice \(also entry 41\)/);
});

test('a generated .Occlum_sys.json with NGO keys is still named as the generated file', () => {
  const sys = JSON.stringify({
    resource_limits: { num_of_cpus: 2, user_space_init_size: '64MB', user_space_max_size: '1GB' },
    env: { default: [], untrusted: [] },
    app: [
      { stage: 'init', entry_points: ['/bin/init'] },
      { stage: 'app', entry_points: ['/bin'] },
    ],
  });
  const r = checkConfig(sys);
  assert.equal(r.family, 'occlum');
  assert.deepEqual(
    r.diagnostics.map((d) => d.code),
    ['generated-file'],
  );
});

test('YAML in the Occlum.json shape (max_num_of_threads, family_id) gets the mainline rules, not the NGO ones', () => {
  // A project that keeps its config as YAML and converts it with yq before `occlum build`.
  const text = `resource_limits:
  max_num_of_threads: 64
  kernel_space_stack_size: 1MB
  kernel_space_heap_size: 64MB
  user_space_size: 256MB
process:
  default_stack_size: 4MB
  default_heap_size: 32MB
  default_mmap_size: 32MB
entry_points:
  - /bin
env:
  default:
    - OCCLUM=yes
  untrusted:
    - EXAMPLE
metadata:
  product_id: 1
  version_number: 1
  debuggable: true
  enable_kss: false
  family_id:
    high: '0x0'
    low: '0x0'
  ext_prod_id:
    high: '0x0'
    low: '0x0'
  pkru: 0
mount:
  - target: /
    type: unionfs
    options:
      layers:
        - target: /
          type: sefs
          source: ./build/mount/__ROOT
          options:
            MAC: ''
        - target: /
          type: sefs
          source: ./run/mount/__ROOT
  - target: /host
    type: hostfs
    source: .
`;
  const r = checkConfig(text, { fileName: 'occlum.yaml' });
  assert.equal(r.family, 'occlum');
  assert.equal(r.version, '0.30.0'); // metadata.pkru and no feature section
  assert.deepEqual(
    r.diagnostics.map((d) => [d.severity, d.code]),
    [['info', 'yaml-json-shape']],
  );
  assert.match(r.diagnostics[0]!.message, /convert it before the build/);
  // Under 0.31 rules the missing feature section is reported, without a (JSON) fix.
  const v31 = checkConfig(text, { fileName: 'occlum.yaml', version: '0.31.0' });
  const missing = v31.diagnostics.find((d) => d.code === 'missing-key')!;
  assert.match(missing.message, /missing field `feature`/);
  assert.equal(missing.fix, undefined);
  // The same text in Occlum.json is what serde_json cannot read.
  const inJson = checkConfig(text, { fileName: 'Occlum.json' });
  assert.equal(inJson.diagnostics.find((d) => d.code === 'yaml-json-shape')?.severity, 'error');
  // NGO / 1.0-preview YAML keeps its own rules.
  assert.equal(checkConfig(PREVIEW_YAML, { fileName: 'Occlum.yaml' }).family, 'ngo');
});
