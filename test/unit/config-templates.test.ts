// What the Config pane adds (src/core/config/templates.ts) and the SGX identity read from an
// instance's config (src/core/config/metadata.ts), without the store or a terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialValue, isMountArray, mountTemplate } from '../../src/core/config/templates.ts';
import { readInstanceMetadata } from '../../src/core/config/metadata.ts';
import { CONTAINER_LAYER } from '../../src/core/instance/layout.ts';

const dir = mkdtempSync(join(tmpdir(), 'config-templates-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('mount arrays get a template item: a writable sefs layer in layers, else a hostfs mount', () => {
  assert.ok(isMountArray(['mount']));
  assert.ok(isMountArray(['mount', 0, 'options', 'layers']));
  assert.ok(!isMountArray(['entry_points']));
  const layer = mountTemplate(['mount', 0, 'options', 'layers']);
  assert.deepEqual(layer, { layer: true, value: CONTAINER_LAYER });
  assert.notEqual(layer.value, CONTAINER_LAYER, 'a copy: editing it leaves the shared layer alone');
  assert.deepEqual(mountTemplate(['mount']), {
    layer: false,
    value: { target: '/data', type: 'hostfs', source: './data' },
  });
});

test('a new key starts from the template value, else one of its type', () => {
  assert.equal(initialValue(['resource_limits', 'user_space_size']), '300MB');
  assert.equal(initialValue(['feature', 'enable_edmm']), false);
  assert.equal(initialValue(['no_such_key']), '');
});

test('metadata: Occlum.json, or first the generated build/Occlum.json when asked; {} when none reads', () => {
  assert.deepEqual(readInstanceMetadata(dir), {});
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify({ metadata: { product_id: 3, version_number: 7 } }));
  assert.deepEqual(readInstanceMetadata(dir), { productId: 3, isvSvn: 7, debuggable: undefined });
  mkdirSync(join(dir, 'build'));
  writeFileSync(join(dir, 'build', 'Occlum.json'), JSON.stringify({ metadata: { product_id: 9, debuggable: false } }));
  assert.deepEqual(readInstanceMetadata(dir, { generatedFirst: true }), {
    productId: 9,
    isvSvn: undefined,
    debuggable: false,
  });
  assert.equal(readInstanceMetadata(dir).productId, 3);
  writeFileSync(join(dir, 'build', 'Occlum.json'), '{ not json');
  assert.equal(readInstanceMetadata(dir, { generatedFirst: true }).productId, 3, 'an unreadable one is skipped');
});
