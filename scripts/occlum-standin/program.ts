// One program of a booted stand-in enclave: Occlum's launch checks (path rules, loader) with
// their messages, then the host sandbox's command line; and the run layer sealed afterwards into
// run/mount/__ROOT as Occlum's UnionFS container layer (SEFS under the run key, whiteouts as
// `.ufs.wh.<name>`, opaque directories as `.ufs.opq.<name>`, `/.ufs.mac` naming the image).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  linkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkProgramPath } from '../../src/core/backend/host/program.ts';
import { BackendError } from '../../src/core/backend/types.ts';
import { occlumLaunchError, occlumLoaderLog, preflightFile } from '../../src/core/elf/preflight.ts';
import { programEnv } from '../../src/core/sandbox/env.ts';
import { rlimitsFor } from '../../src/core/sandbox/rlimits.ts';
import { seccompFilter } from '../../src/core/sandbox/seccomp.ts';
import { sandboxIdentity, stagerPath } from '../../src/core/sandbox/identity.ts';
import { writeFileAtomic } from '../../src/core/instance/atomic.ts';
import type { ProgramSpec } from '../../src/core/sandbox/launch.ts';
import { keySpec, loadNative, parseDashed16 } from '../../src/core/securefs/index.ts';
import type { Booted } from './boot.ts';

export type Checked = { ok: true; spec: ProgramSpec } | { ok: false; lines: string[] };

/** The LibOS's checks before a process is created; the lines Occlum prints when one fails. */
export function checkProgram(b: Booted, path: string, args: string[], callerEnv: NodeJS.ProcessEnv): Checked {
  try {
    checkProgramPath(path, b.cfg.entryPoints, b.log);
  } catch (e) {
    if (e instanceof BackendError) return { ok: false, lines: e.occlumLines };
    throw e;
  }
  const L = b.plan.layers;
  const inUpper = existsSync(join(L.upper, path));
  const pf = preflightFile(inUpper ? L.upper : L.lower, path);
  const err = pf.problems.find((x) => x.severity === 'error' && !(inUpper && x.code === 'loader-missing'));
  if (err) {
    const loaderLog = occlumLoaderLog(err);
    if (loaderLog) b.log.warn('process', loaderLog);
    return { ok: false, lines: occlumLaunchError(err) };
  }
  const seccompFile = join(L.upper, '..', 'seccomp-nofork.bpf');
  // Checked by content, written atomically: a 0-byte file left by a full disk makes bwrap fail.
  const filter = seccompFilter({ denyFork: true });
  if (!existsSync(seccompFile) || !readFileSync(seccompFile).equals(filter)) writeFileAtomic(seccompFile, filter);
  const { env } = programEnv(b.cfg.envDefault, b.cfg.envUntrusted, callerEnv);
  return {
    ok: true,
    spec: {
      plan: b.plan,
      argv: [path, ...args],
      env,
      rlimits: rlimitsFor(b.cfg),
      seccompFile,
      identity: sandboxIdentity(),
      stager: stagerPath(),
    },
  };
}

/** overlayfs whiteout: a character device 0:0; opaque directory: the trusted.overlay.opaque xattr. */
function isOpaque(dir: string): boolean {
  const r = spawnSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', dir], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'y';
}

function stage(upper: string, out: string): void {
  for (const name of readdirSync(upper)) {
    const src = join(upper, name);
    const st = lstatSync(src);
    if (st.isCharacterDevice() && st.rdev === 0) writeFileSync(join(out, `.ufs.wh.${name}`), '');
    else if (st.isDirectory()) {
      mkdirSync(join(out, name), { mode: st.mode & 0o7777 });
      if (isOpaque(src)) writeFileSync(join(out, `.ufs.opq.${name}`), '');
      stage(src, join(out, name));
    } else if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), join(out, name));
    else if (st.isFile()) linkSync(src, join(out, name));
  }
}

/** Seals the sandbox's upper directory into run/mount/__ROOT (atomically replaced). */
export function sealRunLayer(b: Booted): void {
  const root = join(b.dir, 'run', 'mount', '__ROOT');
  if (!existsSync(join(b.dir, 'run', 'mount'))) return; // a build removed run/ meanwhile
  const work = join(b.dir, 'run', '.standin', `seal-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  stage(b.plan.layers.upper, src);
  writeFileSync(join(src, '.ufs.mac'), Buffer.from(parseDashed16(b.imageMac) ?? []));
  loadNative().call('pack', [src, join(work, '__ROOT'), join(work, '.ROOT_MAC'), keySpec(b.runKey), '0']);
  rmSync(join(work, '__ROOT', '.occlum-studio-pack'), { force: true });
  const old = join(work, 'old');
  if (existsSync(root)) renameSync(root, old);
  renameSync(join(work, '__ROOT'), root);
  rmSync(work, { recursive: true, force: true });
}
