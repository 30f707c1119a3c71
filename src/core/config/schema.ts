// JSON Schema (draft 2020-12) of Occlum.json for one version, generated from the key table so
// other editors validate with the same rules the studio applies.
import { childrenOf, FS_TYPES, isKnown, isRequired, KEYS, MOUNT_KEYS, type KeySpec } from './keys.ts';
import { atLeast, type VersionId } from './versions.ts';

type Schema = Record<string, unknown>;

const SIZE_PATTERN = '^\\s*[0-9]+\\s*(KB|MB|GB|TB|B)\\s*$';

function leaf(spec: KeySpec): Schema {
  const s: Schema = { description: spec.help };
  switch (spec.type) {
    case 'size':
      s.$ref = '#/$defs/size';
      break;
    case 'u32':
      s.type = 'integer';
      s.minimum = spec.min ?? 0;
      s.maximum = spec.max ?? 4294967295;
      break;
    case 'bool':
      s.type = 'boolean';
      break;
    case 'string':
      s.type = 'string';
      break;
    case 'hex':
      s.type = 'string';
      s.pattern = '^(0x|0X)?[0-9a-fA-F]{1,16}$';
      break;
    case 'strings':
      s.type = 'array';
      s.items = { type: 'string' };
      break;
    case 'mounts':
      s.type = 'array';
      s.items = { $ref: '#/$defs/mount' };
      break;
    case 'object':
      s.type = 'object';
      break;
  }
  if (spec.template !== undefined) s.default = spec.template;
  return s;
}

function objectSchema(parent: string, v: VersionId): Schema {
  const props: Schema = {};
  const required: string[] = [];
  for (const spec of childrenOf(KEYS, parent)) {
    if (!isKnown(spec, v)) continue;
    const key = spec.path.split('.').pop()!;
    props[key] = spec.type === 'object' ? { ...objectSchema(spec.path, v), description: spec.help } : leaf(spec);
    if (isRequired(spec, v)) required.push(key);
  }
  const s: Schema = { type: 'object', properties: props };
  if (required.length) s.required = required;
  if (parent === 'env') {
    s.additionalProperties = false; // the LibOS rejects other keys (deny_unknown_fields)
    (props.default as Schema).items = { type: 'string', pattern: '^[^=]+=' };
  }
  if (parent === 'entry_points') s.items = { type: 'string', pattern: '^/' };
  return s;
}

export function configSchema(v: VersionId): Schema {
  const root = objectSchema('', v);
  const props = root.properties as Schema;
  (props.entry_points as Schema).items = { type: 'string', pattern: '^/' };
  // Up to 0.20 the build ignored mount (0.17 – 0.20 took any JSON value): no shape to demand.
  if (!atLeast(v, '0.21'))
    props.mount = {
      description: `Occlum ${v} ignores this section: its build always mounts the image at /, the instance directory at /host and /tmp.`,
    };
  const optionProps: Schema = {};
  for (const spec of MOUNT_KEYS) {
    if (!spec.path.startsWith('options.') || !isKnown(spec, v)) continue;
    optionProps[spec.path.slice(8)] = leaf(spec);
  }
  const types = FS_TYPES.filter((t) => t !== 'ext2' || atLeast(v, '0.31.0'));
  const mount: Schema = {
    type: 'object',
    description: 'One mount: type, target, source, options.',
    properties: {
      type: { type: 'string', enum: types, description: MOUNT_KEYS.find((k) => k.path === 'type')!.help },
      target: { type: 'string', pattern: '^/', description: MOUNT_KEYS.find((k) => k.path === 'target')!.help },
      source: { type: 'string', description: MOUNT_KEYS.find((k) => k.path === 'source')!.help },
      options: {
        type: 'object',
        properties: optionProps,
        description: MOUNT_KEYS.find((k) => k.path === 'options')!.help,
      },
    },
    required: ['type', 'target'],
    allOf: [
      { if: { properties: { type: { const: 'hostfs' } } }, then: { required: ['source'] } },
      ...(atLeast(v, '0.31.0')
        ? [
            {
              if: { properties: { type: { const: 'ext2' } } },
              then: { required: ['options'], properties: { options: { required: ['disk_size'] } } },
            },
          ]
        : []),
    ],
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://github.com/occlum/occlum-studio/schemas/occlum-${v}.json`,
    title: `Occlum.json (Occlum ${v})`,
    description:
      'Occlum instance configuration. Occlum reads it as strict JSON (no comments, no trailing commas) and silently ignores unknown keys.',
    ...root,
    $defs: {
      size: {
        type: 'string',
        pattern: SIZE_PATTERN,
        description:
          'Size string: an unsigned integer followed by KB, MB, GB, TB or B (case-sensitive, binary multiples), e.g. "32MB".',
      },
      mount,
    },
  };
}
