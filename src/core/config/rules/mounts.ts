// Mount rules (spec 2.4): the root unionfs with an image layer carrying MAC and a container
// layer; known fs types; absolute, unique targets; sources where required and present on the
// host; SEFS MAC/temporary/cache_size; ext2 disk_size; hostfs of host system dirs.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Node } from 'jsonc-parser';
import { describeValue, members, nearest, type RuleContext } from '../context.ts';
import { FS_TYPES, isKnown, mountKeySpec, MOUNT_KEYS } from '../keys.ts';
import { formatSize, GB, PAGE } from '../sizes.ts';
import { atLeast } from '../versions.ts';
import { formatPath, type JsonPath } from '../types.ts';
import { checkType } from './structure.ts';
import { checkSize, kernelHeapMax } from './values.ts';
import { instancePaths, ROOT_LAYERS, ROOT_MOUNT } from '../../instance/layout.ts';

/** Mount options of the Occlum.yaml (1.0 preview / NGO) format that users copy from its docs. */
const PREVIEW_OPTIONS = ['autokey_policy', 'sefs_cache_size', 'async_sfs_total_size', 'page_cache_size'];
const MAC_RE = /^([0-9a-fA-F]{2}-){15}[0-9a-fA-F]{2}$/;
const MIN_CACHE = 196608;
const MIN_DISK = 5 * GB;
const SYSTEM_DIRS = [
  '/',
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/boot',
  '/root',
  '/home',
  '/var',
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/opt',
];

interface Entry {
  node: Node;
  path: JsonPath;
  type?: string;
  target?: string;
  source?: Node;
  options?: Node;
  isLayer: boolean;
  isRootLayer: boolean;
}

const str = (n: Node | undefined): string | undefined => (n?.type === 'string' ? String(n.value) : undefined);

function entryOf(ctx: RuleContext, node: Node, path: JsonPath, isLayer: boolean, isRootLayer: boolean): Entry {
  return {
    node,
    path,
    isLayer,
    isRootLayer,
    type: str(ctx.get(['type'], node)),
    target: str(ctx.get(['target'], node)),
    source: ctx.get(['source'], node),
    options: ctx.get(['options'], node),
  };
}

/** Mount points every build ≤ 0.20 gives the app whatever the mount section says. */
const FIXED_MOUNTS = ['/', '/host', '/tmp', '/root', '/proc', '/dev'];

export function checkMounts(ctx: RuleContext): void {
  const arr = ctx.get(['mount']);
  if (!atLeast(ctx.version, '0.21')) {
    ignoredMounts(ctx, arr);
    return;
  }
  if (arr?.type !== 'array') return;
  const entries: Entry[] = [];
  (arr.children ?? []).forEach((m, i) => {
    if (m.type !== 'object') {
      ctx.report(
        'error',
        'type',
        m,
        ['mount', i],
        `invalid type: ${describeValue(m, ctx.raw(m))}, expected struct OcclumMount for mount[${i}]`,
      );
      return;
    }
    const e = entryOf(ctx, m, ['mount', i], false, false);
    entries.push(e);
    checkEntry(ctx, e);
  });
  checkRoot(ctx, arr, entries);
  checkTargets(ctx, entries);
}

/**
 * Up to 0.20 the build wrote the internal config's mounts from a fixed list (the image at /,
 * /host, /tmp; tools/occlum-gen-default-occlum-json, then gen_internal_conf's
 * gen_mount_config) and never read the user's section: nothing in it can fail, and a mount the
 * user added does not exist at run time.
 */
function ignoredMounts(ctx: RuleContext, arr: Node | undefined): void {
  if (arr?.type !== 'array') return;
  const extra = (arr.children ?? [])
    .map((m, i) => ({ m, i, target: str(ctx.get(['target'], m)) }))
    .filter((x) => x.m.type === 'object' && (x.target === undefined || !FIXED_MOUNTS.includes(x.target)));
  if (extra.length === 0) return;
  const first = extra[0]!;
  const targets = extra.map((x) => x.target ?? `mount[${x.i}]`);
  ctx.report(
    'info',
    'mount-ignored',
    first.m,
    ['mount', first.i],
    `Occlum ${ctx.version} ignores the mount section: its build always mounts the image at /, the instance directory at /host and /tmp, so ${targets.slice(0, 3).join(', ')}${targets.length > 3 ? ', …' : ''} will not exist in the enclave; user mounts are read from Occlum 0.21 on`,
  );
}

