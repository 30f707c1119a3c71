// .occlum-studio.json is read by two parts: the config checker (occlumVersion) and the dev loop
// (prebuild, watch, …). Each must accept the other's keys, or one feature breaks the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings } from '../../src/core/config/index.ts';
import { loadSettings, parseSettings, SettingsError } from '../../src/core/watch/settings.ts';

test('one settings file serves the config checker and the dev loop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  try {
    writeFileSync(
      join(dir, '.occlum-studio.json'),
      '{\n  // pinned\n  "occlumVersion": "0.30.1",\n  "prebuild": "make",\n  "watch": ["src/*.c"]\n}\n',
    );
    assert.equal(readSettings(dir).occlumVersion, '0.30.1');
    assert.deepEqual(readSettings(dir).problems, []);
    const loaded = loadSettings(dir);
    assert.equal(loaded.settings.occlumVersion, '0.30.1');
    assert.equal(loaded.settings.prebuild, 'make');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a version Occlum never had is located in the settings file', () => {
  assert.throws(
    () => parseSettings('{\n  "occlumVersion": "2.0"\n}', '/x/.occlum-studio.json'),
    (e: unknown) =>
      e instanceof SettingsError && e.line === 2 && /occlumVersion.*no rules for Occlum 2\.0/.test(e.message),
  );
});
