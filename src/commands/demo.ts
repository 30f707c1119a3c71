// `occlum-studio demo [dir]`: a ready-to-run instance in one command. Creates an instance, puts
// the demo's source in <dir>/src/hello.c and the dev-loop settings in .occlum-studio.json (a
// prebuild compiling it with musl-gcc as occlum-gcc would, -fPIE -pie, and the watch list), so
// saving the source recompiles, rebuilds and reruns it; builds with the host backend and opens
// the studio with the Run pane focused and /bin/hello in the picker. Run again on the same
// directory, it keeps the user's source and settings, rebuilds and reopens.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, UsageError, UserError, printJson, type Command, say } from './command.ts';
import { INSTANCE_OPTION, instanceDir as instanceArg, parseCommandArgs } from './args.ts';
import { InstanceError, findHostMusl, newInstance } from '../core/instance/init.ts';
import { isInstanceDir } from '../core/instance/discover.ts';
import { writeFileAtomic } from '../core/instance/atomic.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { BackendError } from '../core/backend/types.ts';
import { instancePaths } from '../core/instance/layout.ts';

export const DEMO_ENTRY = '/bin/hello';
const DEFAULT_DIR = 'occlum-demo';

const OPTIONS = {
  ...INSTANCE_OPTION,
  'no-open': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

/** fixtures/demo/hello.c of this package, from src/commands (tsx) or dist/ (the bundle). */
function demoSource(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, 'fixtures', 'demo', 'hello.c');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new InputError('fixtures/demo/hello.c is missing from this occlum-studio installation; reinstall it');
}

function hasMuslGcc(): boolean {
  return spawnSync('musl-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Fails early, before anything is created, when the host cannot build a musl program. */
function requireMusl(): void {
  if (!hasMuslGcc()) {
    throw new InputError(
      'musl-gcc not found: the demo program is compiled against musl like occlum-gcc does.\n' +
        '  Debian/Ubuntu: sudo apt-get install musl-tools\n' +
        '  Fedora: sudo dnf install musl-gcc · Alpine: apk add musl-dev gcc\n' +
        'then run `occlum-studio demo` again.',
    );
  }
  if (!findHostMusl()) {
    throw new InputError(
      'no musl libc found on this host, so the image would have no /lib/ld-musl-x86_64.so.1 for the demo program.\n' +
        '  Debian/Ubuntu: sudo apt-get install musl-tools (or musl), then run `occlum-studio demo` again.',
    );
  }
}

const DEMO_SOURCE = 'src/hello.c';
const DEMO_COMPILE = ['musl-gcc', '-O2', '-fPIE', '-pie', '-o', 'image/bin/hello', DEMO_SOURCE];
const DEMO_SETTINGS = `{
  // The demo's dev loop: save ${DEMO_SOURCE} and the studio compiles it (prebuild), rebuilds
  // the image and reruns ${DEMO_ENTRY} in the Run pane. See docs/dev-loop.md.
  "prebuild": "${DEMO_COMPILE.join(' ')}",
  "watch": ["src/**/*.c", "src/**/*.h"]
}
`;

/** The demo's source and dev-loop settings, unless the user already has their own. */
function writeDemoProject(instanceDir: string): void {
  const src = join(instanceDir, DEMO_SOURCE);
  if (!existsSync(src)) {
    mkdirSync(dirname(src), { recursive: true });
    copyFileSync(demoSource(), src);
  }
  const settings = join(instanceDir, '.occlum-studio.json');
  if (!existsSync(settings)) writeFileAtomic(settings, DEMO_SETTINGS);
}

/** Compiles the demo program into <instance>/image/bin/hello, as its prebuild does. */
function compileDemo(instanceDir: string): string {
  const out = join(instancePaths(instanceDir).image, 'bin', 'hello');
  mkdirSync(dirname(out), { recursive: true });
  const [cc, ...args] = DEMO_COMPILE;
  const r = spawnSync(cc!, args, { cwd: instanceDir, encoding: 'utf8' });
  if (r.status !== 0)
    throw new UserError(`musl-gcc failed to compile the demo program:\n${(r.stderr || r.stdout || '').trim()}`);
  chmodSync(out, 0o755);
  return out;
}

function isEmptyDir(dir: string): boolean {
  return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
}

export const command: Command = {
  name: 'demo',
  summary: `Create an instance with a musl hello-world (${DEMO_ENTRY}), build it with the host backend and open the studio on it.`,
  usage: `occlum-studio demo [DIR | -C DIR] [--no-open] [--json]     (DIR default: ./${DEFAULT_DIR})`,
  options: OPTIONS,
  instance: 'option-or-positional',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length > 1) throw new UsageError(`demo takes at most one directory, got ${positionals.length}`);
    const dir = instanceArg(
      values.instance,
      positionals[0] ?? (values.instance === undefined ? DEFAULT_DIR : undefined),
      false,
    );
    const note = values.json ? () => {} : (line: string) => say(line);
    requireMusl();

    let created = false;
    if (existsSync(dir) && isInstanceDir(dir)) {
      note(`Reusing the instance in ${dir}`);
    } else {
      if (existsSync(dir) && !isEmptyDir(dir)) {
        throw new InputError(
          `${dir} exists and is not an Occlum instance; give a new or empty directory (e.g. occlum-studio demo ./my-demo)`,
        );
      }
      try {
        // newInstance wants a path that does not exist yet; an empty directory is fine to replace.
        if (existsSync(dir)) rmdirSync(dir);
        newInstance(dir);
        created = true;
        note(`Created an Occlum instance in ${dir}`);
      } catch (err) {
        if (err instanceof InstanceError) throw new InputError(err.message);
        throw err;
      }
    }
    writeDemoProject(dir);
    compileDemo(dir);
    note(`Compiled ${DEMO_SOURCE} into ${DEMO_ENTRY} with musl-gcc -fPIE -pie`);

    const backend = new HostBackend(dir);
    let build;
    try {
      build = await backend.build();
    } catch (err) {
      if (err instanceof BackendError) throw new UserError(`building the demo failed: ${err.message}`);
      throw err;
    }
    if (!build.ok) {
      const lines = [...build.errors, ...build.problems.map((p) => `${p.path}: ${p.occlum} (fix: ${p.fix})`)];
      throw new UserError(`building the demo failed:\n  ${lines.join('\n  ')}`);
    }
    note(`Built the image with the host backend (no enclave) in ${build.ms.toFixed(0)} ms`);

    const interactive = process.stdout.isTTY && process.stdin.isTTY && !values['no-open'] && !values.json;
    if (values.json)
      printJson({ ok: true, dir, created, entry: DEMO_ENTRY, build: { ms: build.ms, rootMac: build.rootMac } });
    if (!interactive) {
      note(`Run it:  occlum-studio run -C ${dir} ${DEMO_ENTRY}`);
      note(`Or open the studio on it:  occlum-studio ${dir}`);
      note(`Then edit ${join(dir, DEMO_SOURCE)}: each save recompiles, rebuilds and reruns it.`);
      return 0;
    }
    const { openStudio } = await import('../../views/launch.tsx');
    return openStudio({
      dir,
      backend: 'host',
      prepare: (store) => {
        // compileDemo ran the demo's prebuild: a saved source rebuilds at once (docs/dev-loop.md).
        store.getState().buildConfirm(resolve(dir), { prebuild: DEMO_COMPILE.join(' '), bom: [], bomIncludeDirs: [] });
        store.getState().setPane('run');
        store.getState().runOpenPicker('run', DEMO_ENTRY);
      },
    });
  },
};