function checkEntry(ctx: RuleContext, e: Entry): void {
  // Keys of the entry and of its options.
  for (const m of members(e.node)) {
    const spec = mountKeySpec(m.key);
    if (!spec) {
      const s = nearest(m.key, ['type', 'target', 'source', 'options']);
      ctx.report(
        'warning',
        'unknown-key',
        m.keyNode,
        [...e.path, m.key],
        `unknown key "${m.key}" in ${label(e)}: Occlum silently ignores it${s ? `; did you mean "${s}"?` : ''}`,
        s && !ctx.get([s], e.node)
          ? {
              title: `Rename "${m.key}" to "${s}"`,
              edits: [{ offset: m.keyNode.offset, length: m.keyNode.length, content: JSON.stringify(s) }],
            }
          : undefined,
      );
    } else if (m.value) checkType(ctx, spec, m.value, [...e.path, m.key]);
  }
  if (e.options?.type === 'object') {
    for (const m of members(e.options)) {
      const spec = mountKeySpec(`options.${m.key}`);
      const p = [...e.path, 'options', m.key];
      if (!spec || !isKnown(spec, ctx.version)) {
        if (m.key === 'integrity_only' && atLeast(ctx.version, '0.21')) {
          ctx.report(
            'warning',
            'legacy-key',
            m.keyNode,
            p,
            `${label(e)}: option integrity_only was removed in Occlum 0.21 and is silently dropped; an integrity-only image is now marked with options.MAC`,
            ctx.fix('Remove integrity_only', [{ kind: 'remove', path: p }]),
          );
          continue;
        }
        if (spec && spec.since && !atLeast(ctx.version, spec.since)) {
          ctx.report(
            'warning',
            'key-too-new',
            m.keyNode,
            p,
            `${label(e)}: option ${m.key} is read only since Occlum ${spec.since}; Occlum ${ctx.version} drops it`,
          );
          continue;
        }
        if (PREVIEW_OPTIONS.includes(m.key)) {
          ctx.report(
            'warning',
            'unknown-key',
            m.keyNode,
            p,
            `${label(e)}: option "${m.key}" belongs to the Occlum.yaml format of the 1.0 preview / NGO branches; released Occlum drops it without warning`,
            ctx.fix(`Remove ${m.key}`, [{ kind: 'remove', path: p }]),
          );
          continue;
        }
        const known = MOUNT_KEYS.filter((k) => k.path.startsWith('options.') && isKnown(k, ctx.version)).map((k) =>
          k.path.slice(8),
        );
        const s = nearest(m.key, known);
        ctx.report(
          'warning',
          'unknown-key',
          m.keyNode,
          p,
          `${label(e)}: unknown option "${m.key}" is dropped by the build without warning${s ? `; did you mean "${s}"?` : ''}`,
          s && !ctx.get([s], e.options)
            ? {
                title: `Rename "${m.key}" to "${s}"`,
                edits: [{ offset: m.keyNode.offset, length: m.keyNode.length, content: JSON.stringify(s) }],
              }
            : undefined,
        );
        continue;
      }
      if (m.value) checkType(ctx, spec, m.value, p);
      if (m.key === 'integrity_only' && m.value?.value === true && !e.isRootLayer && e.target !== '/') {
        ctx.report(
          'error',
          'mount-integrity',
          m.keyNode,
          p,
          `${label(e)}: the LibOS fails at boot with "Cannot mount integrity-only SEFS at non-root path"`,
          ctx.fix('Remove integrity_only', [{ kind: 'remove', path: p }]),
        );
      }
    }
  }
  const typeNode = ctx.get(['type'], e.node);
  if (!typeNode)
    ctx.report('error', 'missing-key', e.node, [...e.path, 'type'], `missing field \`type\` in ${label(e)}`);
  else if (e.type !== undefined && !(FS_TYPES as readonly string[]).includes(e.type)) {
    const s = nearest(e.type, [...FS_TYPES]);
    const preview = e.type === 'async_sfs' ? ' — async_sfs exists only in the 1.0 preview branch' : '';
    ctx.report(
      'error',
      'mount-type',
      typeNode,
      [...e.path, 'type'],
      `${label(e)}: file system type "${e.type.slice(0, 40)}" is not supported; the LibOS fails at boot with "Unsupported file system type" (known: ${FS_TYPES.join(', ')})${preview}`,
      s ? ctx.replace(`Change to "${s}"`, typeNode, s) : undefined,
    );
  } else if (e.type === 'ext2' && !atLeast(ctx.version, '0.31.0')) {
    ctx.report(
      'error',
      'mount-type',
      typeNode,
      [...e.path, 'type'],
      `${label(e)}: ext2 mounts exist only since Occlum 0.31.0; Occlum ${ctx.version} fails with "Unsupported file system type"`,
    );
  }
  const targetNode = ctx.get(['target'], e.node);
  if (!targetNode)
    ctx.report('error', 'missing-key', e.node, [...e.path, 'target'], `missing field \`target\` in ${label(e)}`);
  else if (e.target !== undefined && !e.target.startsWith('/')) {
    ctx.report(
      'error',
      'mount-target',
      targetNode,
      [...e.path, 'target'],
      `${label(e)}: target "${e.target.slice(0, 60)}" is not absolute; the LibOS fails at boot with "Target must be an absolute path"`,
      e.target.trim()
        ? ctx.replace(
            `Change to "/${e.target.replace(/^\.?\/*/, '')}"`,
            targetNode,
            `/${e.target.replace(/^\.?\/*/, '')}`,
          )
        : undefined,
    );
  }
  checkSource(ctx, e);
  if (e.type === 'sefs') checkSefs(ctx, e);
  if (e.type === 'ext2') checkExt2(ctx, e);
  if (e.type === 'unionfs' && !(e.target === '/' && !e.isLayer)) checkUnion(ctx, e);
  if (e.type === 'hostfs') checkHostfs(ctx, e);
}

