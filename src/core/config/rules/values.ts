// Rules on individual values: size strings, entry points, env lists, KSS IDs, and the
// cross-field rules of gen_internal_conf (max ≥ init sizes, init threads ≤ max).
import type { Node } from 'jsonc-parser';
import type { RuleContext } from '../context.ts';
import { formatSize, KB, GB, PAGE, parseSize, roundUpToPage } from '../sizes.ts';
import { atLeast } from '../versions.ts';
import type { Fix, JsonPath } from '../types.ts';

/** Sizes that sgx_sign requires to be page aligned, with its message. */
const ALIGNED: Record<string, string> = {
  kernel_space_stack_size: 'Stack size setting is not correct.',
  kernel_space_heap_size: 'Heap size setting is not correct: size is not page aligned.',
  kernel_space_heap_max_size: 'Heap size setting is not correct: size is not page aligned.',
  user_space_size: 'Reserved memory size setting is not correct: size is not page aligned.',
  user_space_max_size: 'Reserved memory size setting is not correct: size is not page aligned.',
};

const SIZE_KEYS: JsonPath[] = [
  ['resource_limits', 'kernel_space_heap_size'],
  ['resource_limits', 'kernel_space_heap_max_size'],
  ['resource_limits', 'kernel_space_stack_size'],
  ['resource_limits', 'user_space_size'],
  ['resource_limits', 'user_space_max_size'],
  ['resource_limits', 'marshal_buffer_size'],
  ['process', 'default_stack_size'],
  ['process', 'default_heap_size'],
  ['process', 'default_mmap_size'],
  ['vm', 'user_space_size'],
];

/**
 * Parses one size string node and reports what Occlum would say. Returns the byte count when
 * valid. `checkedAtBuild`: gen_internal_conf reports it (else the LibOS at boot).
 */
export function checkSize(ctx: RuleContext, node: Node, path: JsonPath, checkedAtBuild: boolean): number | undefined {
  if (node.type !== 'string') return undefined;
  const raw = String(node.value);
  const name = String(path[path.length - 1]);
  const r = parseSize(raw);
  if (r.ok) return r.bytes;
  const occlum = checkedAtBuild
    ? `Occlum's build prints: The ${name} "${raw.slice(0, 40)}" is not correct.`
    : `the LibOS fails at boot with "${r.reason === 'no-unit' ? 'No unit' : 'No number'}"`;
  let why: string;
  if (r.reason === 'too-large') why = 'the size is too large';
  else if (r.reason === 'no-unit')
    why = 'a size must end with KB, MB, GB, TB or B (upper case; K, M, G, KiB and lower case are not accepted)';
  else if (/[A-Za-z]$/.test(raw.trim().replace(/(TB|GB|MB|KB|B)$/, '')))
    // "300XB", "64kB": Occlum takes the B for the unit and fails on "300X"; the unit is what is wrong.
    why = `"${/[A-Za-z]+$/.exec(raw.trim())![0].slice(-40)}" is not a unit: a size ends with KB, MB, GB, TB or B (upper case)`;
  else why = 'the number before the unit must be a whole number (no decimals, no sign)';
  const fix: Fix | undefined =
    r.ok === false && r.suggestion && parseSize(r.suggestion).ok
      ? ctx.replace(`Change to "${r.suggestion}"`, node, r.suggestion)
      : undefined;
  const code = r.reason === 'no-unit' ? 'size-unit' : 'size-number';
  ctx.report(
    'error',
    code,
    node,
    path,
    `"${raw.slice(0, 40)}" is not a valid size for ${path.join('.')}: ${why}; ${occlum}`,
    fix,
  );
  return undefined;
}

/** Resource and process sizes: syntax, page alignment, the kernel stack minimum. */
export function checkSizes(ctx: RuleContext): void {
  for (const path of SIZE_KEYS) {
    const node = ctx.get(path);
    if (!node || node.type !== 'string') continue;
    const bytes = checkSize(ctx, node, path, path[0] === 'resource_limits');
    if (bytes === undefined) continue;
    const name = String(path[1]);
    const sgx = ALIGNED[name];
    if (sgx && bytes % PAGE !== 0) {
      const rounded = roundUpToPage(bytes);
      ctx.report(
        'error',
        'size-align',
        node,
        path,
        `${path.join('.')} "${node.value}" (${bytes} bytes) is not a multiple of 4KB; sgx_sign fails with: ${sgx}`,
        ctx.replace(`Round up to "${formatSize(rounded)}"`, node, formatSize(rounded)),
      );
    }
    if (name === 'kernel_space_stack_size' && bytes < 8 * KB) {
      ctx.report(
        'error',
        'size-min',
        node,
        path,
        `${path.join('.')} "${node.value}" is below the 8KB minimum; sgx_sign fails with: Stack size setting is not correct.`,
        ctx.replace('Use "8KB"', node, '8KB'),
      );
    }
    if (bytes === 0 && path[0] === 'resource_limits' && name !== 'marshal_buffer_size') {
      ctx.report(
        'error',
        'size-min',
        node,
        path,
        `${path.join('.')} is 0: the enclave cannot be created with an empty ${name.replace(/_/g, ' ')}`,
      );
    }
  }
}

