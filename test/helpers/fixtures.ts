// Compiles the C fixtures in fixtures/c with the host's musl-gcc into a temp dir, once per test
// process. Programs are built like occlum-gcc builds them (-fPIE -pie, dynamic musl), plus two
// that Occlum rejects: a non-PIE static binary and a glibc binary (plain gcc); and `execargs`, static.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.ts';

export const FIXTURE_PROGRAMS = [
  'hello',
  'env',
  'writer',
  'spawner',
  'forker',
  'forkprobe',
  'reader',
  'sleeper',
  'limits',
  'hoststate',
  'ttyprobe',
  'outlive',
  'keyring',
  'abstractprobe',
  // sizing: each needs more than the template config allows (test/integration/size.test.ts)
  'threads',
  'bigalloc',
  'mmaps',
  'children',
  'deepstack',
] as const;
export type FixtureName = (typeof FIXTURE_PROGRAMS)[number] | 'nonpie' | 'glibc' | 'execargs';

let outDir: string | null = null;

export function hasMuslGcc(): boolean {
  return spawnSync('musl-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Compiles every fixture (cached) and returns the directory holding the binaries. */
export function compileFixtures(): string {
  if (outDir) return outDir;
  const dir = mkdtempSync(join(tmpdir(), 'occlum-fixtures-'));
  const src = (n: string) => join(ROOT, 'fixtures', 'c', `${n}.c`);
  for (const n of FIXTURE_PROGRAMS) {
    execFileSync('musl-gcc', ['-O2', '-fPIE', '-pie', '-o', join(dir, n), src(n)], { stdio: 'pipe' });
  }
  execFileSync('musl-gcc', ['-O2', '-static', '-no-pie', '-o', join(dir, 'nonpie'), src('hello')], { stdio: 'pipe' });
  execFileSync('gcc', ['-O2', '-o', join(dir, 'glibc'), src('hello')], { stdio: 'pipe' });
  // Static (no loader needed wherever it lands): runs its arguments, as the fork shim does.
  execFileSync('musl-gcc', ['-O2', '-static', '-o', join(dir, 'execargs'), src('execargs')], { stdio: 'pipe' });
  outDir = dir;
  return dir;
}

export function fixturePath(name: FixtureName): string {
  return join(compileFixtures(), name);
}

/** Copies fixtures into <instance>/image/bin (executable). */
export function installFixtures(instanceDir: string, names: FixtureName[]): void {
  const bin = join(instanceDir, 'image', 'bin');
  if (!existsSync(bin)) mkdirSync(bin, { recursive: true });
  for (const n of names) {
    copyFileSync(fixturePath(n), join(bin, n));
    chmodSync(join(bin, n), 0o755);
  }
}
