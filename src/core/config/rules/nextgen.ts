// Rules for the configs of Occlum's non-mainline branches: occlum/ngo ("Next-Gen Occlum", JSON
// until Nov 2022, then Occlum.yaml) and the 1.0.0-preview branch of occlum/occlum (Occlum.yaml).
// Read from their tools/gen_internal_conf (serde structs) and src/libos/src/config.rs. Their keys
// changed along the way (min/max_num_of_cpus became num_of_cpus, sizes became {init, max}), so a
// key is required only where every revision requires it, and the alternatives are accepted.
import type { Node } from 'jsonc-parser';
import { describeValue, members, nearest, type RuleContext } from '../context.ts';
import { formatSize, parseSize } from '../sizes.ts';
import type { JsonPath } from '../types.ts';

type NgType = 'object' | 'size' | 'dynsize' | 'u32' | 'bool' | 'string' | 'strings' | 'mounts' | 'socks';

interface NgKey {
  type: NgType;
  /** Required in every revision; 'yaml': in every Occlum.yaml revision. */
  required?: boolean | 'yaml';
  max?: number;
}

const NG_KEYS: Record<string, NgKey> = {
  resource_limits: { type: 'object', required: true },
  'resource_limits.num_of_cpus': { type: 'u32' },
  'resource_limits.min_num_of_cpus': { type: 'u32' },
  'resource_limits.max_num_of_cpus': { type: 'u32' },
  'resource_limits.kernel_space_stack_size': { type: 'size', required: true },
  'resource_limits.kernel_space_heap_size': { type: 'dynsize', required: true },
  'resource_limits.user_space_size': { type: 'dynsize', required: true },
  process: { type: 'object', required: true },
  'process.default_stack_size': { type: 'size', required: true },
  'process.default_heap_size': { type: 'size', required: true },
  'process.default_mmap_size': { type: 'size' },
  entry_points: { type: 'strings', required: true },
  env: { type: 'object', required: true },
  'env.default': { type: 'strings', required: true },
  'env.untrusted': { type: 'strings', required: true },
  untrusted_unix_socks: { type: 'socks' },
  metadata: { type: 'object', required: true },
  'metadata.product_id': { type: 'u32', required: true, max: 65535 },
  'metadata.version_number': { type: 'u32', required: true, max: 65535 },
  'metadata.debuggable': { type: 'bool', required: true },
  'metadata.enable_kss': { type: 'bool', required: 'yaml' },
  'metadata.family_id': { type: 'object' },
  'metadata.family_id.high': { type: 'string', required: true },
  'metadata.family_id.low': { type: 'string', required: true },
  'metadata.ext_prod_id': { type: 'object', required: 'yaml' },
  'metadata.ext_prod_id.high': { type: 'string', required: true },
  'metadata.ext_prod_id.low': { type: 'string', required: true },
  'metadata.pkru': { type: 'u32', required: 'yaml', max: 2 },
  mount: { type: 'mounts', required: true },
};

/** What the 1.0-preview template writes for each required key (the hint of a missing-key error). */
const EXAMPLES: Record<string, unknown> = {
  resource_limits: { num_of_cpus: 128, kernel_space_stack_size: '1MB' },
  kernel_space_stack_size: '1MB',
  kernel_space_heap_size: { init: '32MB', max: '512MB' },
  user_space_size: { init: '300MB', max: '64GB' },
  process: { default_stack_size: '4MB', default_heap_size: '32MB' },
  default_stack_size: '4MB',
  default_heap_size: '32MB',
  entry_points: ['/bin'],
  env: { default: ['OCCLUM=yes'], untrusted: ['EXAMPLE'] },
  default: ['OCCLUM=yes'],
  untrusted: ['EXAMPLE'],
  metadata: { product_id: 0, version_number: 0, debuggable: true },
  product_id: 0,
  version_number: 0,
  debuggable: true,
  enable_kss: false,
  ext_prod_id: { high: '0x0', low: '0x0' },
  high: '0x0',
  low: '0x0',
  pkru: 0,
  mount: [{ target: '/', type: 'unionfs', options: { layers: '…' } }],
};

