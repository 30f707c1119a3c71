// The stand-in Occlum install (scripts/occlum-standin.mjs) the occlum-backend tests run against:
// Occlum's own script and makefile from ../shared/reference over stand-ins for the SGX-only tools.
// Built once per content of its inputs into the temp directory and shared by all test files
// (a lock directory serialises concurrent builders). A fresh clone has no ../shared: then
// STANDIN_SKIP says why and the tests that need it skip.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SHARED, needsCorpus } from './paths.ts';
import { addonFileName } from '../../native/target.mjs';

export const OCCLUM_REFERENCE = join(SHARED, 'reference', 'occlum-0.31.0');

export const STANDIN_SKIP: string | false = needsCorpus(join(OCCLUM_REFERENCE, 'tools', 'occlum'));

/** Sizes and mtimes of everything the install is made from. */
function inputsHash(): string {
  const h = createHash('sha256');
  const visit = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n));
    else h.update(`${p}:${st.size}:${st.mtimeMs}\n`);
  };
  for (const p of ['scripts/occlum-standin.mjs', 'scripts/occlum-standin', 'src/core', `native/${addonFileName()}`])
    visit(join(ROOT, p));
  visit(join(OCCLUM_REFERENCE, 'tools', 'occlum'));
  visit(join(OCCLUM_REFERENCE, 'tools', 'occlum_build.mk'));
  return h.digest('hex').slice(0, 16);
}

/** Installs of earlier sources, unused for an hour (a test run of those sources would be over). */
function removeStale(keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    const p = join(tmpdir(), name);
    if (!name.startsWith('occlum-studio-standin-') || p === keep || name.endsWith('.lock')) continue;
    try {
      if (Date.now() - statSync(p).mtimeMs > 3600_000) rmSync(p, { recursive: true, force: true });
    } catch {
      /* removed by another run meanwhile */
    }
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

let built: string | undefined;

/** The install root (built if needed). Throws when it cannot be built: tests should fail loudly. */
export function standinRoot(): string {
  if (built) return built;
  if (STANDIN_SKIP) throw new Error(STANDIN_SKIP);
  const dest = join(tmpdir(), `occlum-studio-standin-${inputsHash()}`);
  const lock = `${dest}.lock`;
  for (let i = 0; !existsSync(join(dest, '.occlum-standin')); i++) {
    try {
      mkdirSync(lock);
    } catch {
      if (i > 1200) throw new Error(`timed out waiting for ${lock} (remove it if no test is running)`);
      sleep(100);
      continue;
    }
    try {
      if (!existsSync(join(dest, '.occlum-standin'))) {
        const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'occlum-standin.mjs'), dest], {
          encoding: 'utf8',
        });
        if (r.status !== 0) throw new Error(`scripts/occlum-standin.mjs failed: ${r.stderr}`);
        removeStale(dest);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  built = dest;
  return dest;
}
