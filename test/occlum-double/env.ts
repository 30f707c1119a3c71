// How tests reach "an Occlum": by default the test double in this directory, put first on PATH;
// with OCCLUM_STUDIO_REAL_OCCLUM=1 the machine's real install (PATH or /opt/occlum) instead.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOcclum, ROOT_ENV, type OcclumInstall } from '../../src/core/detect/occlum-install.ts';

export const DOUBLE_ROOT = fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, '');
export const DOUBLE_BIN = join(DOUBLE_ROOT, 'bin');
export const REAL_OCCLUM = process.env.OCCLUM_STUDIO_REAL_OCCLUM === '1';

/** Environment for the backend under test: the double on PATH unless a real Occlum is asked for. */
export function occlumEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env[ROOT_ENV];
  delete env.OCCLUM_LOG_LEVEL;
  if (!REAL_OCCLUM) env.PATH = `${DOUBLE_BIN}${delimiter}${process.env.PATH ?? ''}`;
  return env;
}

export function occlumInstall(env = occlumEnv()): OcclumInstall {
  const { install, tried } = findOcclum(env);
  if (!install) throw new Error(`no Occlum for the tests: ${tried.join('; ')}`);
  return install;
}

/**
 * Writes a C program into the instance's image/bin, compiled as Occlum wants it (PIE, musl).
 * The program prints its arguments and $OCCLUM, then exits with argv[2] (if given).
 */
export function compileHello(instanceDir: string, name = 'hello'): string {
  const src = join(instanceDir, '..', `${name}.c`);
  writeFileSync(
    src,
    [
      '#include <stdio.h>',
      '#include <stdlib.h>',
      '#include <signal.h>',
      '#include <string.h>',
      'int main(int argc, char **argv) {',
      '  const char *occlum = getenv("OCCLUM");',
      '  printf("hello %s OCCLUM=%s\\n", argc > 1 ? argv[1] : "-", occlum ? occlum : "(unset)");',
      '  fflush(stdout);',
      '  if (argc > 2 && strcmp(argv[2], "segv") == 0) raise(SIGSEGV);',
      '  return argc > 2 ? atoi(argv[2]) : 0;',
      '}',
      '',
    ].join('\n'),
  );
  mkdirSync(join(instanceDir, 'image', 'bin'), { recursive: true });
  const out = join(instanceDir, 'image', 'bin', name);
  const cc = REAL_OCCLUM ? 'occlum-gcc' : 'musl-gcc';
  const r = spawnSync(cc, ['-fPIE', '-pie', '-O1', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cc} failed: ${r.stderr || r.error?.message}`);
  chmodSync(out, 0o755);
  return `/bin/${name}`;
}