/** `key: value` in the file's own syntax, on one line. */
function example(name: string, yaml: boolean): string {
  const v = JSON.stringify(EXAMPLES[name] ?? '…').replace(/,(?=\S)/g, ', ');
  return yaml ? `${name}: ${v.replace(/"([A-Za-z_]\w*)":/g, '$1: ')}` : `"${name}": ${v}`;
}

const MOUNT_FIELDS: Record<string, NgType> = { type: 'string', target: 'string', source: 'string', options: 'object' };
const MOUNT_OPTIONS: Record<string, NgType> = {
  MAC: 'string',
  layers: 'mounts',
  temporary: 'bool',
  total_size: 'size',
  async_sfs_total_size: 'size',
  page_cache_size: 'size',
  autokey_policy: 'u32',
  sefs_cache_size: 'size',
  // NGO revisions of 2021 kept the 0.15 – 0.20 image layer: integrity_only instead of MAC.
  integrity_only: 'bool',
};
const NG_FS_TYPES = ['sefs', 'hostfs', 'ramfs', 'unionfs', 'devfs', 'procfs', 'async_sfs'];

const EXPECT: Record<NgType, string> = {
  object: 'a map',
  size: 'a size string such as "32MB"',
  dynsize: 'a size ("32MB") or {init, max}',
  u32: 'a whole number (u32)',
  bool: 'true or false',
  string: 'a string',
  strings: 'a list of strings',
  mounts: 'a list of mounts',
  socks: 'a list of {host, libos}',
};

/** The shape is one of the non-mainline branches' (keys no released Occlum reads). */
export function nextGenEvidence(root: Node | undefined, yaml: boolean): string | undefined {
  const ngo = ngoKey(root);
  if (ngo) return ngo;
  // YAML in the Occlum.json shape (converted with yq before a mainline build) is no NGO config.
  if (yaml && !mainlineShaped(root)) return 'Occlum.yaml (1.0 preview / NGO branches)';
  return undefined;
}

/** A key only the NGO / 1.0-preview shape has. */
function ngoKey(root: Node | undefined): string | undefined {
  if (root?.type !== 'object') return undefined;
  const rl = child(root, 'resource_limits');
  if (child(rl, 'max_num_of_threads') || child(root, 'feature')) return undefined;
  for (const k of ['num_of_cpus', 'min_num_of_cpus', 'max_num_of_cpus'])
    if (child(rl, k)) return `resource_limits.${k} (NGO / 1.0 preview)`;
  for (const k of ['kernel_space_heap_size', 'user_space_size'])
    if (child(rl, k)?.type === 'object') return `resource_limits.${k} as {init, max} (NGO / 1.0 preview)`;
  if (child(root, 'untrusted_unix_socks')) return 'untrusted_unix_socks (NGO / 1.0 preview)';
  return undefined;
}

/** Keys the NGO / 1.0-preview shape never has: max_num_of_threads, feature, metadata.family_id. */
export function mainlineShaped(root: Node | undefined): boolean {
  if (root?.type !== 'object') return false;
  return (
    child(child(root, 'resource_limits'), 'max_num_of_threads') !== undefined ||
    child(root, 'feature') !== undefined ||
    child(child(root, 'metadata'), 'family_id') !== undefined
  );
}

function child(obj: Node | undefined, key: string): Node | undefined {
  if (obj?.type !== 'object') return undefined;
  for (const p of obj.children ?? []) if (p.children?.[0]?.value === key) return p.children[1];
  return undefined;
}

