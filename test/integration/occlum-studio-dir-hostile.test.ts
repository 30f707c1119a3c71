// The occlum backend keeps its files in the instance's `.occlum-studio/` (the exec server's log,
// the build record). An instance from a tarball or a repository may carry that directory or the
// log as a symbolic link or a FIFO: `start` opened the log with 'w' through the link, emptying
// the file it named (a user's ~/.bashrc) and writing the server's stderr into it. Through the
// built CLI, on the stand-in Occlum install (Occlum's own script; skipped without ../shared).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OcclumBackend } from '../../src/core/backend/occlum/index.ts';
import { findServerProcesses } from '../../src/core/detect/processes.ts';
import { runCli } from '../helpers/cli.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall } from '../helpers/occlum.ts';

const tmp = mkdtempSync(join(tmpdir(), 'occlum-studio-dir-'));
const dir = join(tmp, 'inst');
const env = occlumEnv();
const canary = join(tmp, 'bashrc');
const PRECIOUS = 'export PATH=precious\n';

before(async () => {
  if (OCCLUM_SKIP) return;
  const b = new OcclumBackend(dir, {}, { install: occlumInstall(env), env, buildDefaults: { sgxMode: 'SIM' } });
  await b.init(dir);
  compileHello(dir);
  assert.ok((await b.build({ sgxMode: 'SIM' })).ok);
});
after(() => {
  for (const p of findServerProcesses(dir)) process.kill(p.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function start(): { status: number; stderr: string } {
  const r = runCli(['start', '-C', dir, '--backend', 'occlum'], { env, timeout: 120_000 });
  if (r.status === 0) runCli(['stop', '-C', dir, '--backend', 'occlum'], { env, timeout: 60_000 });
  return r;
}

const cases: [string, () => void, RegExp][] = [
  [
    'the exec server log as a link to a file of the user',
    () => symlinkSync(canary, join(dir, '.occlum-studio', 'exec-server.log')),
    /exec-server\.log: the exec server log is a symbolic link \(to .*bashrc\): remove it/,
  ],
  [
    'the exec server log as a FIFO',
    () => execFileSync('mkfifo', [join(dir, '.occlum-studio', 'exec-server.log')]),
    /the exec server log is a FIFO \(named pipe\), not a regular file/,
  ],
  [
    '.occlum-studio as a link to a directory elsewhere',
    () => symlinkSync(join(tmp, 'elsewhere'), join(dir, '.occlum-studio')),
    /\.occlum-studio: the studio's directory of this instance is a symbolic link \(to .*elsewhere\)/,
  ],
];

for (const [name, plant, message] of cases) {
  test(`start refuses ${name}; nothing outside the instance is written`, { skip: OCCLUM_SKIP }, () => {
    rmSync(join(dir, '.occlum-studio'), { recursive: true, force: true });
    rmSync(join(tmp, 'elsewhere'), { recursive: true, force: true });
    mkdirSync(join(tmp, 'elsewhere'));
    if (!name.startsWith('.occlum-studio')) mkdirSync(join(dir, '.occlum-studio'));
    writeFileSync(canary, PRECIOUS);
    plant();
    const r = start();
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(readFileSync(canary, 'utf8'), PRECIOUS, 'the linked file is untouched');
    assert.equal(existsSync(join(tmp, 'elsewhere', 'exec-server.log')), false, 'nothing written where it points');
    assert.equal(findServerProcesses(dir).length, 0, 'no server started');
  });
}

test('start with a plain .occlum-studio still works', { skip: OCCLUM_SKIP }, () => {
  rmSync(join(dir, '.occlum-studio'), { recursive: true, force: true });
  const r = start();
  assert.equal(r.status, 0, r.stderr);
});
