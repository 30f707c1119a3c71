// The dev loop (watch → build → stop → rerun) through the occlum backend: real watcher, real
// `occlum build`/`occlum run` (Occlum's script on the stand-in install, skipped without ../shared;
// a real Occlum with OCCLUM_STUDIO_REAL_OCCLUM=1), real processes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BuildRecord } from '../../src/core/watch/types.ts';
import { OcclumBackend } from '../../src/core/backend/occlum/index.ts';
import { OcclumWatchBackend } from '../../src/core/backend/occlum/watch-adapter.ts';
import { findRunProcesses } from '../../src/core/detect/processes.ts';
import { OCCLUM_SKIP, occlumEnv, occlumInstall, REAL_OCCLUM } from '../helpers/occlum.ts';
import { waitFor } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'occlum-watch-'));
const dir = join(tmp, 'inst');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** image/bin/app: prints its version, then runs until stopped. */
function compileApp(version: string): void {
  const src = join(tmp, 'app.c');
  writeFileSync(
    src,
    `#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("app ${version}\\n"); fflush(stdout); sleep(60); return 0; }\n`,
  );
  const r = spawnSync(
    REAL_OCCLUM ? 'occlum-gcc' : 'musl-gcc',
    ['-fPIE', '-pie', '-o', join(dir, 'image', 'bin', 'app'), src],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
}

test(
  'watch → occlum build → stop the running app → rerun the new one; nothing left running',
  { skip: OCCLUM_SKIP },
  async () => {
    const env = occlumEnv();
    const opts = { install: occlumInstall(env), env, buildDefaults: { sgxMode: 'SIM' as const } };
    await new OcclumBackend(dir, {}, opts).newInstance(dir);
    compileApp('v1');
    const backend = new OcclumWatchBackend(opts);
    const loop = await DevLoop.open({ instanceDir: dir, backend, settings: loadSettings(dir), persistent: false });
    const q = loop.queue;
    const ended: BuildRecord[] = [];
    let out = '';
    q.on('build-end', (r) => ended.push(r));
    q.on('run-output', (o) => (out += o.chunk));
    try {
      q.buildNow();
      await waitFor(() => ended.length === 1, 'the first build');
      assert.equal(ended[0]!.outcome, 'ok', ended[0]!.output.map((l) => l.text).join('\n'));
      assert.match(ended[0]!.imageMac ?? '', /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
      assert.ok(ended[0]!.output.some((l) => /Built the Occlum image and enclave successfully/.test(l.text)));

      q.setAutoBuild(true);
      q.setAutoRerun(true);
      await q.run({ path: '/bin/app', args: [] });
      await waitFor(() => out.includes('app v1'), 'app v1 running');
      assert.equal(findRunProcesses(dir).length, 1);

      compileApp('v2');
      await waitFor(() => out.includes('app v2'), 'the rebuilt app rerun');
      const last = ended.at(-1)!;
      assert.equal(last.outcome, 'ok');
      assert.equal(last.trigger, 'change');
      assert.ok(last.changes.some((c) => c.rel === 'image/bin/app'));
      assert.equal(findRunProcesses(dir).length, 1, 'v1 was stopped before v2 started');
    } finally {
      await loop.close();
      await backend.stop(dir);
    }
    await waitFor(() => findRunProcesses(dir).length === 0, 'no occlum-run left', 5000);
  },
);
