// Version rules at patch level: Occlum changed the shape of env in a patch release (0.12.1), so a
// config is judged by the rules of the exact release it names. The configs here are written for
// this test in the shapes those releases' LibOS parsed (src/libos/src/config.rs at each tag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyTextEdits,
  checkConfig,
  detectVersion,
  parseConfig,
  resolveVersion,
  type VersionId,
} from '../../src/core/config/index.ts';
import { SUPPORTED_OCCLUM } from '../../src/core/config/versions.ts';

/** A ≤ 0.12 config: vm section, root SEFS with integrity_only; `env` given by the caller. */
function config012(env: unknown): string {
  return JSON.stringify(
    {
      vm: { user_space_size: '128MB' },
      process: { default_stack_size: '2MB', default_heap_size: '16MB', default_mmap_size: '64MB' },
      env,
      entry_points: ['/bin'],
      mount: [
        { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
        { target: '/root', type: 'sefs' },
        { target: '/host', type: 'hostfs', source: '.' },
        { target: '/tmp', type: 'ramfs' },
      ],
    },
    null,
    2,
  );
}

const ENV_LIST = config012(['APP=demo']);
const ENV_MAP = config012({ default: ['APP=demo'], untrusted: ['TERM'] });

const rules = (input: string): VersionId => {
  const r = resolveVersion(input);
  assert.ok(r.ok, `${input}: ${r.ok ? '' : r.message}`);
  return r.id;
};

const errors = (text: string, version: string) =>
  checkConfig(text, { version: rules(version) }).diagnostics.filter((d) => d.severity === 'error');

test('0.12.1 and 0.12.2 take env as {default, untrusted}; 0.12.0 and older as a list', () => {
  for (const v of ['0.12.1', '0.12.2', 'v0.12.1', '0.12']) {
    assert.deepEqual(
      errors(ENV_MAP, v).map((d) => d.message),
      [],
      `env map under ${v}`,
    );
    assert.match(
      errors(ENV_LIST, v)
        .map((d) => d.message)
        .join('\n'),
      /env/,
      `env list under ${v} is an error`,
    );
  }
  for (const v of ['0.10.0', '0.11.0', '0.12.0']) {
    assert.deepEqual(
      errors(ENV_LIST, v).map((d) => d.message),
      [],
      `env list under ${v}`,
    );
    assert.match(
      errors(ENV_MAP, v)
        .map((d) => d.message)
        .join('\n'),
      /invalid type: map, expected a sequence/,
      `env map under ${v}`,
    );
  }
});

test('0.12.1: both env lists are required, as the LibOS of 0.12.1 parses them', () => {
  const noUntrusted = config012({ default: ['APP=demo'] });
  assert.match(
    errors(noUntrusted, '0.12.1')
      .map((d) => d.message)
      .join('\n'),
    /missing field `untrusted`/,
  );
});

test('patch releases resolve to their own rule bucket', () => {
  assert.equal(rules('0.12.0'), '0.12');
  assert.equal(rules('0.12.1'), '0.12.1');
  assert.equal(rules('0.12.2'), '0.12.1');
  assert.equal(rules('0.12'), '0.12.1'); // a minor alone means its newest patch
  assert.equal(rules('0.10'), '0.12');
  assert.equal(rules('0.13.1'), '0.13');
});

test('versions outside the supported range are refused with the one supported-range text', () => {
  for (const v of ['0.9.0', '0.5', '0.32.0', '0.32', '1.0.0']) {
    const r = resolveVersion(v);
    assert.equal(r.ok, false, v);
    assert.ok(!r.ok && r.message.includes(`supported are ${SUPPORTED_OCCLUM}`), `${v}: ${!r.ok && r.message}`);
  }
  assert.equal(SUPPORTED_OCCLUM, 'Occlum 0.10.0 to 0.31.x');
});

test('detection: an env map next to the vm section, without resource_limits, places a config at 0.12.1 – 0.12.2', () => {
  const d = detectVersion(parseConfig(ENV_MAP).root);
  assert.equal(d.mixed, false);
  assert.equal(d.version, '0.12.1');
  assert.equal(d.range, '0.12.2');
  assert.equal(detectVersion(parseConfig(ENV_LIST).root).version, '0.12');
});

/** A 0.15 – 0.20 config (resource_limits, metadata, root unionfs with an integrity_only image layer). */
function config015(mount: unknown): string {
  const c: Record<string, unknown> = {
    resource_limits: {
      user_space_size: '256MB',
      kernel_space_heap_size: '32MB',
      kernel_space_stack_size: '1MB',
      max_num_of_threads: 32,
    },
    process: { default_stack_size: '4MB', default_heap_size: '32MB', default_mmap_size: '80MB' },
    entry_points: ['/bin'],
    env: { default: ['OCCLUM=yes'], untrusted: [] },
    metadata: { product_id: 0, version_number: 0, debuggable: true },
  };
  if (mount !== undefined) c.mount = mount;
  return JSON.stringify(c, null, 4);
}

test('up to 0.20 the build ignores the mount section: no mount errors, a note for mounts that will not exist', () => {
  // A plain SEFS root next to a unionfs era, a made-up fs type and an integrity-only /data: all
  // rejected from 0.21 on, never read by the builds before it.
  const text = config015([
    { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
    { target: '/data', type: 'encrypted', options: { integrity_only: true, MAC: '$DATA_MAC' } },
    { target: '/host', type: 'hostfs', source: '.' },
  ]);
  for (const v of ['0.13.0', '0.15.0', '0.16.0', '0.17.0', '0.20.0']) {
    const r = checkConfig(text, { version: rules(v) });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.message),
      [],
      `under ${v}`,
    );
    const note = r.diagnostics.find((d) => d.code === 'mount-ignored');
    assert.ok(note, v);
    assert.deepEqual(note.path, ['mount', 1]);
    assert.match(note.message, /ignores the mount section.*\/data will not exist/);
  }
  assert.ok(errors(text, '0.21.0').some((d) => d.code === 'mount-root'));
  assert.ok(errors(text, '0.21.0').some((d) => d.code === 'mount-type'));
  // The template's own mounts get no note.
  const plain = config015([
    { target: '/', type: 'unionfs', options: { layers: [] } },
    { target: '/host', type: 'hostfs', source: '.' },
    { target: '/tmp', type: 'sefs', options: { temporary: true } },
  ]);
  assert.deepEqual(
    checkConfig(plain, { version: rules('0.17.0') }).diagnostics.filter((d) => d.code !== 'migrate'),
    [],
  );
});

