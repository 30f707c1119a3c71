// Rules on the shape of the top-level sections: required keys per version, JSON types as
// serde checks them, u32 ranges, duplicate fields, unknown and too-new keys.
import type { Node } from 'jsonc-parser';
import { describeValue, editDistance, members, nearest, type RuleContext } from '../context.ts';
import { childrenOf, isKnown, isRequired, KEYS, keySpec, typeAt, type KeySpec } from '../keys.ts';
import { formatSize } from '../sizes.ts';
import { atLeast, versionIndex } from '../versions.ts';
import type { Fix, JsonPath } from '../types.ts';
import { ROOT_MOUNT } from '../../instance/layout.ts';

/** Canonical key order per object (template order), for inserting missing keys. */
export function canonicalOrder(parent: string): string[] {
  return childrenOf(KEYS, parent).map((k) => k.path.split('.').pop()!);
}

const OBJECT_PARENTS = [
  '',
  'resource_limits',
  'process',
  'env',
  'metadata',
  'metadata.family_id',
  'metadata.ext_prod_id',
  'feature',
  'vm',
];

/** Known-key check for every section; types of known keys; missing required keys. */
export function checkStructure(ctx: RuleContext): void {
  if (ctx.root.type !== 'object') {
    ctx.report(
      'error',
      'type',
      ctx.root,
      [],
      `invalid type: ${describeValue(ctx.root, ctx.raw(ctx.root))}, expected struct OcclumConfiguration: Occlum.json must be a JSON object`,
    );
    return;
  }
  walkObject(ctx, ctx.root, '');
}

function walkObject(ctx: RuleContext, obj: Node, parent: string): void {
  const seen = new Set<string>();
  const pathOf = (key: string): JsonPath => (parent === '' ? [key] : [...parent.split('.'), key]);
  for (const m of members(obj)) {
    const full = parent === '' ? m.key : `${parent}.${m.key}`;
    const spec = keySpec(full);
    if (seen.has(m.key)) {
      ctx.report(
        spec ? 'error' : 'warning',
        'duplicate-key',
        m.keyNode,
        pathOf(m.key),
        spec
          ? `duplicate field \`${m.key}\`: Occlum's build (serde) rejects a key given twice; remove one of them`
          : `"${m.key}" is given twice; JSON readers disagree on which one wins — remove one`,
        { title: `Remove this duplicate "${m.key}"`, edits: [removePropertyEdit(ctx.text, m.prop)] },
      );
      continue;
    }
    seen.add(m.key);
    if (!spec) {
      reportUnknown(ctx, parent, m.key, m.keyNode, pathOf(m.key));
      continue;
    }
    if (!isKnown(spec, ctx.version)) {
      if (spec.since && versionIndex(ctx.version) < versionIndex(spec.since)) {
        ctx.report(
          'warning',
          'key-too-new',
          m.keyNode,
          pathOf(m.key),
          `${full} is read only since Occlum ${spec.since}; Occlum ${ctx.version} silently ignores it`,
        );
      }
      // Keys removed in this version are reported by the legacy rules (with a migration).
      continue;
    }
    // Before 0.21 the build took mount as any JSON value and ignored it (see the mount rules).
    const ignored = full === 'mount' && !atLeast(ctx.version, '0.21');
    if (m.value && !ignored) checkType(ctx, spec, m.value, pathOf(m.key));
    if (m.value?.type === 'object' && typeAt(spec, ctx.version) === 'object' && OBJECT_PARENTS.includes(full))
      walkObject(ctx, m.value, full);
  }
  // Missing required keys, in template order.
  for (const spec of childrenOf(KEYS, parent)) {
    const key = spec.path.split('.').pop()!;
    if (seen.has(key) || !isRequired(spec, ctx.version)) continue;
    if (ctx.handled.has(spec.path)) continue;
    reportMissing(ctx, obj, parent, spec, key);
  }
}

/** Keys the build scripts before gen_internal_conf (≤ 0.16) read with python: a missing one is not a build error. */
const SCRIPT_READ = [
  'process',
  'process.default_stack_size',
  'process.default_heap_size',
  'process.default_mmap_size',
  'env',
  'entry_points',
  'vm',
  'vm.user_space_size',
];

