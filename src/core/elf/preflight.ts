// Occlum's loader checks (spec 5.1) applied before running: for each executable the error Occlum
// would print, and how to fix it. Occlum only reports these at `occlum run`, inside the enclave;
// the studio reports them at build time, all at once.
import { readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { ET_DYN, libcOf, readElfInfo, type Libc } from './header.ts';
import { resolveInImage } from './resolve.ts';

export type PreflightCode =
  | 'missing'
  | 'not-regular'
  | 'not-executable'
  | 'not-elf64'
  | 'not-pie'
  | 'no-interp'
  | 'loader-missing'
  | 'script-interp-missing'
  | 'script-interp-hostfs'
  | 'script-interp-args'
  | 'script-line-too-long'
  | 'host-glibc';

export interface PreflightProblem {
  /** Path inside the image, e.g. /bin/app. */
  path: string;
  code: PreflightCode;
  /** A note runs fine here and says, in one line, what differs in Occlum. */
  severity: 'error' | 'warning' | 'note';
  /** The error as Occlum prints it (errno form, as in `failed to boot up LibOS: …`). */
  occlum: string;
  /** What is wrong, in plain words. */
  explanation: string;
  fix: string;
}

export interface PreflightResult {
  path: string;
  kind: 'elf' | 'script' | 'other' | 'missing';
  /** For a script, its interpreter's. */
  libc?: Libc;
  interp?: string | null;
  /** How an ELF program is linked, e.g. "dynamic PIE, musl", "Go runtime, PIE, no libc". */
  linkage?: string;
  problems: PreflightProblem[];
}

/** Static or dynamic, PIE or not, and which runtime: what decides whether Occlum can load it. */
export function describeLinkage(info: {
  type: number;
  interp: string | null;
  dynamic?: boolean;
  go?: boolean;
  needed?: string[];
}): string {
  const pie = info.type === ET_DYN ? 'PIE' : 'non-PIE';
  const dyn = info.interp ? 'dynamic' : info.dynamic && info.type === ET_DYN ? 'static-pie' : 'static';
  const libc = libcOf(info.interp);
  const usesLibc = info.needed ? info.needed.some((n) => /^libc\.so/.test(n)) : libc !== 'none';
  const shape = dyn === 'static-pie' ? 'static-pie' : `${dyn} ${pie}`;
  if (info.go) return `Go runtime, ${shape}, ${usesLibc ? `cgo with ${libc === 'none' ? 'libc' : libc}` : 'no libc'}`;
  return `${shape}${libc === 'none' ? '' : `, ${libc}`}`;
}

const E = {
  EACCES: 'EACCES (#13, Permission denied)',
  ENOEXEC: 'ENOEXEC (#8, Exec format error)',
  EINVAL: 'EINVAL (#22, Invalid argument)',
  ENOENT: 'ENOENT (#2, No such file or directory)',
};

const GLIBC_NOTE =
  'glibc programs only work inside Occlum with Occlum\'s patched glibc (/opt/occlum/glibc/lib, copied into the image by copy_bom); the host\'s glibc fails with "FATAL: kernel too old" or crashes';

/**
 * Where the LibOS raises each error, as printed after the message ("[line = L, file = F]") and
 * the chained cause, for the failures whose source location is known (spec 5.1, occlum#764).
 * Line numbers drift between Occlum versions; these are from the cited reports.
 */
const LOCATIONS: Partial<Record<PreflightCode, { at: string; causedBy?: string }>> = {
  'not-pie': { at: '[line = 23, file = src/process/do_spawn/exec_loader.rs]' },
  'not-elf64': { at: '[line = 23, file = src/process/do_spawn/exec_loader.rs]' },
  'loader-missing': {
    at: '[line = 192, file = src/process/do_spawn/mod.rs]',
    causedBy:
      'ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/do_spawn/exec_loader.rs]',
  },
};

/** Lines Occlum prints on the terminal for a launch failure (exit 127). */
export function occlumLaunchError(p: PreflightProblem): string[] {
  const errno = p.occlum.split(' ')[0];
  const loc = LOCATIONS[p.code];
  return [
    `failed to boot up LibOS: ${p.occlum}${loc ? ` ${loc.at}` : ''}`,
    ...(loc?.causedBy ? [`    Caused by ${loc.causedBy}`] : []),
    `[ERROR] occlum-pal: occlum_ecall_new_process returns ${errno}`,
  ];
}

/** The LibOS's own log line for a rejected ELF (WARN level), when it writes one. */
export function occlumLoaderLog(p: PreflightProblem): string | null {
  if (p.code === 'not-pie')
    return 'parse elf header error = ENOEXEC (#8, Exec format error): ELF is not position-independent';
  return null;
}

function problem(
  path: string,
  code: PreflightCode,
  occlum: string,
  explanation: string,
  fix: string,
  severity: PreflightProblem['severity'] = 'error',
): PreflightProblem {
  return { path, code, severity, occlum, explanation, fix };
}

/** Checks one program path (inside the image) the way Occlum's loader does. */
export function preflightFile(imageRoot: string, innerPath: string, depth = 0): PreflightResult {
  const host = resolveInImage(imageRoot, innerPath);
  if (!host) {
    return {
      path: innerPath,
      kind: 'missing',
      problems: [
        problem(
          innerPath,
          'missing',
          `${E.ENOENT}: cannot find the file`,
          `${innerPath} does not exist in the image`,
          `copy it to image${innerPath} (paths are inside the image, not host paths), then build`,
        ),
      ],
    };
  }
  const st = statSync(host);
  if (!st.isFile()) {
    return {
      path: innerPath,
      kind: 'other',
      problems: [
        problem(
          innerPath,
          'not-regular',
          `${E.EACCES}: it is not a regular file`,
          `${innerPath} is a ${st.isDirectory() ? 'directory' : 'special file'}, not a program`,
          'give the path of the program file',
        ),
      ],
    };
  }
  const problems: PreflightProblem[] = [];
  if ((st.mode & 0o111) === 0) {
    problems.push(
      problem(
        innerPath,
        'not-executable',
        `${E.EACCES}: file is not executable`,
        `${innerPath} has no execute bit (files copied without +x, occlum/occlum#1055)`,
        `chmod +x image${innerPath}, then build`,
      ),
    );
  }
  let info;
  try {
    info = readElfInfo(host);
  } catch (err) {
    problems.push(
      problem(
        innerPath,
        'not-regular',
        `${E.EACCES}: cannot read the file`,
        `${innerPath} could not be read: ${(err as Error).message}`,
        'check the file permissions on the host',
      ),
    );
    return { path: innerPath, kind: 'other', problems };
  }
  if (info.kind === 'script') {
    const interp = info.interpreter;
    const res: PreflightResult = { path: innerPath, kind: 'script', interp, problems };
    if (info.firstLineTooLong) {
      problems.push(
        problem(
          innerPath,
          'script-line-too-long',
          `${E.ENOEXEC}: unknown executable file format`,
          `the #! line of ${innerPath} is longer than 127 bytes`,
          'shorten the interpreter path',
        ),
      );
    }
    if (info.args) {
      problems.push(
        problem(
          innerPath,
          'script-interp-args',
          `${E.EINVAL}: interpreter arguments are not supported`,
          `Occlum passes no arguments from the #! line ("${info.args}") to ${interp}`,
          `use "#!${interp}" alone, or run ${interp} with the arguments yourself`,
        ),
      );
    }
    if (interp === '/host' || interp.startsWith('/host/')) {
      problems.push(
        problem(
          innerPath,
          'script-interp-hostfs',
          `${E.EACCES}: the interpreter must be in the image`,
          `the interpreter ${interp} is on hostfs; Occlum loads interpreters only from the protected image`,
          `copy the interpreter into the image (e.g. image${interp.replace(/^\/host/, '')}) and use that path`,
        ),
      );
    }
    if (!interp.startsWith('/')) {
      problems.push(
        problem(
          innerPath,
          'script-interp-missing',
          `${E.ENOENT}: cannot find the file`,
          `the interpreter "${interp}" is not an absolute path`,
          'use an absolute interpreter path inside the image',
        ),
      );
    } else if (depth === 0) {
      const sub = preflightFile(imageRoot, interp, depth + 1);
      // The script runs as its interpreter: a glibc interpreter needs Occlum's glibc path set.
      if (sub.libc) res.libc = sub.libc;
      for (const p of sub.problems) {
        if (p.code === 'missing') {
          problems.push(
            problem(
              innerPath,
              'script-interp-missing',
              p.occlum,
              `the script interpreter ${interp} of ${innerPath} is not in the image`,
              `copy ${interp} into image${interp} (with its libraries), then build`,
            ),
          );
        } else if (sub.kind === 'script') {
          problems.push(
            problem(
              innerPath,
              'script-interp-missing',
              `${E.ENOEXEC}: unknown executable file format`,
              `the interpreter ${interp} is itself a script; it must be an ELF program`,
              'point #! at an ELF interpreter',
            ),
          );
          break;
        } else {
          problems.push({ ...p, path: innerPath, explanation: `interpreter ${interp}: ${p.explanation}` });
        }
      }
    }
    return res;
  }
  if (info.kind === 'other' || info.class !== 64) {
    problems.push(
      problem(
        innerPath,
        'not-elf64',
        `${E.ENOEXEC}: unknown executable file format`,
        `${innerPath} is ${info.kind === 'elf' ? 'a 32-bit ELF' : 'neither an ELF program nor a #! script'}`,
        'build it for x86-64 with occlum-gcc (or musl-gcc -fPIE -pie)',
      ),
    );
    return { path: innerPath, kind: 'other', problems };
  }
  const linkage = describeLinkage(info);
  // A Go program without cgo names a loader but never uses a libc: not "a glibc program".
  const libc = info.go && info.needed && !info.needed.some((n) => /^libc\.so/.test(n)) ? 'none' : libcOf(info.interp);
  const res: PreflightResult = { path: innerPath, kind: 'elf', libc, interp: info.interp, linkage, problems };
  if (info.type !== ET_DYN) {
    const how = info.interp
      ? 'dynamically linked but not position-independent'
      : 'statically linked and not position-independent';
    problems.push(
      problem(
        innerPath,
        'not-pie',
        `${E.ENOEXEC}: unknown executable file format`,
        `${innerPath} is ${how} (${linkage}; ELF type ${info.type === 2 ? 'EXEC' : info.type}); Occlum loads only PIE programs (the loader logs "ELF is not position-independent")`,
        info.go
          ? 'rebuild with go build -buildmode=pie (occlum-go does)'
          : PYTHON.test(posix.basename(innerPath))
            ? PYTHON_FIX
            : 'rebuild with occlum-gcc, or add -fPIE -pie',
      ),
    );
    return res;
  }
  if (!info.interp) {
    problems.push(
      problem(
        innerPath,
        'no-interp',
        `${E.EINVAL}: cannot find the interpreter segment`,
        `${innerPath} has no dynamic loader (PT_INTERP): static-pie binaries are rejected by Occlum`,
        'link dynamically against musl: occlum-gcc (or musl-gcc -fPIE -pie without -static / -static-pie)',
      ),
    );
    return res;
  }
  if (!resolveInImage(imageRoot, info.interp)) {
    const glibc = libc === 'glibc';
    problems.push(
      problem(
        innerPath,
        'loader-missing',
        `${E.ENOENT}: cannot load ld.so`,
        `the loader ${info.interp} named by ${innerPath} is not in the image${glibc ? `; ${innerPath} is a glibc program. ${GLIBC_NOTE}` : ''}`,
        glibc
          ? "rebuild with occlum-gcc (musl), or add Occlum's glibc with copy_bom"
          : `copy the loader into image${info.interp} (Occlum's musl: /opt/occlum/toolchains/gcc/x86_64-linux-musl/lib/libc.so), then build`,
      ),
    );
  } else if (libc === 'glibc') {
    problems.push(
      problem(
        innerPath,
        'host-glibc',
        'glibc program',
        `runs here with the glibc in the image; in Occlum it runs with Occlum's glibc (2.31 or older, /opt/occlum/glibc/lib), so a program built against a newer glibc may not start there`,
        "build it against Occlum's glibc (Occlum's toolchain image) or with occlum-gcc (musl)",
        'note',
      ),
    );
  }
  return res;
}

/** CPython's interpreter (Debian's python3.11 is built without PIE). */
const PYTHON = /^python\d(\.\d+)?$/;
const PYTHON_FIX =
  "use a PIE build of Python (Occlum's demo: conda's), or the same interpreter as a PIE program: " +
  '`int main(int c, char **v) { return Py_BytesMain(c, v); }` built with ' +
  '`gcc -fPIE -pie -I/usr/include/python3.11 -o python3 main.c -lpython3.11` (Debian: libpython3.11-dev)';

/** Regular files and symlinks below one directory of the image, as inner paths. */
function listPrograms(imageRoot: string, innerDir: string, out: string[], limit: number): void {
  const host = resolveInImage(imageRoot, innerDir);
  if (!host) return;
  let entries;
  try {
    entries = readdirSync(host, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (out.length >= limit) return;
    const inner = posix.join(innerDir, e.name);
    if (e.isDirectory()) listPrograms(imageRoot, inner, out, limit);
    else if (e.isFile() || e.isSymbolicLink()) out.push(inner);
  }
}

/**
 * Every program under the entry points (a prefix may also name one file). Occlum itself checks
 * only the program being run, and entry-point directories often hold data too (e.g. a .wasm next
 * to its runtime), so a file that is neither ELF nor script is skipped when it has no exec bit
 * (data) and only warned about when it has one.
 */
export function preflightImage(imageRoot: string, entryPoints: string[], limit = 5000): PreflightResult[] {
  const paths: string[] = [];
  for (const ep of entryPoints) {
    const host = resolveInImage(imageRoot, ep);
    if (!host) continue;
    if (statSync(host).isDirectory()) listPrograms(imageRoot, ep, paths, limit);
    else paths.push(ep);
  }
  const out: PreflightResult[] = [];
  for (const p of new Set(paths)) {
    const r = preflightFile(imageRoot, p);
    if (r.kind === 'other' && r.problems.some((x) => x.code === 'not-elf64')) {
      if (r.problems.some((x) => x.code === 'not-executable')) continue; // a data file
      r.problems = r.problems.map((x) => ({
        ...x,
        severity: 'warning' as const,
        explanation: `${x.explanation}; it cannot be run as a program`,
      }));
    }
    out.push(r);
  }
  return out;
}

export function preflightErrors(results: PreflightResult[]): PreflightProblem[] {
  return results.flatMap((r) => r.problems.filter((p) => p.severity === 'error'));
}