function label(e: Entry): string {
  return `${formatPath(e.path)}${e.target ? ` (${e.target.slice(0, 40)})` : ''}`;
}

function checkSource(ctx: RuleContext, e: Entry): void {
  const src = str(e.source);
  const needs = e.type === 'hostfs' || (e.type === 'sefs' && !e.isRootLayer && atLeast(ctx.version, '0.21'));
  if (needs && !e.source) {
    const which = e.type === 'hostfs' ? 'HostFS' : 'SEFS';
    ctx.report(
      'error',
      'mount-source',
      e.node,
      [...e.path, 'source'],
      `${label(e)}: ${e.type} needs a source; the LibOS fails at boot with "Source is expected for ${which}"`,
    );
    return;
  }
  if (src === undefined || !e.source) return;
  if (['ramfs', 'devfs', 'procfs'].includes(e.type ?? '')) {
    ctx.report(
      'warning',
      'mount-source',
      e.source,
      [...e.path, 'source'],
      `${label(e)}: ${e.type} takes no source; it is ignored`,
    );
    return;
  }
  // Paths the build creates itself.
  const builtBy = /^(\.\/)?(build\/mount\/__ROOT|run\/mount\/__ROOT)\/?$/.test(src);
  if (
    e.type === 'sefs' &&
    !e.isRootLayer &&
    /^(\.\/)?run\//.test(src) &&
    !(isOldTmp(ctx, e) && atLeast(ctx.version, '0.23'))
  ) {
    ctx.report(
      'warning',
      'mount-source',
      e.source,
      [...e.path, 'source'],
      `${label(e)}: source '${src}' must exist on the host at run time, but \`occlum build\` deletes run/ and recreates only run/mount/__ROOT and run/initfs/__ROOT, so the LibOS reports "Source is expected for SEFS"`,
    );
    return;
  }
  if (ctx.options.instanceDir && !builtBy && e.type !== 'ext2') {
    const abs = isAbsolute(src) ? src : resolve(ctx.options.instanceDir, src);
    if (!existsSync(abs)) {
      ctx.report(
        'warning',
        'mount-source',
        e.source,
        [...e.path, 'source'],
        `${label(e)}: source '${src}' does not exist on the host (resolved against the instance dir: ${abs}); the LibOS reports "Source is expected for ${e.type === 'hostfs' ? 'HostFS' : 'SEFS'}" at boot`,
      );
    }
  }
}

