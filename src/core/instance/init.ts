// `occlum init` / `occlum new` without Occlum: the 0.31 instance layout (spec 1.4), built in a
// temp directory next to the target and renamed into place, so a failure never leaves a
// half-initialised instance (Occlum itself writes the status file first; we write it last).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { IMAGE_DIRS, INITFS_DIRS, instancePaths, STATUS_FILE } from './layout.ts';
import { occlumJsonTemplateText } from './template.ts';

export class InstanceError extends Error {
  constructor(
    message: string,
    /** Occlum's own wording of the same failure, for fidelity (printed on stdout by occlum). */
    readonly occlumMessage?: string,
  ) {
    super(message);
  }
}

/** Where the host keeps a musl loader; the first hit is copied into image/lib (Occlum copies its own musl). */
export const MUSL_LIBC_CANDIDATES = [
  '/usr/lib/musl/lib/libc.so',
  '/lib/x86_64-linux-musl/libc.so',
  '/usr/lib/x86_64-linux-musl/libc.so',
  '/usr/local/musl/lib/libc.so',
];

export function findHostMusl(): string | null {
  for (const p of MUSL_LIBC_CANDIDATES) if (existsSync(p)) return p;
  return null;
}

export interface InitResult {
  dir: string;
  created: string[];
  /** The musl libc copied into image/lib, or null when the host has none. */
  musl: string | null;
  localtime: boolean;
}

/** Fills `root` (an empty directory) with Occlum.json, image/ and initfs/. */
function populate(root: string, opts: { musl: string | null }): { localtime: boolean } {
  const config = instancePaths(root).config;
  writeFileSync(config, occlumJsonTemplateText(), { mode: 0o644 });
  chmodSync(config, 0o644);
  const localtime = existsSync('/etc/localtime');
  for (const [top, dirs] of [
    ['image', IMAGE_DIRS],
    ['initfs', INITFS_DIRS],
  ] as const) {
    for (const d of dirs) mkdirSync(join(root, top, d), { recursive: true });
    writeFileSync(join(root, top, 'etc', 'hosts'), '127.0.0.1   localhost\n');
    if (localtime) copyFileSync('/etc/localtime', join(root, top, 'etc', 'localtime'));
    if (opts.musl) {
      // One file under both names, as Occlum's musl ships it (libc.so is its own loader).
      copyFileSync(opts.musl, join(root, top, 'lib', 'libc.so'));
      copyFileSync(opts.musl, join(root, top, 'lib', 'ld-musl-x86_64.so.1'));
      chmodSync(join(root, top, 'lib', 'libc.so'), 0o755);
      chmodSync(join(root, top, 'lib', 'ld-musl-x86_64.so.1'), 0o755);
    }
  }
  return { localtime };
}

function tempSibling(target: string, tag: string): string {
  mkdirSync(dirname(target), { recursive: true });
  return mkdtempSync(join(dirname(target), `.${basename(target)}.${tag}-`));
}

/**
 * `occlum init` in `dir` (which may hold other files). Refuses an initialised directory with
 * Occlum's message. image/ and initfs/ that already exist are completed, not replaced.
 */
export function initInstance(dirArg: string, opts: { musl?: string | null } = {}): InitResult {
  const dir = resolve(dirArg);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new InstanceError(`"${dir}" is not a directory`);
  }
  if (existsSync(join(dir, STATUS_FILE))) {
    throw new InstanceError(
      `"${dir}" has been initialized as an Occlum instance (${STATUS_FILE} exists); use it as is, or remove the directory and init again`,
      'Error: the current working directory has been initialized as an Occlum instance',
    );
  }
  mkdirSync(dir, { recursive: true });
  const musl = opts.musl === undefined ? findHostMusl() : opts.musl;
  const tmp = mkdtempSync(join(dir, '.occlum-init-'));
  const created: string[] = [];
  try {
    const { localtime } = populate(tmp, { musl });
    for (const name of ['image', 'initfs']) {
      const dest = join(dir, name);
      if (!existsSync(dest)) {
        renameSync(join(tmp, name), dest);
        created.push(name);
      } else {
        mergeMissing(join(tmp, name), dest);
      }
    }
    renameSync(instancePaths(tmp).config, instancePaths(dir).config);
    created.push('Occlum.json');
    writeFileSync(join(tmp, STATUS_FILE), 'initialized\n');
    renameSync(join(tmp, STATUS_FILE), join(dir, STATUS_FILE));
    created.push(STATUS_FILE);
    return { dir, created, musl, localtime };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Moves entries of `src` that `dest` lacks (recursively), never overwriting the user's files. */
function mergeMissing(src: string, dest: string): void {
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dest, name);
    if (!existsSync(d)) renameSync(s, d);
    else if (statSync(s).isDirectory() && statSync(d).isDirectory()) mergeMissing(s, d);
  }
}

/** `occlum new <path>`: a fresh instance directory; the path must not exist. */
export function newInstance(pathArg: string | undefined, opts: { musl?: string | null } = {}): InitResult {
  if (!pathArg) {
    throw new InstanceError(
      'target directory is not set: give the path of the new instance, e.g. `new my_instance`',
      'Error: target directory is not set',
    );
  }
  const target = resolve(pathArg);
  if (existsSync(target)) {
    throw new InstanceError(
      `destination "${pathArg}" already exists; choose a new path, or run \`init\` inside it`,
      `Error: destination "${pathArg}" already exists`,
    );
  }
  const musl = opts.musl === undefined ? findHostMusl() : opts.musl;
  const tmp = tempSibling(target, 'occlum-new');
  try {
    const { localtime } = populate(tmp, { musl });
    writeFileSync(join(tmp, STATUS_FILE), 'initialized\n');
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
    return { dir: target, created: ['Occlum.json', 'image', 'initfs', STATUS_FILE], musl, localtime };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
