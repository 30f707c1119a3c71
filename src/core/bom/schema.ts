// JSON Schema (draft 2020-12) of bom files, for editors that validate YAML with schemas
// (e.g. yaml-language-server's `# yaml-language-server: $schema=…`).
import { FILE_KEYS, LINK_KEYS, SOURCE_KEYS, TARGET_KEYS, TOP_KEYS } from './parse.ts';

const path = (description: string) => ({ type: 'string', minLength: 1, description });
const list = (description: string, items: object = { type: 'string', minLength: 1 }) => ({
  type: ['array', 'null'],
  items,
  description,
});
const closed = (keys: readonly string[], properties: Record<string, object>, required: string[] = []) => {
  if (Object.keys(properties).join() !== keys.join()) throw new Error('schema keys out of step with the parser');
  return { type: 'object', additionalProperties: false, properties, required };
};

export function bomSchema(): object {
  const file = {
    anyOf: [
      path('a file to copy into the target, relative to the parent of the root dir unless absolute; $VAR allowed'),
      closed(
        FILE_KEYS,
        {
          name: path('the file to copy'),
          hash: {
            type: 'string',
            pattern: '^[0-9A-F]{64}$',
            description: 'SHA-256 of the file (upper-case hex); checked before anything is written',
          },
          autodep: { type: 'boolean', default: true, description: 'copy the shared libraries the file needs' },
          rename: path('the name in the target dir'),
        },
        ['name'],
      ),
    ],
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://occlum-studio.invalid/schema/bom.json',
    title: 'Occlum bom file (copy_bom)',
    ...closed(TOP_KEYS, {
      includes: list('other bom files: looked up next to this file, then in each include dir'),
      excludes: list('rsync --exclude patterns applied to directory copies'),
      targets: list(
        'operations on one directory of the image each',
        closed(
          TARGET_KEYS,
          {
            target: path('a directory in the image, e.g. /bin'),
            mkdirs: list('directories to create under the target'),
            createlinks: list(
              'symlinks to create under the target',
              closed(
                LINK_KEYS,
                {
                  src: path('what the link points to'),
                  linkname: path('the link, relative to the target'),
                },
                ['src', 'linkname'],
              ),
            ),
            copy: list('what to copy into the target', {
              ...closed(SOURCE_KEYS, {
                from: path('the dir that dirs and files are relative to; alone, its whole content is copied'),
                dirs: list('directories to copy; a trailing "/" copies the contents only'),
                files: list('files to copy', file),
              }),
              anyOf: [{ required: ['from'] }, { required: ['dirs'] }, { required: ['files'] }],
            }),
          },
          ['target'],
        ),
      ),
    }),
  };
}