test('mount: not read before 0.17, required (any value) by gen_internal_conf 0.17 – 0.20', () => {
  const none = config015(undefined);
  for (const v of ['0.13.0', '0.15.1', '0.16.0']) assert.deepEqual(errors(none, v), [], v);
  for (const v of ['0.17.0', '0.20.0', '0.21.0'])
    assert.match(
      errors(none, v)
        .map((d) => d.message)
        .join('\n'),
      /missing field `mount`/,
      v,
    );
  // gen_internal_conf 0.17 – 0.20 deserialised it as serde_json::Value.
  assert.deepEqual(errors(config015('anything'), '0.18.1'), []);
  assert.match(errors(config015('anything'), '0.21.0')[0]!.message, /invalid type/);
  // Migration replaces a value 0.31 cannot read with the standard mounts.
  const migrate = checkConfig(config015('anything')).diagnostics.find((d) => d.code === 'migrate')!;
  assert.deepEqual(errors(applyTextEdits(config015('anything'), migrate.fix!.edits), '0.31.0'), []);
});

test('0.10 – 0.12.x: entry_points is required (the build script reads it); older shapes are dated and migrated', () => {
  const noEntry = JSON.stringify({
    vm: { user_space_size: '128MB' },
    process: { default_stack_size: '4MB', default_heap_size: '16MB', default_mmap_size: '32MB' },
    env: ['OCCLUM=yes'],
    mount: [{ target: '/', type: 'sefs', source: './image', options: { integrity_only: true } }],
  });
  for (const v of ['0.10.0', '0.12.0']) {
    const e = errors(noEntry, v);
    assert.equal(e.length, 1, v);
    assert.match(e[0]!.message, /missing field `entry_points`: .*build script leaves it empty.*fails to boot/);
    assert.equal(e[0]!.fix?.title, 'Add entry_points with the template value ["/bin"]');
  }
  const d = detectVersion(parseConfig(noEntry).root);
  assert.equal(d.version, '0.12');
  assert.match(d.reasons.join(' '), /vm without entry_points: an Occlum 0\.5 – 0\.6 config/);
  // Migration brings what those versions lacked (entry_points; env and mount for older ones).
  const bare = JSON.stringify({ vm: { user_space_size: '64MB' }, process: JSON.parse(noEntry).process });
  for (const text of [noEntry, bare]) {
    const migrate = checkConfig(text).diagnostics.find((x) => x.code === 'migrate')!;
    const out = applyTextEdits(text, migrate.fix!.edits);
    assert.deepEqual(
      errors(out, '0.31.0').map((x) => x.message),
      [],
      out,
    );
    assert.deepEqual(JSON.parse(out).entry_points, ['/bin']);
  }
});

test('migration drops integrity_only from every mount, not only the root', () => {
  const text = config015([
    {
      target: '/',
      type: 'unionfs',
      options: {
        layers: [
          { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
          { target: '/', type: 'sefs' },
        ],
      },
    },
    {
      target: '/ro',
      type: 'sefs',
      source: './ro',
      options: { integrity_only: true, MAC: '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff' },
    },
  ]);
  const migrate = checkConfig(text).diagnostics.find((x) => x.code === 'migrate')!;
  const out = applyTextEdits(text, migrate.fix!.edits);
  assert.deepEqual(JSON.parse(out).mount[1].options, { MAC: '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff' });
  assert.deepEqual(
    checkConfig(out, { version: '0.31.0' })
      .diagnostics.filter((x) => x.severity !== 'info')
      .map((x) => x.message),
    [],
  );
});

test('explicit /proc and /dev in a shape that also fits versions before 0.29.6: a note, not a warning', () => {
  // The 0.28 template's shape (metadata.pkru, no feature): detected as 0.28 – 0.30.0.
  const text = JSON.stringify(
    {
      ...JSON.parse(config015(undefined)),
      metadata: {
        product_id: 0,
        version_number: 0,
        debuggable: true,
        enable_kss: false,
        family_id: { high: '0x0', low: '0x0' },
        ext_prod_id: { high: '0x0', low: '0x0' },
        pkru: 0,
      },
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
        { target: '/proc', type: 'procfs' },
        { target: '/dev', type: 'devfs' },
      ],
    },
    null,
    2,
  );
  const legacy = (version?: string) =>
    checkConfig(text, version ? { version: rules(version) } : {})
      .diagnostics.filter((d) => d.code === 'legacy-mount')
      .map((d) => d.severity);
  assert.deepEqual(legacy(), ['info', 'info']);
  assert.deepEqual(legacy('0.30.0'), ['warning', 'warning']); // the user says which version
  assert.deepEqual(legacy('0.29.5'), []);
});
