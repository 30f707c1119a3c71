// The config slice without UI: load, edit, fix, undo/redo, save, outside changes, versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance, unsavedWork } from '../../src/store/index.ts';
import { CONFIG_CORPUS, OWN_TEMPLATE, needsCorpus } from '../helpers/paths.ts';

const TEMPLATE = OWN_TEMPLATE;
const V030 = join(CONFIG_CORPUS, 'occlum-history', 'v0.30.0__etc__template__Occlum.json');

function instance(src = TEMPLATE, settings?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-store-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  copyFileSync(src, join(dir, 'Occlum.json'));
  if (settings) writeFileSync(join(dir, '.occlum-studio.json'), settings);
  return dir;
}

test('load, edit, fix, undo/redo, save; unsaved work is reported', async () => {
  const dir = instance();
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const s = () => store.getState();
  assert.equal(s().config.result!.counts.error, 0);
  assert.equal(s().occlumVersion, '0.31.0', 'the status bar shows the applied version');
  s().configEdit({ kind: 'set', path: ['process', 'default_heap_size'], value: '32mb' });
  assert.equal(s().config.result!.counts.error, 1);
  assert.deepEqual(unsavedWork(s()), ['Occlum.json has unsaved changes (quitting discards them)']);
  const d = s().config.result!.diagnostics.find((x) => x.fix)!;
  s().configApplyFix(d);
  assert.equal(s().config.result!.counts.error, 0);
  assert.equal(s().config.text, s().config.savedText, 'the fix restored the original text');
  s().configUndo();
  assert.equal(s().config.result!.counts.error, 1);
  s().configRedo();
  s().configEdit({ kind: 'set', path: ['resource_limits', 'max_num_of_threads'], value: 64 });
  assert.ok(s().configSave());
  assert.equal(JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8')).resource_limits.max_num_of_threads, 64);
  assert.deepEqual(unsavedWork(s()), []);
});

test('outside changes: silent reload when clean, conflict when edited', async () => {
  const dir = instance();
  const file = join(dir, 'Occlum.json');
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const s = () => store.getState();
  writeFileSync(file, readFileSync(TEMPLATE, 'utf8').replace('"300MB"', '"400MB"'));
  s().configCheckDisk();
  assert.match(s().config.text, /"400MB"/);
  assert.equal(s().config.conflict, null);
  s().configEdit({ kind: 'set', path: ['metadata', 'product_id'], value: 5 });
  writeFileSync(file, readFileSync(TEMPLATE, 'utf8').replace('"300MB"', '"500MB"'));
  s().configCheckDisk();
  assert.ok(s().config.conflict);
  assert.equal(s().configSave(), false);
  assert.match(readFileSync(file, 'utf8'), /"500MB"/);
  assert.ok(s().configSave(true));
  assert.match(readFileSync(file, 'utf8'), /"product_id": 5/);
  assert.equal(s().config.conflict, null);
});

test(
  'version: .occlum-studio.json overrides detection; --occlum-version overrides both',
  { skip: needsCorpus(V030) },
  async () => {
    const dir = instance(V030, '{"occlumVersion": "0.31.0"}');
    const store = createStudioStore({ launchDir: dir });
    await openInstance(store, dir);
    assert.equal(store.getState().config.result!.version, '0.31.0');
    assert.ok(store.getState().config.result!.counts.error > 0);
    const forced = createStudioStore({ launchDir: dir, occlumVersion: '0.30' });
    await openInstance(forced, dir);
    assert.equal(forced.getState().config.result!.version, '0.30.1');
    const bad = createStudioStore({ launchDir: dir, occlumVersion: '7' });
    await openInstance(bad, dir);
    assert.match(bad.getState().flash!.text, /--occlum-version/);
    const plain = instance(V030);
    const detected = createStudioStore({ launchDir: plain });
    await openInstance(detected, plain);
    assert.equal(detected.getState().config.result!.version, '0.30.0');
    assert.equal(detected.getState().config.result!.counts.error, 0);
  },
);

test('an instance without Occlum.json, and an unreadable one, do not throw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-store-none-'));
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  assert.equal(store.getState().config.file, null);
  mkdirSync(join(dir, 'Occlum.json'));
  store.getState().configLoad(join(dir, 'Occlum.json'));
  assert.match(store.getState().config.loadError!, /cannot read/);
});

test('an NGO Occlum.json loads in the Config pane model with its own rules and names them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-store-ngo-'));
  const cfg = JSON.parse(readFileSync(TEMPLATE, 'utf8'));
  delete cfg.resource_limits.max_num_of_threads;
  delete cfg.feature;
  Object.assign(cfg.resource_limits, { min_num_of_cpus: 1, max_num_of_cpus: 4 });
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(cfg, null, 4));
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const s = () => store.getState();
  assert.equal(s().config.result!.family, 'ngo');
  assert.equal(s().config.result!.counts.error, 0, JSON.stringify(s().config.result!.diagnostics));
  assert.equal(s().occlumVersion, 'NGO / 1.0 preview');
  s().configEdit({ kind: 'set', path: ['resource_limits', 'user_space_size'], value: '300mb' });
  assert.match(s().config.result!.diagnostics[0]!.message, /"300mb" is not a valid size.*write "300MB"/);
});