/** Occlum ≤ 0.20 kept user_space_size under vm; one of the two must be there. */
export function checkUserSpaceV020(ctx: RuleContext): void {
  if (atLeast(ctx.version, '0.21')) return;
  if (
    !ctx.get(['resource_limits', 'user_space_size']) &&
    !ctx.get(['vm', 'user_space_size']) &&
    ctx.get(['resource_limits'])
  ) {
    ctx.report(
      'error',
      'missing-key',
      ctx.get(['resource_limits']),
      ['resource_limits', 'user_space_size'],
      'missing field `user_space_size`: give resource_limits.user_space_size (or vm.user_space_size in Occlum ≤ 0.20)',
    );
  }
}

/** entry_points: strings, absolute, not duplicated. */
export function checkEntryPoints(ctx: RuleContext): void {
  const arr = ctx.get(['entry_points']);
  if (arr?.type !== 'array') return;
  const seen = new Map<string, number>();
  (arr.children ?? []).forEach((item, i) => {
    const path = ['entry_points', i];
    if (item.type !== 'string') {
      ctx.report(
        'error',
        'type',
        item,
        path,
        `invalid type: entry_points[${i}] must be a string path; the enclave panics at boot (the build copies entry_points unchecked)`,
      );
      return;
    }
    const v = String(item.value);
    if (!v.startsWith('/')) {
      ctx.report(
        'error',
        'entry-relative',
        item,
        path,
        `entry point "${v.slice(0, 60)}" is not absolute: the LibOS fails at boot with "entry point must be an absolute path"`,
        v.trim() !== ''
          ? ctx.replace(`Change to "/${v.replace(/^\.?\/*/, '')}"`, item, `/${v.replace(/^\.?\/*/, '')}`)
          : undefined,
      );
    }
    const norm = v.replace(/\/+$/, '') || '/';
    if (seen.has(norm))
      ctx.report(
        'warning',
        'duplicate',
        item,
        path,
        `entry point "${v.slice(0, 60)}" is listed twice (also entry_points[${seen.get(norm)}])`,
        ctx.fix('Remove the duplicate', [{ kind: 'remove', path }]),
      );
    else seen.set(norm, i);
  });
  if ((arr.children ?? []).length === 0) {
    ctx.report(
      'warning',
      'entry-empty',
      arr,
      ['entry_points'],
      'entry_points is empty: `occlum run` refuses every program; add the directory of your binaries, e.g. "/bin"',
    );
  }
}

