// How tests reach "an Occlum": by default the stand-in install (Occlum's own `occlum` script and
// makefile over stand-ins for the SGX-only tools, ./occlum-standin.ts), through
// $OCCLUM_STUDIO_OCCLUM_ROOT as a user would point at one; with OCCLUM_STUDIO_REAL_OCCLUM=1 the
// machine's real install (PATH or /opt/occlum). Detection tests use fakeOcclumTree().
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOcclum, ROOT_ENV, type OcclumInstall } from '../../src/core/detect/occlum-install.ts';
import { standinRoot, STANDIN_SKIP } from './occlum-standin.ts';

export const REAL_OCCLUM = process.env.OCCLUM_STUDIO_REAL_OCCLUM === '1';
/** Why the occlum-backend tests cannot run here (no ../shared for Occlum's script), or false. */
export const OCCLUM_SKIP: string | false = REAL_OCCLUM ? false : STANDIN_SKIP;

/** Environment for the backend under test: the stand-in install, or a real Occlum if asked for. */
export function occlumEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env[ROOT_ENV];
  delete env.OCCLUM_LOG_LEVEL;
  delete env.SGX_MODE;
  if (!REAL_OCCLUM && !STANDIN_SKIP) env[ROOT_ENV] = standinRoot();
  return env;
}

export function occlumInstall(env = occlumEnv()): OcclumInstall {
  const { install, tried } = findOcclum(env);
  if (!install) throw new Error(`no Occlum for the tests: ${tried.join('; ')}`);
  return install;
}

/**
 * A fake install tree for detection: an executable `occlum` that does nothing, in <root>/build/bin
 * (as installed) or <root>/bin, and <root>/include/occlum_version.h. Returns the script's path.
 */
export function fakeOcclumTree(root: string, version = '0.31.0', binDir = join('build', 'bin')): string {
  const bin = join(root, binDir, 'occlum');
  mkdirSync(join(root, binDir), { recursive: true });
  writeFileSync(bin, '#!/bin/sh\n# fake Occlum install for detection tests: does nothing\nexit 0\n');
  chmodSync(bin, 0o755);
  const [major, minor, patch] = version.split('.');
  mkdirSync(join(root, 'include'), { recursive: true });
  writeFileSync(
    join(root, 'include', 'occlum_version.h'),
    `#define OCCLUM_MAJOR_VERSION ${major}\n#define OCCLUM_MINOR_VERSION ${minor}\n#define OCCLUM_PATCH_VERSION ${patch}\n`,
  );
  return bin;
}

/**
 * Writes a C program into the instance's image/bin, compiled as Occlum wants it (PIE, musl).
 * The program prints its arguments and $OCCLUM, writes argv[1] to /root/hello.txt when it starts with
 * "write", then exits with argv[2] (if given; "segv" raises SIGSEGV).
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
      '  if (argc > 1 && strncmp(argv[1], "write", 5) == 0) {', // into the run layer
      '    FILE *f = fopen("/root/hello.txt", "w");',
      '    if (!f || fputs(argv[1], f) < 0 || fclose(f) != 0) return 9;',
      '  }',
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
