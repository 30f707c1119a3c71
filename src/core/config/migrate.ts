// Migration of an older config to the current Occlum (0.31.0) shape, as one set of edits:
// KSS keys, the feature section (carrying metadata.pkru/amx over), both env lists, the standard
// root layers, and removal of what the new version drops (metadata.pkru/amx, vm, integrity_only,
// explicit /proc and /dev, the old /tmp SEFS).
import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';
import { applyOps, opsToEdits, type EditOp } from './edit.ts';
import { keySpec } from './keys.ts';
import { canonicalOrder } from './rules/structure.ts';
import type { TextEdit } from './types.ts';
import { ROOT_LAYERS, ROOT_MOUNT } from '../instance/layout.ts';

const HOST_MOUNT = { target: '/host', type: 'hostfs', source: '.' };

export function migrationOps(text: string): EditOp[] {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (root?.type !== 'object') return [];
  const get = (path: (string | number)[], from: Node = root) => findNodeAtLocation(from, path);
  const ops: EditOp[] = [];

  // vm.user_space_size (≤ 0.20) → resource_limits.user_space_size; ≤ 0.12 had no resource_limits.
  const vm = get(['vm']);
  const us = get(['vm', 'user_space_size']);
  if (!get(['resource_limits'])) {
    ops.push({
      kind: 'set',
      path: ['resource_limits'],
      order: canonicalOrder(''),
      value: {
        kernel_space_heap_size: '32MB',
        kernel_space_stack_size: '1MB',
        user_space_size: us?.type === 'string' ? us.value : '300MB',
        max_num_of_threads: 32,
      },
    });
  } else if (us && !get(['resource_limits', 'user_space_size']) && get(['resource_limits'])?.type === 'object') {
    ops.push({
      kind: 'set',
      path: ['resource_limits', 'user_space_size'],
      value: us.value,
      order: canonicalOrder('resource_limits'),
    });
  }
  if (vm) ops.push({ kind: 'remove', path: ['vm'] });

  // ≤ 0.12: env was the plain list of KEY=VALUE entries.
  const envList = get(['env']);
  if (envList?.type === 'array') {
    const entries = (envList.children ?? []).filter((n) => n.type === 'string').map((n) => n.value as string);
    ops.push({ kind: 'set', path: ['env'], value: { default: entries, untrusted: [] } });
  }

  const metadata = get(['metadata']);
  if (!metadata) {
    ops.push({
      kind: 'set',
      path: ['metadata'],
      order: canonicalOrder(''),
      value: {
        product_id: 0,
        version_number: 0,
        debuggable: true,
        enable_kss: false,
        family_id: keySpec('metadata.family_id')!.template,
        ext_prod_id: keySpec('metadata.ext_prod_id')!.template,
      },
    });
  } else if (metadata.type === 'object') {
    for (const key of ['enable_kss', 'family_id', 'ext_prod_id']) {
      if (!get(['metadata', key]))
        ops.push({
          kind: 'set',
          path: ['metadata', key],
          value: keySpec(`metadata.${key}`)!.template,
          order: canonicalOrder('metadata'),
        });
    }
  }

  // feature section, carrying legacy metadata.pkru / metadata.amx values.
  const legacy: Record<string, unknown> = {};
  for (const k of ['amx', 'pkru']) {
    const n = get(['metadata', k]);
    if (n) {
      if (n.type === 'number' && Number.isInteger(n.value) && n.value >= 0 && n.value <= 2) legacy[k] = n.value;
      ops.push({ kind: 'remove', path: ['metadata', k] });
    }
  }
  const feature = get(['feature']);
  if (!feature) {
    ops.push({
      kind: 'set',
      path: ['feature'],
      order: canonicalOrder(''),
      value: { amx: legacy.amx ?? 0, pkru: legacy.pkru ?? 0, io_uring: 0, enable_edmm: false, enable_posix_shm: false },
    });
  } else if (feature.type === 'object') {
    for (const k of ['amx', 'pkru']) {
      if (legacy[k] !== undefined && !get(['feature', k]))
        ops.push({ kind: 'set', path: ['feature', k], value: legacy[k], order: canonicalOrder('feature') });
    }
  }

  const env = get(['env']);
  if (env?.type === 'object') {
    for (const k of ['default', 'untrusted'])
      if (!get(['env', k])) ops.push({ kind: 'set', path: ['env', k], value: [], order: ['default', 'untrusted'] });
  }

  // Mounts: fix the root layers, drop what the build now adds or deletes. Removals run from
  // the last index down so earlier indexes stay valid.
  const mounts = get(['mount']);
  if (mounts?.type === 'array') {
    const removals: number[] = [];
    (mounts.children ?? []).forEach((m, i) => {
      if (m.type !== 'object') return;
      const target = get(['target'], m)?.value;
      const type = get(['type'], m)?.value;
      if ((target === '/proc' && type === 'procfs') || (target === '/dev' && type === 'devfs')) removals.push(i);
      else if (target === '/' && type === 'sefs') ops.push({ kind: 'set', path: ['mount', i], value: ROOT_MOUNT });
      // Non-root SEFS without a source (old writable /root, /tmp): the container layer replaces them.
      else if (type === 'sefs' && target !== '/' && get(['source'], m) === undefined) removals.push(i);
      else if (target === '/tmp' && type === 'sefs' && get(['options', 'temporary'], m)?.value === true) {
        const src = get(['source'], m)?.value;
        if (src === undefined || /^(\.\/)?run\//.test(String(src))) removals.push(i);
      } else if (target === '/' && type === 'unionfs') {
        const layers = get(['options', 'layers'], m);
        const hasMac = (layers?.children ?? []).some(
          (l) => l.type === 'object' && get(['options', 'MAC'], l) !== undefined,
        );
        const hasContainer = (layers?.children ?? []).some(
          (l) => l.type === 'object' && get(['options', 'MAC'], l) === undefined && get(['type'], l)?.value === 'sefs',
        );
        if (!hasMac || !hasContainer)
          ops.push({ kind: 'set', path: ['mount', i, 'options', 'layers'], value: ROOT_LAYERS });
      }
    });
    // integrity_only (≤ 0.20) is dropped by every later build; a MAC alone marks such images now.
    (mounts.children ?? []).forEach((m, i) => {
      if (m.type !== 'object' || removals.includes(i) || get(['target'], m)?.value === '/') return;
      if (get(['options', 'integrity_only'], m))
        ops.push({ kind: 'remove', path: ['mount', i, 'options', 'integrity_only'] });
    });
    const hasRoot = (mounts.children ?? []).some((m) => m.type === 'object' && get(['target'], m)?.value === '/');
    for (const i of removals.reverse()) ops.push({ kind: 'remove', path: ['mount', i] });
    if (!hasRoot) ops.push({ kind: 'insert', path: ['mount', 0], value: ROOT_MOUNT });
  } else {
    // Occlum ≤ 0.16 never read mount and 0.17 – 0.20 took any value: such a config may have none.
    ops.push({ kind: 'set', path: ['mount'], order: canonicalOrder(''), value: [ROOT_MOUNT, HOST_MOUNT] });
  }
  // Sections older versions did without (entry_points came in 0.7, env in 0.5).
  for (const key of ['entry_points', 'env']) {
    if (!get([key])) ops.push({ kind: 'set', path: [key], order: canonicalOrder(''), value: keySpec(key)!.template });
  }
  return ops;
}

/** Edits migrating `text` to the current Occlum shape (empty when nothing to do). */
export function migrationEdits(text: string): TextEdit[] {
  try {
    return opsToEdits(text, migrationOps(text));
  } catch {
    return [];
  }
}

export function migrateText(text: string): string {
  return applyOps(text, migrationOps(text));
}