function checkSefs(ctx: RuleContext, e: Entry): void {
  const mac = e.options?.type === 'object' ? ctx.get(['MAC'], e.options) : undefined;
  const temp = e.options?.type === 'object' ? ctx.get(['temporary'], e.options) : undefined;
  if (mac && !e.isRootLayer) {
    if (mac.type === 'string' && !MAC_RE.test(String(mac.value))) {
      ctx.report(
        'error',
        'mount-mac',
        mac,
        [...e.path, 'options', 'MAC'],
        `${label(e)}: MAC "${String(mac.value).slice(0, 60)}" is not 16 hex bytes joined by '-' (xx-xx-…-xx, 47 characters); the LibOS fails at boot with "The length or format of MAC string is invalid"`,
      );
    }
    if (temp?.value === true) {
      ctx.report(
        'error',
        'mount-temporary',
        temp,
        [...e.path, 'options', 'temporary'],
        `${label(e)}: an integrity-protected SEFS (with MAC) cannot be temporary; the LibOS fails with "Integrity protected SEFS cannot be temporary"`,
        ctx.fix('Remove temporary', [{ kind: 'remove', path: [...e.path, 'options', 'temporary'] }]),
      );
    }
    const release = ctx.get(['metadata', 'debuggable'])?.value === false;
    ctx.report(
      release ? 'warning' : 'info',
      'risky-integrity-only',
      mac,
      [...e.path, 'options', 'MAC'],
      `${label(e)}: a SEFS with MAC is an integrity-only image: its files are protected against tampering but readable by anyone on the host; keep secrets out of it or use an encrypted mount`,
    );
  }
  const cache = e.options?.type === 'object' ? ctx.get(['cache_size'], e.options) : undefined;
  if (cache?.type === 'string' && atLeast(ctx.version, '0.29.5')) {
    const path = [...e.path, 'options', 'cache_size'];
    const bytes = checkSize(ctx, cache, path, atLeast(ctx.version, '0.31.0'));
    if (bytes !== undefined) {
      const heapMax = kernelHeapMax(ctx);
      if (bytes < MIN_CACHE || bytes % PAGE !== 0 || (heapMax !== undefined && bytes >= heapMax)) {
        const suggested = Math.max(MIN_CACHE, Math.ceil(bytes / PAGE) * PAGE);
        ctx.report(
          'error',
          'cache-size',
          cache,
          path,
          `Invalid cache_size "${cache.value}". The cache_size must be 1. larger than the minimum size "${MIN_CACHE}", 2. aligned with cache page size "${PAGE}", 3. smaller than the kernel_heap_max_size "${heapMax ?? '?'}".`,
          heapMax === undefined || suggested < heapMax
            ? ctx.replace(`Change to "${formatSize(suggested)}"`, cache, formatSize(suggested))
            : undefined,
        );
      }
    }
  }
}

function checkExt2(ctx: RuleContext, e: Entry): void {
  const disk = e.options?.type === 'object' ? ctx.get(['disk_size'], e.options) : undefined;
  if (!disk) {
    ctx.report(
      'error',
      'disk-size',
      e.node,
      [...e.path, 'options', 'disk_size'],
      `${label(e)}: The disk_size must be specified for Ext2. (at least "5GB")`,
      ctx.fix('Add disk_size "5GB"', [{ kind: 'set', path: [...e.path, 'options', 'disk_size'], value: '5GB' }]),
    );
    return;
  }
  if (disk.type !== 'string') return;
  const bytes = checkSize(ctx, disk, [...e.path, 'options', 'disk_size'], true);
  if (bytes !== undefined && bytes < MIN_DISK) {
    ctx.report(
      'error',
      'disk-size',
      disk,
      [...e.path, 'options', 'disk_size'],
      `The disk_size "${bytes}" is too small, minimum size is "${MIN_DISK}".`,
      ctx.replace('Change to "5GB"', disk, '5GB'),
    );
  }
}

