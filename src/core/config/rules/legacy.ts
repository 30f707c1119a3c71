// Keys older Occlum versions read and the current one silently drops (spec 2.7): warn and
// offer the mechanical migration.
import { keyNode, type RuleContext } from '../context.ts';
import { atLeast } from '../versions.ts';
import type { EditOp } from '../edit.ts';
import { canonicalOrder } from './structure.ts';

export function checkLegacyKeys(ctx: RuleContext): void {
  if (atLeast(ctx.version, '0.30.1')) {
    for (const k of ['pkru', 'amx'] as const) {
      const node = ctx.get(['metadata', k]);
      if (!node) continue;
      const feature = ctx.get(['feature']);
      const target = ctx.get(['feature', k]);
      const ops: EditOp[] = [];
      if (feature?.type === 'object' && !target && node.type === 'number')
        ops.push({ kind: 'set', path: ['feature', k], value: node.value, order: canonicalOrder('feature') });
      ops.push({ kind: 'remove', path: ['metadata', k] });
      const differs = target && node.type === 'number' && target.value !== node.value;
      ctx.report(
        'warning',
        'legacy-key',
        keyNode(node),
        ['metadata', k],
        `metadata.${k} is no longer read since Occlum 0.30.1 (silently ignored); the setting now lives in feature.${k}${differs ? ` — note feature.${k} is ${target!.value}, not ${node.value}` : ''}`,
        ctx.fix(
          target || feature?.type !== 'object' ? `Remove metadata.${k}` : `Move metadata.${k} to feature.${k}`,
          ops,
        ),
      );
    }
  }
  if (atLeast(ctx.version, '0.21')) {
    const vm = ctx.get(['vm']);
    if (vm) {
      const us = ctx.get(['vm', 'user_space_size']);
      const ops: EditOp[] = [];
      if (us && !ctx.get(['resource_limits', 'user_space_size']) && ctx.get(['resource_limits'])?.type === 'object') {
        ops.push({
          kind: 'set',
          path: ['resource_limits', 'user_space_size'],
          value: us.value,
          order: canonicalOrder('resource_limits'),
        });
      }
      ops.push({ kind: 'remove', path: ['vm'] });
      ctx.report(
        'warning',
        'legacy-key',
        keyNode(vm),
        ['vm'],
        'the top-level vm section was replaced by resource_limits.user_space_size in Occlum 0.21 and is silently ignored',
        ctx.fix('Move vm.user_space_size to resource_limits', ops),
      );
      ctx.handled.add('resource_limits.user_space_size');
    }
  }
}