export function checkNextGen(ctx: RuleContext, yaml: boolean): void {
  const what = yaml ? 'Occlum.yaml' : 'the config';
  if (ctx.root.type !== 'object') {
    ctx.report('error', 'type', ctx.root, [], `${what} must be a map of sections (resource_limits, process, …)`);
    return;
  }
  walk(ctx, ctx.root, '', yaml);
  const rl = child(ctx.root, 'resource_limits');
  if (rl?.type === 'object' && !child(rl, 'num_of_cpus') && !child(rl, 'max_num_of_cpus')) {
    ctx.report(
      'error',
      'missing-key',
      closeOf(ctx, rl),
      ['resource_limits'],
      'missing field `num_of_cpus` in resource_limits: the 1.0 preview and NGO (Dec 2022 on) read num_of_cpus; ' +
        'earlier NGO revisions read min_num_of_cpus and max_num_of_cpus — add the one your branch reads',
    );
  } else if (rl?.type === 'object' && child(rl, 'max_num_of_cpus') && !child(rl, 'min_num_of_cpus')) {
    ctx.report(
      'error',
      'missing-key',
      closeOf(ctx, rl),
      ['resource_limits'],
      'missing field `min_num_of_cpus` in resource_limits: NGO revisions that read max_num_of_cpus require both',
    );
  }
  const mounts = child(ctx.root, 'mount');
  if (mounts?.type === 'array') checkRoot(ctx, mounts);
}

function walk(ctx: RuleContext, obj: Node, parent: string, yaml: boolean): void {
  const known = Object.keys(NG_KEYS).filter(
    (k) => k.startsWith(parent ? `${parent}.` : '') && !k.slice(parent ? parent.length + 1 : 0).includes('.'),
  );
  const names = known.map((k) => k.split('.').pop()!);
  const seen = new Set<string>();
  for (const m of members(obj)) {
    const full = parent ? `${parent}.${m.key}` : m.key;
    const path = full.split('.') as JsonPath;
    const spec = NG_KEYS[full];
    if (seen.has(m.key)) {
      ctx.report('error', 'duplicate-key', m.keyNode, path, `duplicate field \`${m.key}\`: remove one of them`);
      continue;
    }
    seen.add(m.key);
    if (!spec) {
      const near = nearest(m.key, names);
      ctx.report(
        'warning',
        'unknown-key',
        m.keyNode,
        path,
        `unknown key "${m.key}"${parent ? ` in ${parent}` : ''}: the NGO / 1.0-preview build ignores it` +
          (near ? `; did you mean "${near}"?` : ` (known: ${names.join(', ')})`),
        near && !seen.has(near)
          ? {
              title: `Rename to "${near}"`,
              edits: [
                { offset: m.keyNode.offset, length: m.keyNode.length, content: yaml ? near : JSON.stringify(near) },
              ],
            }
          : undefined,
      );
      continue;
    }
    if (m.value) checkValue(ctx, m.value, spec.type, path, spec.max, yaml);
    if (spec.type === 'object' && m.value?.type === 'object') walk(ctx, m.value, full, yaml);
  }
  for (const k of known) {
    const spec = NG_KEYS[k]!;
    const name = k.split('.').pop()!;
    if (seen.has(name) || !(spec.required === true || (spec.required === 'yaml' && yaml))) continue;
    const where = parent ? ` in ${parent}` : '';
    ctx.report(
      'error',
      'missing-key',
      closeOf(ctx, obj),
      parent ? (parent.split('.') as JsonPath) : [],
      `missing field \`${name}\`${where}: the build of this branch fails without it; add it, e.g. ` +
        example(name, yaml),
    );
  }
}