function checkUnion(ctx: RuleContext, e: Entry): void {
  const layers = e.options?.type === 'object' ? ctx.get(['layers'], e.options) : undefined;
  if (layers?.type !== 'array' || (layers.children ?? []).length !== 2) {
    ctx.report(
      'error',
      'mount-union',
      layers ?? e.node,
      [...e.path, 'options', 'layers'],
      `${label(e)}: a unionfs needs options.layers with two sefs layers: [0] the image layer, [1] the container layer`,
    );
  }
  (layers?.children ?? []).forEach((l, j) => {
    if (l.type !== 'object') return;
    const le = entryOf(ctx, l, [...e.path, 'options', 'layers', j], true, false);
    checkEntry(ctx, le);
    // An unknown type already has its mount-type error; one finding per cause.
    if (le.type !== undefined && le.type !== 'sefs' && (FS_TYPES as readonly string[]).includes(le.type))
      ctx.report(
        'error',
        'mount-union',
        ctx.get(['type'], l),
        [...le.path, 'type'],
        `${label(le)}: unionfs layers must be sefs`,
      );
  });
}

function checkHostfs(ctx: RuleContext, e: Entry): void {
  const src = str(e.source);
  if (src === undefined) return;
  let abs: string | undefined = isAbsolute(src)
    ? src
    : ctx.options.instanceDir
      ? resolve(ctx.options.instanceDir, src)
      : undefined;
  if (abs === undefined) return;
  abs = abs.replace(/\/+$/, '') || '/';
  if (SYSTEM_DIRS.includes(abs)) {
    ctx.report(
      'warning',
      'risky-hostfs',
      e.source!,
      [...e.path, 'source'],
      `${label(e)}: hostfs exposes the host's ${abs === '/' ? 'whole file system' : abs} to the enclave unprotected (and lets enclave code write into it); mount a dedicated directory instead`,
    );
  }
}

/** The root: unionfs at "/" with an image layer (sefs + MAC) and a container layer (sefs). */
function checkRoot(ctx: RuleContext, arr: Node, entries: Entry[]): void {
  const roots = entries.filter((e) => e.target === '/');
  const root = roots.find((r) => r.type === 'unionfs') ?? roots[0];
  // Occlum ≤ 0.14: the root was the integrity-only SEFS image itself.
  if (root?.type === 'sefs' && !atLeast(ctx.version, '0.15')) return;
  if (!root || root.type !== 'unionfs') {
    const fix = !root
      ? ctx.fix('Add the standard root unionfs mount', [{ kind: 'insert', path: ['mount', 0], value: ROOT_MOUNT }])
      : ctx.fix('Replace with the standard root unionfs mount', [{ kind: 'set', path: root.path, value: ROOT_MOUNT }]);
    ctx.report(
      'error',
      'mount-root',
      root?.node ?? arr,
      root?.path ?? ['mount'],
      `Mount configuration invalid: Err("the root UnionFS is not valid"): mount needs an entry with target "/" and type "unionfs" whose layers are the image and container SEFS`,
      fix,
    );
    return;
  }
  const layersNode = root.options?.type === 'object' ? ctx.get(['layers'], root.options) : undefined;
  if (layersNode?.type !== 'array') {
    ctx.report(
      'error',
      'mount-root',
      root.node,
      [...root.path, 'options', 'layers'],
      'Mount configuration invalid: Err("the root UnionFS must be given layers")',
      ctx.fix('Add the standard image and container layers', [
        { kind: 'set', path: [...root.path, 'options', 'layers'], value: ROOT_LAYERS },
      ]),
    );
    return;
  }
  const layers: Entry[] = [];
  (layersNode.children ?? []).forEach((l, j) => {
    const path = [...root.path, 'options', 'layers', j];
    if (l.type !== 'object') {
      ctx.report(
        'error',
        'type',
        l,
        path,
        `invalid type: ${describeValue(l, ctx.raw(l))}, expected struct OcclumMount for a root layer`,
      );
      return;
    }
    const le = entryOf(ctx, l, path, true, true);
    layers.push(le);
    checkEntry(ctx, le);
  });
  const hasOpt = (l: Entry, k: string) => l.options?.type === 'object' && ctx.get([k], l.options) !== undefined;
  const legacyImage = !atLeast(ctx.version, '0.21');
  const image = layers.find(
    (l) =>
      l.target === '/' &&
      l.type === 'sefs' &&
      (hasOpt(l, 'MAC') || (legacyImage && (hasOpt(l, 'integrity_only') || l === layers[0]))),
  );
  const fixLayers = ctx.fix('Use the standard image and container layers', [
    { kind: 'set', path: [...root.path, 'options', 'layers'], value: ROOT_LAYERS },
  ]);
  if (!image) {
    ctx.report(
      'error',
      'mount-root',
      layersNode,
      [...root.path, 'options', 'layers'],
      'Mount configuration invalid: Err("the image SEFS in layers is not valid"): one layer must be {"target": "/", "type": "sefs", "source": "./build/mount/__ROOT", "options": {"MAC": ""}} (the build fills in the MAC)',
      fixLayers,
    );
    return;
  }
  const container = layers.find((l) => l !== image && l.target === '/' && l.type === 'sefs' && !hasOpt(l, 'MAC'));
  if (!container) {
    ctx.report(
      'error',
      'mount-root',
      layersNode,
      [...root.path, 'options', 'layers'],
      'the container SEFS in layers is not valid: the root unionfs needs a writable layer {"target": "/", "type": "sefs", "source": "./run/mount/__ROOT"}; the LibOS fails at boot without it',
      fixLayers,
    );
  }
  for (const l of layers) {
    if (l !== image && l !== container)
      ctx.report(
        'warning',
        'mount-root',
        l.node,
        l.path,
        `${label(l)}: extra root layer; Occlum uses only the image layer (with MAC) and one container layer`,
      );
  }
}