/** env: both lists; default = KEY=VALUE without duplicate keys; untrusted = names. */
export function checkEnv(ctx: RuleContext): void {
  const env = ctx.get(['env']);
  // Occlum ≤ 0.12.0: env was the plain list of KEY=VALUE entries.
  const def =
    env?.type === 'array' && !atLeast(ctx.version, '0.12.1')
      ? env
      : env?.type === 'object'
        ? ctx.get(['env', 'default'])
        : undefined;
  if (!env || !def) return;
  const base: JsonPath = def === env ? ['env'] : ['env', 'default'];
  if (def?.type === 'array') {
    const keys = new Map<string, number[]>();
    (def.children ?? []).forEach((item, i) => {
      const path = [...base, i];
      if (item.type !== 'string') {
        ctx.report(
          'error',
          'type',
          item,
          path,
          `${base.join('.')}[${i}] must be a "KEY=VALUE" string; the LibOS panics at boot on other types`,
        );
        return;
      }
      const v = String(item.value);
      if (v.includes('\0')) {
        // The LibOS reads env.default into CStrings (Vec<CString>): serde refuses interior NULs.
        ctx.report(
          'error',
          'env-nul',
          item,
          path,
          `${base.join('.')}[${i}] contains a NUL character (\\u0000): the LibOS reads these entries as C strings and fails to boot ("nul byte found in provided data")`,
          ctx.fix('Remove the NUL characters', [{ kind: 'set', path, value: v.replaceAll('\0', '') }]),
        );
        return;
      }
      const eq = v.indexOf('=');
      if (v === '') {
        ctx.report(
          'warning',
          'env-entry',
          item,
          path,
          `${base.join('.')}[${i}] is an empty string: it sets no variable (processes get an empty entry in their environment) — remove it`,
          ctx.fix('Remove the empty entry', [{ kind: 'remove', path }]),
        );
        return;
      }
      if (eq <= 0) {
        ctx.report(
          'warning',
          'env-entry',
          item,
          path,
          `${base.join('.')} entry "${v.slice(0, 60)}" is not KEY=VALUE${eq === 0 ? ' (empty name)' : ''}: processes see no usable variable; write e.g. "${eq < 0 ? v.slice(0, 20) + '=value' : 'NAME' + v.slice(0, 20)}" or remove it`,
          ctx.fix('Remove this entry', [{ kind: 'remove', path }]),
        );
        return;
      }
      const key = v.slice(0, eq);
      keys.set(key, [...(keys.get(key) ?? []), i]);
    });
    // One finding per name, at its second entry: a list repeating one name 100 times is one problem.
    for (const [key, at] of keys) {
      if (at.length < 2) continue;
      const path = [...base, at[1]!];
      const later = at.slice(1);
      const shown = later.length > 5 ? `${later.slice(0, 5).join(', ')}, …` : later.join(', ');
      ctx.report(
        'warning',
        'env-duplicate',
        def.children![at[1]!],
        path,
        at.length === 2
          ? `${base.join('.')} sets ${key} twice (also entry ${at[0]}); only one value takes effect — remove one`
          : `${base.join('.')} sets ${key} ${at.length} times (entry ${at[0]}, then ${shown}); only one value takes effect — keep one`,
        ctx.fix(
          at.length === 2 ? 'Remove this entry' : `Remove the ${later.length} later entries`,
          [...later].reverse().map((i) => ({ kind: 'remove' as const, path: [...base, i] })),
        ),
      );
    }
  }
  const untrusted = env.type === 'object' ? ctx.get(['env', 'untrusted']) : undefined;
  if (untrusted?.type === 'array') {
    const names = new Set<string>();
    (untrusted.children ?? []).forEach((item, i) => {
      const path = ['env', 'untrusted', i];
      if (item.type !== 'string') {
        ctx.report(
          'error',
          'type',
          item,
          path,
          `env.untrusted[${i}] must be a variable name string; the LibOS panics at boot on other types`,
        );
        return;
      }
      const v = String(item.value);
      if (v.includes('=')) {
        const name = v.slice(0, v.indexOf('='));
        ctx.report(
          'warning',
          'env-entry',
          item,
          path,
          `env.untrusted lists names only, the value comes from the host at run time: "${v.slice(0, 60)}" should be "${name.slice(0, 40)}"`,
          name ? ctx.replace(`Change to "${name}"`, item, name) : undefined,
        );
      } else if (v.trim() === '') {
        ctx.report('warning', 'env-entry', item, path, 'env.untrusted contains an empty name');
      } else if (names.has(v)) {
        ctx.report(
          'warning',
          'env-duplicate',
          item,
          path,
          `env.untrusted lists ${v} twice`,
          ctx.fix('Remove the duplicate', [{ kind: 'remove', path }]),
        );
      }
      names.add(v);
    });
  }
}

const HEX64 = /^(0x|0X)?[0-9a-fA-F]{1,16}$/;

/** KSS IDs are parsed as 64-bit hex only when enable_kss is true (bad hex panics the build). */
export function checkKss(ctx: RuleContext): void {
  if (!atLeast(ctx.version, '0.26.3')) return;
  const enabled = ctx.get(['metadata', 'enable_kss'])?.value === true;
  for (const id of ['family_id', 'ext_prod_id']) {
    for (const half of ['high', 'low']) {
      const path = ['metadata', id, half];
      const node = ctx.get(path);
      if (node?.type !== 'string') continue;
      const v = String(node.value).trim();
      if (enabled && !HEX64.test(v)) {
        ctx.report(
          'error',
          'kss-id',
          node,
          path,
          `metadata.${id}.${half} "${v.slice(0, 40)}" is not a 64-bit hex number; the build panics: 64 bit hex string ID required, such as 0x1234567812345678`,
        );
      } else if (!enabled && HEX64.test(v) && /[1-9a-fA-F]/.test(v.replace(/^0x/i, ''))) {
        ctx.report(
          'warning',
          'kss-ignored',
          node,
          path,
          `metadata.${id}.${half} is set but enable_kss is false: the build writes zero IDs; set metadata.enable_kss to true to use it`,
        );
      }
    }
  }
}

function sizeOf(ctx: RuleContext, path: JsonPath): { node: Node; bytes: number } | undefined {
  const node = ctx.get(path);
  if (node?.type !== 'string') return undefined;
  const r = parseSize(String(node.value));
  return r.ok ? { node, bytes: r.bytes } : undefined;
}