function reportMissing(ctx: RuleContext, obj: Node, parent: string, spec: KeySpec, key: string): void {
  const path: JsonPath = parent === '' ? [key] : [...parent.split('.'), key];
  // serde reports a missing field at the end of the object; point at its closing brace.
  const at = closingBrace(obj);
  let message = `missing field \`${key}\``;
  if (spec.path === 'feature')
    message += ': required since Occlum 0.30.1 (an empty {} is enough; all members are optional)';
  else if (spec.since === '0.26.3')
    message += ': metadata.enable_kss, family_id and ext_prod_id are required since Occlum 0.26.3';
  else if (parent === 'env')
    message += `: the LibOS needs both env.default and env.untrusted and panics at boot without ${spec.path} (the build does not check it)`;
  else if (SCRIPT_READ.includes(spec.path) && !atLeast(ctx.version, '0.17'))
    message += `: Occlum ${ctx.version}'s build script leaves it empty in the internal config and the enclave fails to boot without ${spec.path}`;
  else message += `: Occlum's build fails without ${spec.path}`;
  let fix: Fix | undefined;
  const value = templateFor(ctx, spec);
  if (value !== undefined) {
    const title =
      spec.path === 'feature'
        ? 'Add the `feature` section'
        : spec.since === '0.26.3'
          ? 'Add the KSS keys (enable_kss false, zero IDs)'
          : typeof value === 'object' && value !== null && JSON.stringify(value).length > 24
            ? `Add ${spec.path} with the template values`
            : `Add ${spec.path} with the template value ${JSON.stringify(value)}`;
    const ops =
      spec.since === '0.26.3' && parent === 'metadata'
        ? kssOps(ctx)
        : [{ kind: 'set' as const, path, value, order: canonicalOrder(parent) }];
    fix = ctx.fix(title, ops);
  }
  ctx.report('error', 'missing-key', at, path, message, fix);
}

/** All missing KSS keys at once (one fix for the three keys). */
export function kssOps(ctx: RuleContext) {
  const order = canonicalOrder('metadata');
  const ops = [];
  for (const key of ['enable_kss', 'family_id', 'ext_prod_id']) {
    if (!ctx.get(['metadata', key]))
      ops.push({ kind: 'set' as const, path: ['metadata', key], value: keySpec(`metadata.${key}`)!.template, order });
  }
  return ops;
}

/** Template value; the feature section carries over legacy metadata.pkru/amx values. */
export function templateFor(ctx: RuleContext, spec: KeySpec): unknown {
  if (spec.path === 'feature') {
    const value: Record<string, unknown> = { amx: 0, pkru: 0 };
    if (atLeast(ctx.version, '0.31.0')) value.io_uring = 0;
    value.enable_edmm = false;
    value.enable_posix_shm = false;
    for (const k of ['amx', 'pkru']) {
      const legacy = ctx.get(['metadata', k]);
      if (legacy?.type === 'number' && Number.isInteger(legacy.value) && legacy.value >= 0 && legacy.value <= 2)
        value[k] = legacy.value;
    }
    return value;
  }
  if (spec.path === 'env.untrusted' || spec.path === 'env.default') return [];
  if (spec.path === 'mount') return [ROOT_MOUNT, { target: '/host', type: 'hostfs', source: '.' }];
  if (spec.path === 'metadata' && !atLeast(ctx.version, '0.26.3'))
    return { product_id: 0, version_number: 0, debuggable: true };
  if (spec.path === 'metadata' && atLeast(ctx.version, '0.28') && !atLeast(ctx.version, '0.29.0'))
    return { ...(spec.template as object), pkru: 0 };
  return spec.template;
}

function closingBrace(obj: Node): Node {
  return { type: 'null', offset: Math.max(obj.offset, obj.offset + obj.length - 1), length: 1 } as Node;
}

function reportUnknown(ctx: RuleContext, parent: string, key: string, kn: Node, path: JsonPath): void {
  const specs = childrenOf(KEYS, parent).filter((s) => isKnown(s, ctx.version));
  const present = new Set(members(ctx.get(parent === '' ? [] : parent.split('.')) ?? ctx.root).map((m) => m.key));
  const absent = specs.filter((s) => !present.has(s.path.split('.').pop()!));
  const names = (list: KeySpec[]) => list.map((s) => s.path.split('.').pop()!);
  let suggestion = nearest(key, names(absent));
  // A typo is most often of the required key that is missing (user_space_heap_size for
  // user_space_size): prefer it unless an optional key is clearly closer.
  const required = nearest(key, names(absent.filter((s) => isRequired(s, ctx.version))));
  const dist = (k: string) => editDistance(key.toLowerCase(), k.toLowerCase());
  if (required && suggestion && dist(required) <= dist(suggestion) + 2) suggestion = required;
  const where = parent === '' ? 'top level' : parent;
  const inEnv = parent === 'env';
  // A look-alike letter (Cyrillic і for i) makes the key and the suggestion read the same: name it.
  const odd = [...key].findIndex((c) => c.codePointAt(0)! > 0x7e);
  const oddNote =
    odd >= 0
      ? ` (character ${odd + 1} is U+${[...key][odd]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, not ASCII)`
      : '';
  const message = inEnv
    ? `unknown field \`${key}\`${oddNote} in env: the LibOS accepts only "default" and "untrusted" and panics at boot ("failed to load config")${suggestion ? `; did you mean "${suggestion}"?` : ''}`
    : `unknown key "${key}"${oddNote} in ${where}: Occlum silently ignores it${suggestion ? `; did you mean "${suggestion}"?` : ''}`;
  const fix: Fix | undefined = suggestion
    ? {
        title: `Rename "${key}" to "${suggestion}"`,
        edits: [{ offset: kn.offset, length: kn.length, content: JSON.stringify(suggestion) }],
      }
    : undefined;
  ctx.report(inEnv ? 'error' : 'warning', 'unknown-key', kn, path, message, fix);
}

