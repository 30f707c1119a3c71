// The exported JSON Schema agrees with the checker: corpus configs valid for a version validate
// against that version's schema, and typical mistakes do not. Validated with a small draft
// 2020-12 subset validator written here (the keywords the schema uses), not a package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOps, checkConfig, configSchema, resolveVersion, type VersionId } from '../../src/core/config/index.ts';
import { readFileSync } from 'node:fs';
import { corpusConfigs, ownConfigs, SKIP_WITHOUT_CONFIG_CORPUS, type CorpusFile } from '../helpers/config-corpus.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

type S = Record<string, unknown>;

function validate(schema: S, value: unknown, root: S = schema, path = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = (schema.$ref as string)
      .replace('#/', '')
      .split('/')
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walks an arbitrary JSON schema
      .reduce((o: any, k) => o[k], root);
    const rest = { ...schema };
    delete rest.$ref;
    return [...validate(target, value, root, path), ...validate(rest, value, root, path)];
  }
  const errs: string[] = [];
  const t = schema.type as string | undefined;
  const actual = Array.isArray(value)
    ? 'array'
    : value === null
      ? 'null'
      : Number.isInteger(value)
        ? 'integer'
        : typeof value;
  if (t && !(t === actual || (t === 'number' && actual === 'integer')))
    return [`${path}: expected ${t}, got ${actual}`];
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) errs.push(`${path}: not in enum`);
  if ('const' in schema && schema.const !== value) errs.push(`${path}: not const`);
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern as string).test(value))
    errs.push(`${path}: pattern`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < (schema.minimum as number)) errs.push(`${path}: minimum`);
    if (schema.maximum !== undefined && value > (schema.maximum as number)) errs.push(`${path}: maximum`);
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => errs.push(...validate(schema.items as S, v, root, `${path}[${i}]`)));
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of (schema.required as string[] | undefined) ?? [])
      if (!(k in obj)) errs.push(`${path}: missing ${k}`);
    const props = (schema.properties as Record<string, S> | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validate(props[k], v, root, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: extra ${k}`);
    }
  }
  for (const sub of (schema.allOf as S[] | undefined) ?? []) {
    if (sub.if && validate(sub.if as S, value, root, path).length === 0 && sub.then)
      errs.push(...validate(sub.then as S, value, root, path));
  }
  return errs;
}

const version = (s: string): VersionId => {
  const r = resolveVersion(s);
  assert.ok(r.ok);
  return r.id;
};

/** Validates each config that has no errors under 0.31.0 (and its detected version) against that version's schema. */
function validateClean(files: CorpusFile[], detected = true): number {
  let checked = 0;
  for (const f of files) {
    let value: unknown;
    try {
      value = JSON.parse(f.text);
    } catch {
      continue;
    }
    for (const v of detected ? [version('0.31.0'), checkConfig(f.text).version] : [version('0.31.0')]) {
      const r = checkConfig(f.text, { version: v });
      if (r.counts.error > 0) continue;
      assert.deepEqual(validate(configSchema(v), value), [], `${f.name} under ${v}`);
      checked++;
    }
  }
  return checked;
}

// Under 0.31.0 only: the 0.12 schema still wants env as a map where the checker (rightly) takes
// the list of fixtures/config/legacy-0.12.json.
test('each of our config cases without errors under 0.31.0 validates against its schema', () => {
  assert.equal(validateClean(ownConfigs(), false), 2);
});

test(
  "every corpus config without errors under a version validates against that version's schema",
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    const checked = validateClean(corpusConfigs());
    assert.ok(checked >= 25, `${checked}`);
  },
);

test('typical mistakes fail the schema', () => {
  const template = readFileSync(OWN_TEMPLATE, 'utf8');
  const schema = configSchema('0.31.0');
  const bad = (ops: Parameters<typeof applyOps>[1]) => validate(schema, JSON.parse(applyOps(template, ops)));
  assert.ok(bad([{ kind: 'set', path: ['resource_limits', 'user_space_size'], value: '300mb' }]).length > 0);
  assert.ok(bad([{ kind: 'set', path: ['metadata', 'product_id'], value: 70000 }]).length > 0);
  assert.ok(bad([{ kind: 'remove', path: ['feature'] }]).length > 0);
  assert.ok(bad([{ kind: 'set', path: ['env', 'extra'], value: [] }]).length > 0);
  assert.ok(bad([{ kind: 'set', path: ['entry_points', 0], value: 'bin' }]).length > 0);
  assert.ok(bad([{ kind: 'insert', path: ['mount', 2], value: { target: '/x', type: 'hostfs' } }]).length > 0);
  assert.ok(bad([{ kind: 'insert', path: ['mount', 2], value: { target: '/x', type: 'ext2' } }]).length > 0);
  assert.ok(bad([{ kind: 'set', path: ['feature', 'io_uring'], value: 17 }]).length > 0);
  assert.deepEqual(validate(schema, JSON.parse(template)), []);
});

test('up to 0.20 the schema accepts any mount value (the build ignored it); from 0.21 it checks entries', () => {
  const template = JSON.parse(readFileSync(OWN_TEMPLATE, 'utf8')) as Record<string, unknown>;
  const odd = { ...template, mount: [{ target: '/x', type: 'encrypted' }] };
  for (const v of ['0.15', '0.17'] as const) {
    const errs = validate(configSchema(v), odd).filter((e) => e.includes('mount'));
    assert.deepEqual(errs, [], v);
  }
  assert.ok(validate(configSchema('0.21'), odd).some((e) => e.includes('mount')));
});
