// Detection: finding Occlum and its version, the instance's effective status from the status file
// plus the process checks the CLI uses (with real processes), and the backend choice.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOcclum, parseVersionHeader, rootOfScript, ROOT_ENV } from '../../src/core/detect/occlum-install.ts';
import { chooseBackend, BackendChoiceError, parseBackendKind } from '../../src/core/detect/backend-choice.ts';
import { instanceState } from '../../src/core/detect/instance-state.ts';
import { findRunProcesses, findServerProcesses } from '../../src/core/detect/processes.ts';
import { missingFeature } from '../../src/core/backend/occlum/cli-features.ts';
import { fakeOcclumTree } from '../helpers/occlum.ts';

const tmp = mkdtempSync(join(tmpdir(), 'detect-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
/** An install tree with its script in a plain <root>/bin/ (version 0.31.0). */
const PLAIN_ROOT = join(tmp, 'plain');
const PLAIN_BIN = join(PLAIN_ROOT, 'bin');
fakeOcclumTree(PLAIN_ROOT, '0.31.0', 'bin');

/** A fake /opt/occlum-like tree: <root>/build/bin/occlum and include/occlum_version.h. */
function fakeTree(name: string, header: string | null): string {
  const root = join(tmp, name);
  mkdirSync(join(root, 'build', 'bin'), { recursive: true });
  writeFileSync(join(root, 'build', 'bin', 'occlum'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(root, 'build', 'bin', 'occlum'), 0o755);
  if (header !== null) {
    mkdirSync(join(root, 'include'), { recursive: true });
    writeFileSync(join(root, 'include', 'occlum_version.h'), header);
  }
  return root;
}

const HEADER = '#define OCCLUM_MAJOR_VERSION    0\n#define OCCLUM_MINOR_VERSION 30\n# define OCCLUM_PATCH_VERSION 1\n';

describe('finding Occlum', () => {
  test('version header', () => {
    assert.equal(parseVersionHeader(HEADER), '0.30.1');
    assert.equal(parseVersionHeader('#define OCCLUM_MAJOR_VERSION 0\n'), null);
    assert.equal(parseVersionHeader(''), null);
  });

  test('root of the script: <root>/build/bin/occlum and <root>/bin/occlum', () => {
    assert.equal(rootOfScript(join(PLAIN_BIN, 'occlum')), PLAIN_ROOT);
    const root = fakeTree('std', HEADER);
    assert.equal(rootOfScript(join(root, 'build', 'bin', 'occlum')), root);
    // A PATH symlink resolves to the tree it points into.
    mkdirSync(join(tmp, 'pathdir'));
    symlinkSync(join(root, 'build', 'bin', 'occlum'), join(tmp, 'pathdir', 'occlum'));
    assert.equal(rootOfScript(join(tmp, 'pathdir', 'occlum')), root);
  });

  test('override root, PATH, nothing', () => {
    const root = fakeTree('override', HEADER);
    const viaRoot = findOcclum({ [ROOT_ENV]: root, PATH: '' });
    assert.equal(viaRoot.install?.version, '0.30.1');
    assert.equal(viaRoot.install?.bin, join(root, 'build', 'bin', 'occlum'));

    const viaPath = findOcclum({ PATH: `${PLAIN_BIN}:/usr/bin` });
    assert.equal(viaPath.install?.root, PLAIN_ROOT);
    assert.equal(viaPath.install?.version, '0.31.0');
    assert.equal(viaPath.install?.foundVia, 'PATH');

    const none = findOcclum({ PATH: '/nonexistent' });
    if (none.install === null) assert.ok(none.tried.some((t) => /no `occlum` on PATH/.test(t)));

    const broken = findOcclum({ [ROOT_ENV]: join(tmp, 'missing'), PATH: PLAIN_BIN });
    assert.equal(broken.install, null, 'an explicit root that holds no occlum is not silently replaced');
    assert.match(broken.tried[0]!, /no executable/);
  });

  test('a source tree keeps the header in src/pal/include', () => {
    const root = fakeTree('srctree', null);
    mkdirSync(join(root, 'src', 'pal', 'include'), { recursive: true });
    writeFileSync(join(root, 'src', 'pal', 'include', 'occlum_version.h'), HEADER);
    assert.equal(findOcclum({ [ROOT_ENV]: root }).install?.version, '0.30.1');
  });

  test('missing version header: found, version unknown', () => {
    const root = fakeTree('nohdr', null);
    const r = findOcclum({ [ROOT_ENV]: root });
    assert.ok(r.install);
    assert.equal(r.install.version === null || r.install.versionHeader.startsWith('/opt/occlum'), true);
  });
});

describe('CLI features by Occlum version', () => {
  test('print needs 0.29.1, --init-ra and --enable-edmm 0.30.0; unknown versions are not refused', () => {
    assert.match(missingFeature('0.29.0', 'print')!, /needs Occlum 0\.29\.1 or later; this install is 0\.29\.0/);
    assert.equal(missingFeature('0.29.1', 'print'), null);
    assert.match(missingFeature('0.29.7', 'init-ra')!, /0\.30\.0/);
    assert.equal(missingFeature('0.31.0', 'enable-edmm'), null);
    assert.equal(missingFeature('1.0.0', 'config-id'), null);
    assert.equal(missingFeature(null, 'print'), null);
  });
});

describe('backend choice', () => {
  test('occlum when found, host otherwise, --backend overrides', () => {
    assert.equal(chooseBackend(undefined, { PATH: PLAIN_BIN }).kind, 'occlum');
    assert.equal(chooseBackend('host', { PATH: PLAIN_BIN }).kind, 'host');
    const none = { PATH: '/nonexistent', [ROOT_ENV]: join(tmp, 'missing') };
    const host = chooseBackend(undefined, none);
    assert.equal(host.kind, 'host');
    assert.match(host.reason, /Occlum not found/);
    assert.throws(
      () => chooseBackend('occlum', none),
      (e: Error) =>
        e instanceof BackendChoiceError &&
        /--backend occlum was requested/.test(e.message) &&
        /--backend host/.test(e.message),
    );
    assert.throws(() => parseBackendKind('sgx'), /unknown backend "sgx"/);
    assert.equal(parseBackendKind('auto'), undefined);
  });
});

describe('instance state: status file corrected by process checks', () => {
  const inst = join(tmp, 'inst');
  mkdirSync(join(inst, 'build', 'bin'), { recursive: true });
  // Processes whose command lines look like occlum-run and the exec server of this instance.
  writeFileSync(join(inst, 'build', 'bin', 'occlum-run'), '#!/bin/bash\nsleep 30\n');
  writeFileSync(join(inst, 'build', 'bin', 'occlum_exec_server'), '#!/bin/bash\nsleep 30\n');
  chmodSync(join(inst, 'build', 'bin', 'occlum-run'), 0o755);
  chmodSync(join(inst, 'build', 'bin', 'occlum_exec_server'), 0o755);
  const write = (s: string) => writeFileSync(join(inst, '.__occlum_status'), s + '\n');

  test('uninitialized, initialized, built, built-stale', () => {
    assert.equal(instanceState(inst).status, 'uninitialized');
    write('initialized');
    assert.equal(instanceState(inst).status, 'initialized');
    write('built');
    const stale = instanceState(inst);
    assert.equal(stale.status, 'built-stale', 'built but run/ is gone (a failed build)');
    assert.match(stale.correction!, /run\/mount\/__ROOT is missing/);
    mkdirSync(join(inst, 'run', 'mount', '__ROOT'), { recursive: true });
    assert.equal(instanceState(inst).status, 'built');
    writeFileSync(join(inst, '.sgx_mode'), 'SIM\n');
    assert.equal(instanceState(inst).sgxMode, 'SIM');
  });

  test('"running" with no occlum-run alive → built, with the reason', () => {
    write('running');
    const s = instanceState(inst);
    assert.equal(s.status, 'built');
    assert.match(s.correction!, /non-zero status/);
  });

  test('a live occlum-run → running; a live server → serving although the file says built', async () => {
    const run = spawn(join(inst, 'build', 'bin', 'occlum-run'), ['/bin/x'], { stdio: 'ignore' });
    const server = spawn('build/bin/occlum_exec_server', ['-d', inst], { cwd: inst, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(
        findRunProcesses(inst).map((p) => p.pid),
        [run.pid],
      );
      assert.deepEqual(
        findServerProcesses(inst).map((p) => p.pid),
        [server.pid],
      );
      write('built');
      const s = instanceState(inst);
      assert.equal(s.status, 'serving');
      server.kill('SIGKILL');
      await new Promise((r) => server.on('exit', r));
      write('built');
      const r = instanceState(inst);
      assert.equal(r.status, 'running');
      assert.match(r.correction!, /occlum-run is alive/);
      // A different instance whose path is a prefix is not confused with this one.
      assert.equal(findRunProcesses(inst.slice(0, -1)).length, 0);
    } finally {
      run.kill('SIGKILL');
      server.kill('SIGKILL');
    }
  });

  test('a symlinked instance path still finds the server started with the physical path', async () => {
    const link = join(tmp, 'inst-link');
    symlinkSync(inst, link);
    const server = spawn('build/bin/occlum_exec_server', ['-d', inst], { cwd: inst, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(findServerProcesses(link).length, 1);
    } finally {
      server.kill('SIGKILL');
    }
  });
});