function checkValue(
  ctx: RuleContext,
  node: Node,
  type: NgType,
  path: JsonPath,
  max: number | undefined,
  yaml: boolean,
): void {
  const where = path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
  const bad = () =>
    ctx.report(
      'error',
      'type',
      node,
      path,
      `invalid type: ${describeValue(node, ctx.raw(node))}, expected ${EXPECT[type]} for ${where}`,
    );
  switch (type) {
    case 'object':
      if (node.type !== 'object') bad();
      return;
    case 'u32':
      if (node.type !== 'number' || !Number.isInteger(node.value) || node.value < 0 || node.value > 0xffffffff)
        return bad();
      if (max !== undefined && node.value > max)
        ctx.report('error', 'range', node, path, `${where} is ${node.value}; the largest value allowed is ${max}`);
      return;
    case 'bool':
      if (node.type !== 'boolean') bad();
      return;
    case 'string':
      if (node.type !== 'string') bad();
      return;
    case 'size':
      return checkSize(ctx, node, path, where, yaml);
    case 'dynsize':
      if (node.type !== 'object') return checkSize(ctx, node, path, where, yaml);
      for (const m of members(node)) {
        if (m.key !== 'init' && m.key !== 'max') {
          ctx.report(
            'warning',
            'unknown-key',
            m.keyNode,
            [...path, m.key],
            `unknown key "${m.key}" in ${where}: only init and max are read`,
          );
        } else if (m.value) checkSize(ctx, m.value, [...path, m.key], `${where}.${m.key}`, yaml);
      }
      requireKeys(
        ctx,
        node,
        ['init', 'max'],
        path,
        (k) => `missing field \`${k}\` in ${where}: give both init and max`,
      );
      return;
    case 'strings':
      if (node.type !== 'array') return bad();
      (node.children ?? []).forEach((c, i) => {
        if (c.type !== 'string') checkValue(ctx, c, 'string', [...path, i], undefined, yaml);
        else if (where === 'entry_points' && !c.value.startsWith('/'))
          ctx.report(
            'error',
            'entry-point',
            c,
            [...path, i],
            `entry point must be an absolute path: "${c.value}" (write it from /, e.g. "/bin")`,
          );
      });
      return;
    case 'socks':
      if (node.type !== 'array') return bad();
      (node.children ?? []).forEach((c, i) => {
        if (c.type !== 'object') return checkValue(ctx, c, 'object', [...path, i], undefined, yaml);
        requireKeys(ctx, c, ['host', 'libos'], [...path, i], (k) => `missing field \`${k}\` in ${where}[${i}]`);
      });
      return;
    case 'mounts':
      if (node.type !== 'array') return bad();
      (node.children ?? []).forEach((c, i) => checkMount(ctx, c, [...path, i], yaml));
      return;
  }
}

function checkSize(ctx: RuleContext, node: Node, path: JsonPath, where: string, yaml: boolean): void {
  if (node.type !== 'string') {
    // A bare number is most likely bytes (what the other Occlum fields count in).
    const n = Number(node.value);
    const spelled = Number.isSafeInteger(n) && n > 0 ? formatSize(n) : undefined;
    const hint = spelled
      ? ` (write it with a unit: ${yaml ? spelled : `"${spelled}"`} if ${ctx.raw(node)} means bytes)`
      : node.type === 'number'
        ? ' (write it with a unit, e.g. 32MB)'
        : '';
    ctx.report(
      'error',
      'type',
      node,
      path,
      `invalid type: ${describeValue(node, ctx.raw(node))}, expected a size string for ${where}${hint}`,
    );
    return;
  }
  const r = parseSize(String(node.value));
  if (r.ok) return;
  const fixTo = r.ok === false && 'suggestion' in r ? r.suggestion : undefined;
  ctx.report(
    'error',
    'size-unit',
    node,
    path,
    `"${node.value}" is not a valid size for ${where}: a size is a whole number followed by ` +
      `KB, MB, GB, TB or B (upper case)${fixTo ? `; write "${fixTo}"` : ''}`,
    fixTo
      ? {
          title: `Change to "${fixTo}"`,
          edits: [{ offset: node.offset, length: node.length, content: yaml ? fixTo : JSON.stringify(fixTo) }],
        }
      : undefined,
  );
}