/** Effective kernel heap maximum (non-EDMM: heap_max replaces heap; EDMM: max(…, 1GB)). */
export function kernelHeapMax(ctx: RuleContext): number | undefined {
  const heap = sizeOf(ctx, ['resource_limits', 'kernel_space_heap_size']);
  const max = sizeOf(ctx, ['resource_limits', 'kernel_space_heap_max_size']);
  const edmm = ctx.get(['feature', 'enable_edmm'])?.value === true;
  const base = max?.bytes ?? heap?.bytes;
  if (base === undefined) return undefined;
  return edmm ? Math.max(base, GB) : base;
}

/** gen_internal_conf's cross-field checks. */
export function checkCrossField(ctx: RuleContext): void {
  const edmm = ctx.get(['feature', 'enable_edmm'])?.value === true;
  const us = sizeOf(ctx, ['resource_limits', 'user_space_size']);
  const usMax = sizeOf(ctx, ['resource_limits', 'user_space_max_size']);
  if (us && usMax && atLeast(ctx.version, '0.30.0') && usMax.bytes < us.bytes) {
    ctx.report(
      'error',
      'cross-field',
      usMax.node,
      ['resource_limits', 'user_space_max_size'],
      `user_space_max_size is smaller than user_space_size; Occlum's build prints: user_space_size: "${us.node.value}", user_space_max_size: Some("${usMax.node.value}"), wrong configuration`,
      ctx.replace(`Raise to "${us.node.value}"`, usMax.node, us.node.value),
    );
  }
  const heap = sizeOf(ctx, ['resource_limits', 'kernel_space_heap_size']);
  const heapMax = sizeOf(ctx, ['resource_limits', 'kernel_space_heap_max_size']);
  if (heap && heapMax && atLeast(ctx.version, '0.29.4') && heapMax.bytes < heap.bytes) {
    if (edmm && heap.bytes > Math.max(heapMax.bytes, GB)) {
      ctx.report(
        'error',
        'cross-field',
        heapMax.node,
        ['resource_limits', 'kernel_space_heap_max_size'],
        `with EDMM the initial kernel heap exceeds its maximum; Occlum's build prints: kernel_space_heap_size: "${heap.node.value}", kernel_space_heap_max_size: Some("${heapMax.node.value}"), wrong configuration`,
        ctx.replace(`Raise to "${heap.node.value}"`, heapMax.node, heap.node.value),
      );
    } else if (!edmm) {
      ctx.report(
        'warning',
        'cross-field',
        heapMax.node,
        ['resource_limits', 'kernel_space_heap_max_size'],
        `kernel_space_heap_max_size "${heapMax.node.value}" is below kernel_space_heap_size "${heap.node.value}": without EDMM the heap max replaces the heap size, so the kernel heap is only ${heapMax.node.value}`,
      );
    }
  }
  const maxT = ctx.get(['resource_limits', 'max_num_of_threads']);
  const initT = ctx.get(['resource_limits', 'init_num_of_threads']);
  if (
    maxT?.type === 'number' &&
    initT?.type === 'number' &&
    atLeast(ctx.version, '0.30.0') &&
    initT.value > maxT.value &&
    initT.value <= 0xffffffff
  ) {
    ctx.report(
      'error',
      'cross-field',
      initT,
      ['resource_limits', 'init_num_of_threads'],
      `init_num_of_threads is above max_num_of_threads; Occlum's build prints: init_num_of_threads: Some(${initT.value}), max_num_of_threads: ${maxT.value}, wrong configuration`,
      ctx.replace(`Lower to ${maxT.value}`, initT, maxT.value),
    );
  }
  // Each TCS gets its own kernel stack, committed at load without EDMM.
  const stack = sizeOf(ctx, ['resource_limits', 'kernel_space_stack_size']);
  if (
    !edmm &&
    stack &&
    maxT?.type === 'number' &&
    Number.isSafeInteger(maxT.value) &&
    maxT.value <= 0xffffffff &&
    maxT.value * stack.bytes >= GB
  ) {
    ctx.report(
      'info',
      'memory-estimate',
      maxT,
      ['resource_limits', 'max_num_of_threads'],
      `max_num_of_threads × kernel_space_stack_size = ${maxT.value} × ${stack.node.value} = ${formatSize(maxT.value * stack.bytes)} of enclave memory for kernel stacks alone (each thread slot gets its own); lower one of them if the enclave is slow to load or does not fit`,
    );
  }
  if (initT && !edmm && atLeast(ctx.version, '0.30.1')) {
    ctx.report(
      'info',
      'edmm-only',
      initT,
      ['resource_limits', 'init_num_of_threads'],
      'init_num_of_threads only matters with EDMM (feature.enable_edmm); it is ignored otherwise',
    );
  }
}
