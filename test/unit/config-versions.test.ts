// Version rules at patch level: Occlum changed the shape of env in a patch release (0.12.1), so a
// config is judged by the rules of the exact release it names. The configs here are written for
// this test in the shapes those releases' LibOS parsed (src/libos/src/config.rs at each tag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
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