/** Unique targets; /proc and /dev are added automatically since 0.29.6; mount points in image/. */
function checkTargets(ctx: RuleContext, entries: Entry[]): void {
  const seen = new Map<string, Entry>();
  for (const e of entries) {
    if (e.target === undefined) continue;
    const t = e.target.replace(/\/+$/, '') || '/';
    const auto = (t === '/proc' && e.type === 'procfs') || (t === '/dev' && e.type === 'devfs');
    if (auto && atLeast(ctx.version, '0.29.6')) {
      // A shape that also fits versions before 0.29.6 needs these mounts there: a note, not a warning.
      const needed =
        ctx.options.version === undefined &&
        ctx.detection.oldest !== undefined &&
        !atLeast(ctx.detection.oldest, '0.29.6');
      ctx.report(
        needed ? 'info' : 'warning',
        'legacy-mount',
        e.node,
        e.path,
        needed
          ? `user mount ${t}: needed before Occlum 0.29.6, a harmless duplicate from then on (the build adds ${t} itself) — remove it when you build with ≥ 0.29.6`
          : `user mount ${t} duplicates the ${t} mount the build adds automatically (since Occlum 0.29.6); harmless: the later mount replaces the earlier — remove it`,
        ctx.fix(`Remove the ${t} mount`, [{ kind: 'remove', path: e.path }]),
      );
    }
    if (isOldTmp(ctx, e) && atLeast(ctx.version, '0.23')) {
      const src = str(e.source);
      ctx.report(
        'warning',
        'legacy-mount',
        e.node,
        e.path,
        `${label(e)}: the temporary /tmp SEFS of old templates was dropped in Occlum 0.23.6; ${src ? `its source '${src}' must exist on the host at run time, but every build deletes run/` : 'it has no source (Source is expected for SEFS)'} — remove it and let /tmp live in the root FS`,
        ctx.fix('Remove the /tmp mount', [{ kind: 'remove', path: e.path }]),
      );
    }
    const prev = seen.get(t);
    if (prev)
      ctx.report(
        'warning',
        'mount-duplicate',
        e.node,
        e.path,
        `${label(e)}: target ${t} is already mounted by ${label(prev)}; this later mount shadows it`,
      );
    else seen.set(t, e);
    if (ctx.options.instanceDir && t !== '/' && !auto && !e.isLayer) {
      const image = instancePaths(ctx.options.instanceDir).image;
      if (existsSync(image) && !isDir(join(image, t))) {
        ctx.report(
          'warning',
          'mount-point',
          ctx.get(['target'], e.node),
          [...e.path, 'target'],
          `${label(e)}: mount point ${t} does not exist as a directory in image/; mounting fails at boot with ENOENT — create image${t}`,
        );
      }
    }
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Old template: {"target": "/tmp", "type": "sefs", "source": "./run/mount/tmp", "options": {"temporary": true}}. */
export function isOldTmp(ctx: RuleContext, e: { node: Node; target?: string; type?: string }): boolean {
  if (e.target !== '/tmp' || e.type !== 'sefs') return false;
  const temp = ctx.get(['options', 'temporary'], e.node)?.value === true;
  const src = str(ctx.get(['source'], e.node));
  return temp && (src === undefined || /^(\.\/)?run\//.test(src));
}
