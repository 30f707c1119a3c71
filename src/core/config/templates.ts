// Starting values for what the Config pane adds: a mount or a root layer from a template, a new
// key from its spec (the Occlum template's value, else one of the key's type).
import { CONTAINER_LAYER } from '../instance/layout.ts';
import { helpFor } from './keys.ts';
import type { JsonPath } from './types.ts';

/** The mount list, or a unionfs's layers: items added there start from a template. */
export const isMountArray = (p: JsonPath) => (p.length === 1 && p[0] === 'mount') || p[p.length - 1] === 'layers';

/** A new item of a mount array: a writable sefs layer in `layers`, else a hostfs mount. */
export function mountTemplate(path: JsonPath): { layer: boolean; value: Record<string, unknown> } {
  const layer = path[path.length - 1] === 'layers';
  return {
    layer,
    value: layer ? { ...CONTAINER_LAYER } : { target: '/data', type: 'hostfs', source: './data' },
  };
}

/** A starting value for a new key: the template's, else one of the key's type. */
export function initialValue(path: JsonPath): unknown {
  const spec = helpFor(path);
  if (!spec) return '';
  if (spec.template !== undefined) return spec.template;
  switch (spec.type) {
    case 'size':
      return '1MB';
    case 'u32':
      return spec.min ?? 0;
    case 'bool':
      return false;
    case 'strings':
    case 'mounts':
      return [];
    case 'object':
      return {};
    default:
      return '';
  }
}
