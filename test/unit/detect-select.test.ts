// openBackend: the backend an instance gets, from detection and --backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBackend } from '../../src/core/backend/select.ts';
import { BackendChoiceError } from '../../src/core/detect/backend-choice.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fakeOcclumTree } from '../helpers/occlum.ts';

test('auto: occlum when found, host otherwise; --backend overrides; occlum asked for but absent is an error', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'detect-select-'));
  const withOcclum = { PATH: `${dirname(fakeOcclumTree(tmp))}:/usr/bin:/bin` };
  const without = { PATH: '/usr/bin:/bin', OCCLUM_STUDIO_OCCLUM_ROOT: '/nonexistent-occlum' };
  assert.equal(openBackend('/tmp/x', { env: withOcclum }).backend.kind, 'occlum');
  assert.equal(openBackend('/tmp/x', { env: withOcclum, backend: 'host' }).backend.kind, 'host');
  const auto = openBackend('/tmp/x', { env: without });
  assert.equal(auto.backend.kind, 'host');
  assert.match(auto.choice.reason, /Occlum not found/);
  assert.throws(() => openBackend('/tmp/x', { env: without, backend: 'occlum' }), BackendChoiceError);
  rmSync(tmp, { recursive: true, force: true });
});
