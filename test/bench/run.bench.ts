// Run-to-first-output of the host backend against a bare `bwrap` launch of the same binary from
// the same image layer (baseline measured in this run; goal: under 3x plus verification).
// Verification (config pin, manifest/stat cache, secure-image MAC chain) is reported separately.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { median, report } from './helpers.ts';
import { CLI } from '../helpers/paths.ts';
import { ensureBuilt } from '../helpers/cli.ts';

ensureBuilt();

const RUNS = 25;

function firstOutput(file: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let t: number | null = null;
    const c = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.once('data', () => (t = performance.now() - t0));
    c.on('error', reject);
    c.on('close', () => (t === null ? reject(new Error(`${file}: no output`)) : resolve(t)));
  });
}

async function bench(label: string, extraMB: number) {
  const dir = makeInstance(['hello']);
  if (extraMB > 0) {
    mkdirSync(join(dir, 'image', 'data'), { recursive: true });
    for (let i = 0; i < extraMB; i++) writeFileSync(join(dir, 'image', 'data', `blob${i}`), randomBytes(1 << 20));
  }
  const b = new HostBackend(dir);
  const t0 = performance.now();
  const built = await b.build();
  const buildMs = performance.now() - t0;
  if (!built.ok) throw new Error(built.errors.join('\n'));
  const rootfs = join(dir, 'build', 'host', 'rootfs');
  const bare = ['--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--unshare-pid', '/bin/hello'];
  const env = { PATH: '/usr/bin:/bin' };
  const bareT: number[] = [];
  const hostT: number[] = [];
  const launchT: number[] = [];
  const verifyT: number[] = [];
  for (let i = 0; i < 3; i++) {
    await firstOutput('bwrap', bare, env);
    await b.run('/bin/hello', [], { stdio: 'pipe' });
  }
  for (let i = 0; i < RUNS; i++) {
    bareT.push(await firstOutput('bwrap', bare, env));
    const v0 = performance.now();
    await b.verify();
    verifyT.push(performance.now() - v0);
    const h0 = performance.now();
    const prep = await b.prepareRun('/bin/hello', []);
    const prepMs = performance.now() - h0;
    const launchMs = await firstOutput(prep.file, prep.args, prep.env);
    prep.finish(0, null);
    hostT.push(prepMs + launchMs);
    launchT.push(launchMs);
  }
  const base = { name: 'bare bwrap', value: median(bareT) };
  console.log(`-- ${label} (build ${buildMs.toFixed(0)} ms, ${built.filesStaged} entries)`);
  report('host run → first output (checks + verification + sandbox)', median(hostT), 'ms', base);
  report(
    '  sandbox launch only (unshare + overlay + prlimit + bwrap + seccomp)',
    median(launchT),
    'ms',
    base,
    'under 3x',
  );
  report('  verification alone (config pin, stat-cached manifest and secure image)', median(verifyT), 'ms', base);
  const f0 = performance.now();
  await b.verify({ full: true });
  report('  full verification (rehash every file, re-read the SEFS MAC chain)', performance.now() - f0, 'ms', base);
  // As users run it: a new node process for the CLI, then the same path.
  const cliT: number[] = [];
  for (let i = 0; i < 8; i++)
    cliT.push(await firstOutput(process.execPath, [CLI, 'run', '-C', dir, '/bin/hello'], env));
  report('`occlum-studio run /bin/hello` (CLI, incl. node start-up)', median(cliT), 'ms', base);
}

await bench('hello, template image', 0);
await bench('hello + 64 MiB of data files', 64);