/** Removes a whole property including its comma (via jsonc-parser). */
function removePropertyEdit(text: string, prop: Node) {
  // Remove from the previous comma (or the property start) to the property end.
  let start = prop.offset;
  let i = start - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  if (text[i] === ',') start = i;
  else {
    // First member: eat the following comma instead.
    let j = prop.offset + prop.length;
    while (j < text.length && /\s/.test(text[j]!)) j++;
    if (text[j] === ',') return { offset: prop.offset, length: j + 1 - prop.offset, content: '' };
  }
  return { offset: start, length: prop.offset + prop.length - start, content: '' };
}

const SERDE_EXPECT: Record<string, string> = {
  object: 'a map',
  size: 'a string',
  u32: 'u32',
  bool: 'a boolean',
  string: 'a string',
  strings: 'a sequence',
  hex: 'a string',
  mounts: 'a sequence',
};

/** serde type check + u32 ranges. Returns false if the value has the wrong type. */
export function checkType(ctx: RuleContext, spec: KeySpec, node: Node, path: JsonPath): boolean {
  const want = typeAt(spec, ctx.version);
  const ok =
    (want === 'object' && node.type === 'object') ||
    ((want === 'size' || want === 'string' || want === 'hex') && node.type === 'string') ||
    (want === 'bool' && node.type === 'boolean') ||
    ((want === 'strings' || want === 'mounts') && node.type === 'array') ||
    (want === 'u32' && node.type === 'number');
  const name = spec.path.split('.').pop()!;
  if (!ok) {
    let fix: Fix | undefined;
    if (want === 'u32' && node.type === 'string' && /^\s*\d+\s*$/.test(node.value))
      fix = ctx.replace(`Use the number ${Number(node.value)}`, node, Number(node.value));
    if (want === 'bool' && node.type === 'number' && (node.value === 0 || node.value === 1))
      fix = ctx.replace(`Use ${node.value === 1}`, node, node.value === 1);
    if (want === 'bool' && node.type === 'string' && /^(true|false)$/.test(node.value))
      fix = ctx.replace(`Use ${node.value}`, node, node.value === 'true');
    if (want === 'size' && node.type === 'number' && Number.isSafeInteger(node.value) && node.value > 0)
      fix = ctx.replace(`Use the size string "${formatSize(node.value)}"`, node, formatSize(node.value));
    if (want === 'strings' && node.type === 'string')
      fix = ctx.fix(`Wrap in a list: ["${node.value}"]`, [{ kind: 'set', path, value: [node.value] }]);
    ctx.report(
      'error',
      'type',
      node,
      path,
      `invalid type: ${describeValue(node, ctx.raw(node))}, expected ${SERDE_EXPECT[want]} for ${spec.path}`,
      fix,
    );
    return false;
  }
  if (want === 'u32') {
    const raw = ctx.raw(node);
    if (/[.eE]/.test(raw)) {
      const n = Number(raw);
      const fix = Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? ctx.replace(`Use ${n}`, node, n) : undefined;
      ctx.report(
        'error',
        'type',
        node,
        path,
        `invalid type: floating point \`${raw.slice(0, 40)}\`, expected u32 for ${spec.path}: write a whole number without a decimal point or exponent`,
        fix,
      );
      return false;
    }
    const n = Number(raw);
    if (n < 0 || n > 0xffffffff || !Number.isFinite(n)) {
      ctx.report(
        'error',
        'range',
        node,
        path,
        `invalid value: integer \`${raw.slice(0, 40)}\`, expected u32 for ${spec.path} (0 to 4294967295)`,
      );
      return false;
    }
    if (spec.max !== undefined && n > spec.max) {
      ctx.report(
        'error',
        'range',
        node,
        path,
        rangeMessage(name, spec.path, n, spec.max),
        ctx.replace(`Use ${spec.max}`, node, spec.max),
      );
      return false;
    }
    if (spec.min !== undefined && n < spec.min) {
      ctx.report(
        'error',
        'range',
        node,
        path,
        `${spec.path} must be at least ${spec.min} (sgx_sign: The value of "TCSNum" is out of range.)`,
        ctx.replace(`Use ${spec.min}`, node, spec.min),
      );
      return false;
    }
  }
  return true;
}

function rangeMessage(name: string, full: string, n: number, max: number): string {
  if (name === 'product_id') return `${full} ${n} is above ${max} (sgx_sign: The value of "ProdID" is out of range.)`;
  if (name === 'version_number')
    return `${full} ${n} is above ${max} (sgx_sign: The value of "ISVSVN" is out of range.)`;
  if (name === 'io_uring')
    return `${full} ${n} is above ${max}: the LibOS asserts "io_uring limit must not exceed 16" at boot`;
  return `${full} ${n} is out of range 0..${max} (0 off, 1 on, 2 the loader decides; sgx_sign rejects larger values)`;
}