function checkMount(ctx: RuleContext, m: Node, path: JsonPath, yaml: boolean): void {
  const where = `mount entry ${path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[')}`;
  if (m.type !== 'object') {
    ctx.report(
      'error',
      'type',
      m,
      path,
      `invalid type: ${describeValue(m, ctx.raw(m))}, expected a mount {type, target, …} for ${where}`,
    );
    return;
  }
  for (const f of members(m)) {
    const t = MOUNT_FIELDS[f.key];
    if (!t) {
      const near = nearest(f.key, Object.keys(MOUNT_FIELDS));
      ctx.report(
        'warning',
        'unknown-key',
        f.keyNode,
        [...path, f.key],
        `unknown key "${f.key}" in ${where}: ignored${near ? `; did you mean "${near}"?` : ''}`,
      );
      continue;
    }
    if (!f.value) continue;
    if (f.key === 'options') {
      if (f.value.type !== 'object') {
        checkValue(ctx, f.value, 'object', [...path, 'options'], undefined, yaml);
        continue;
      }
      for (const o of members(f.value)) {
        const ot = MOUNT_OPTIONS[o.key];
        const op = [...path, 'options', o.key];
        if (!ot) {
          const near = nearest(o.key, Object.keys(MOUNT_OPTIONS));
          ctx.report(
            'warning',
            'unknown-key',
            o.keyNode,
            op,
            `unknown mount option "${o.key}" in ${where}: ignored${near ? `; did you mean "${near}"?` : ''}`,
          );
        } else if (o.value) checkValue(ctx, o.value, ot, op, undefined, yaml);
      }
    } else checkValue(ctx, f.value, t, [...path, f.key], undefined, yaml);
  }
  const type = child(m, 'type');
  const target = child(m, 'target');
  if (!type) ctx.report('error', 'missing-key', closeOf(ctx, m), path, `missing field \`type\` in ${where}`);
  else if (type.type === 'string' && !NG_FS_TYPES.includes(type.value)) {
    const near = nearest(type.value, NG_FS_TYPES);
    ctx.report(
      'error',
      'mount-type',
      type,
      [...path, 'type'],
      `Unsupported file system type "${type.value}" in ${where}: use one of ${NG_FS_TYPES.join(', ')}` +
        (near ? ` (did you mean "${near}"?)` : ''),
    );
  }
  if (!target) ctx.report('error', 'missing-key', closeOf(ctx, m), path, `missing field \`target\` in ${where}`);
  else if (target.type === 'string' && !target.value.startsWith('/'))
    ctx.report(
      'error',
      'mount-target',
      target,
      [...path, 'target'],
      `Target must be an absolute path: "${target.value}" in ${where}`,
    );
  if (type?.value === 'hostfs' && !child(m, 'source'))
    ctx.report(
      'error',
      'mount-source',
      closeOf(ctx, m),
      path,
      `Source is expected for HostFS: add "source" (a host directory) to ${where}`,
    );
}

/** The build's root check (gen_internal_conf): a unionfs at / whose layers hold an image SEFS with MAC. */
function checkRoot(ctx: RuleContext, mounts: Node): void {
  const list = mounts.children ?? [];
  const str = (m: Node, k: string) => (child(m, k)?.type === 'string' ? child(m, k)!.value : undefined);
  const root = list.find((m) => m.type === 'object' && str(m, 'target') === '/' && str(m, 'type') === 'unionfs');
  const say = (at: Node, why: string, how: string) =>
    ctx.report('error', 'mount-root', at, ['mount'], `Mount configuration invalid: Err("${why}"): ${how}`);
  if (!root) return say(mounts, 'the root UnionFS is not valid', 'add a mount with target "/" and type unionfs');
  const layers = child(child(root, 'options'), 'layers');
  if (layers?.type !== 'array')
    return say(root, 'the root UnionFS must be given layers', 'give the root unionfs options.layers');
  const opts = (l: Node) => child(l, 'options');
  const image = (layers.children ?? []).some(
    (l) =>
      l.type === 'object' &&
      str(l, 'target') === '/' &&
      str(l, 'type') === 'sefs' &&
      (child(opts(l), 'MAC') || child(opts(l), 'integrity_only')),
  );
  if (!image)
    say(
      layers,
      'the image SEFS in layers is not valid',
      'the root layers need a sefs layer at / with options.MAC (the image layer; integrity_only in 2021 NGO)',
    );
}

/** An error for each of `keys` missing from `obj`, at its closing brace. */
function requireKeys(ctx: RuleContext, obj: Node, keys: string[], path: JsonPath, message: (k: string) => string) {
  for (const k of keys) if (!child(obj, k)) ctx.report('error', 'missing-key', closeOf(ctx, obj), path, message(k));
}

/** Where serde reports a missing field: the end of the object (its last line in YAML). */
function closeOf(ctx: RuleContext, obj: Node): Node {
  const end = obj.offset + obj.length;
  const at = ctx.text[end - 1] === '}' ? end - 1 : obj.offset;
  return { type: 'null', offset: at, length: 1, parent: obj.parent } as Node;
}
