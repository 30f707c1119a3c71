// Occlum's own demos (../shared/reference/occlum-0.31.0/demos) end to end on the host backend, as
// their scripts run them: build the program with what this machine has (musl-gcc, Debian's
// packages), `occlum init && rm -rf image`, the script's jq edit of Occlum.json, `bom copy -f
// ../X.yaml --root image` (the demo's own bom, unchanged; the studio's template dir standing in for
// /opt/occlum/etc/template), build, run with the script's command line, expected output.
// Where a bom names a path of an Occlum install (/opt/occlum/toolchains/…, /usr/local/redis/bin),
// Debian's program is bound there by bubblewrap for the `bom copy` alone. docs/bom.md lists every
// demo and how far it gets. A demo whose tool is missing skips with the Debian package to install;
// under CI=true that is a failure (scripts/install-system-deps.sh installs them all).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { CLI, needsCorpus, SHARED } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const execFileP = promisify(execFile);

const DEMOS = join(SHARED, 'reference', 'occlum-0.31.0', 'demos');
const GLIBC_LIB = '/opt/occlum/glibc/lib';
const GLIBC_LOADER = '/lib64/ld-linux-x86-64.so.2';
const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Every file and link under root (dirs only when empty), as inner paths. */
function files(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, inner: string) => {
    const names = readdirSync(dir).sort();
    if (names.length === 0) out.push(`${inner}/`);
    for (const n of names) {
      const st = lstatSync(join(dir, n));
      if (st.isDirectory() && !st.isSymbolicLink()) walk(join(dir, n), `${inner}/${n}`);
      else out.push(`${inner}/${n}`);
    }
  };
  walk(root, '');
  return out;
}

/** base.yaml's mkdirs: each stays an empty dir unless something lands in it. */
const BASE = ['bin', 'dev', 'etc', 'ext2', 'host', 'lib', 'lib64', 'opt', 'proc', 'root', 'sbin', 'sys', 'tmp'];

/** The whole tree: `placed` plus base.yaml's dirs that nothing fills. */
function withBase(placed: string[]): string[] {
  const empty = BASE.filter((d) => !placed.some((p) => p.startsWith(`/${d}/`))).map((d) => `/${d}/`);
  return [...placed, ...empty].sort();
}

/**
 * copy_bom's autodep for a glibc program, found independently of the studio by the host's `ldd`:
 * the loader at the path the program names, every library in Occlum's glibc dir (the host's glibc
 * standing in for Occlum's, as `bom copy` places it without an Occlum install).
 */
function glibcDeps(image: string, programs: string[]): string[] {
  const out = new Set<string>();
  for (const p of programs) {
    const r = spawnSync('ldd', [join(image, p)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ldd ${p}: ${r.stderr}`);
    for (const line of r.stdout.split('\n')) {
      const lib = line.match(/=> (\/\S+)/)?.[1];
      if (lib) out.add(`${GLIBC_LIB}/${basename(lib)}`);
      else if (line.trim().startsWith(GLIBC_LOADER)) out.add(GLIBC_LOADER);
    }
  }
  return [...out];
}

const sh = (ws: string, cmd: string[], env?: Record<string, string>, input?: string) => {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ws, encoding: 'utf8', env: { ...process.env, ...env }, input });
  assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
};

/**
 * `bom copy` in a bubblewrap mount namespace where each host path stands at the Occlum-install path
 * a bom names. A mount point is made in a tmpfs over the nearest existing parent (holding links to
 * that parent's own entries), so nothing is created on the host.
 */
function bomCopyArgs(binds: [string, string][]): string[] | null {
  if (binds.length === 0) return null;
  const args = ['bwrap', '--dev-bind', '/', '/'];
  const covered = new Set<string>();
  for (const [, dest] of binds) {
    let parent = dirname(dest);
    while (!existsSync(parent)) parent = dirname(parent);
    if (covered.has(parent)) continue;
    covered.add(parent);
    args.push('--tmpfs', parent);
    for (const n of readdirSync(parent)) {
      const p = join(parent, n);
      if (lstatSync(p).isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
      else args.push('--dev-bind', p, p);
    }
  }
  for (const [src, dest] of binds) args.push('--ro-bind', src, dest);
  return [...args, process.execPath, CLI];
}

function bomCopy(
  inst: string,
  bom: string,
  env: Record<string, string> | undefined,
  binds: [string, string][],
  extra: string[],
) {
  const args = ['bom', 'copy', '-f', `../${bom}`, '--root', 'image', ...extra];
  const wrap = bomCopyArgs(binds);
  if (!wrap) return runCli(args, { cwd: inst, env });
  ensureBuilt();
  const r = spawnSync(wrap[0]!, [...wrap.slice(1), ...args], {
    cwd: inst,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * `occlum-studio run` of a server in the background (the demos' `occlum run … &`): resolves with
 * its output so far once `ready` shows, and a stop that sends SIGTERM and waits for the exit.
 */
async function startServer(inst: string, argv: string[], ready: RegExp) {
  const child = spawn(process.execPath, [CLI, 'run', ...argv], {
    cwd: inst,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  let exited: number | null | undefined;
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const done = new Promise<void>((r) => child.on('exit', (code) => ((exited = code), r())));
  const stop = async () => {
    if (exited === undefined) child.kill('SIGTERM');
    await done;
  };
  try {
    await waitFor(() => ready.test(out) || exited !== undefined, `${argv[0]} ready`, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  assert.equal(exited, undefined, `${argv[0]} exited early (${exited}):\n${out}`);
  return { output: () => out, stop };
}

/** One request on a fresh TCP connection; resolves with what the server sent once `until` shows. */
async function ask(port: number, request: string, until: RegExp): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  let got = '';
  sock.on('data', (c) => (got += c));
  sock.on('error', () => {});
  sock.write(request);
  try {
    await waitFor(() => until.test(got), `reply matching ${until} on port ${port} (got ${JSON.stringify(got)})`);
  } finally {
    sock.destroy();
  }
  return got;
}

interface Demo {
  name: string;
  dir: string;
  bom: string;
  /** The folder the demo's script makes the instance in. */
  instance?: string;
  /** An environment variable that must be 1 for this demo to run (a costly toolchain). */
  optIn?: string;
  /** [command or absolute path, Debian package] this demo needs. */
  needs: [string, string][];
  /** Builds the demo's inputs in its copy `ws`. */
  build(ws: string): void;
  /** [host path, path the bom names] for paths of an Occlum install. */
  binds?: (ws: string) => [string, string][];
  /** The demo script's jq edit of Occlum.json. */
  jq?: string;
  env?: Record<string, string>;
  /** What the bom's own entries place (files, links); the loader and libraries come from `libc`. */
  placed: string[];
  /** musl: the musl loader only (the programs need nothing else); glibc: `ldd` of `programs`. */
  libc: 'musl' | 'glibc';
  /** Programs whose libraries autodep copies (glibc demos). */
  programs?: string[];
  links?: Record<string, string>;
  /** Runs as the demo's script does and checks the expected output. */
  run(inst: string): Promise<void> | void;
}

function runOk(inst: string, argv: string[], extra: string[] = []) {
  const r = runCli(['run', ...extra, ...argv], { cwd: inst });
  assert.equal(r.status, 0, `run ${argv.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

const SQL_STMT =
  'CREATE TABLE COMPANY (     ID INT PRIMARY KEY NOT NULL,     NAME TEXT NOT NULL,     AGE INT NOT NULL, ' +
  "    ADDRESS CHAR(50),     SALARY REAL );     INSERT INTO COMPANY VALUES ( 1, 'Kris', 27, 'California', 16000.00 );" +
  '     SELECT * FROM COMPANY;';
const KRIS = 'ID = 1\nNAME = Kris\nAGE = 27\nADDRESS = California\nSALARY = 16000.0\n\n';

const demos: Demo[] = [
  {
    name: "hello_c (musl-gcc, the demo's own toolchain choice)",
    dir: 'hello_c',
    bom: 'hello.yaml',
    needs: [['musl-gcc', 'musl-tools']],
    build: (ws) => sh(ws, ['musl-gcc', '-fPIE', '-pie', 'hello_world.c', '-o', 'hello_world']),
    placed: ['/bin/hello_world'],
    libc: 'musl',
    run: (inst) => assert.match(runOk(inst, ['/bin/hello_world']).stdout, /^Hello World\n$/),
  },
  {
    name: "hello_cc (g++ with the host glibc standing in for Occlum's)",
    dir: 'hello_cc',
    bom: 'hello.yaml',
    needs: [['g++', 'g++']],
    build: (ws) => sh(ws, ['g++', '-std=c++11', '-fPIE', '-pie', 'hello_world.cc', '-o', 'hello_world']),
    placed: ['/bin/hello_world'],
    libc: 'glibc',
    programs: ['/bin/hello_world'],
    run: (inst) => assert.match(runOk(inst, ['/bin/hello_world']).stdout, /^Hello World\n$/),
  },
  {
    // occlum-cargo builds for x86_64-unknown-linux-musl; no musl Rust std is installable here, so
    // the gnu build is put at the path the bom names. Crates: Debian's librust-*-dev.
    name: 'rust (cargo with Debian crates, gnu target at the musl path the bom names)',
    dir: 'rust',
    bom: 'rust-demo.yaml',
    needs: [
      ['cargo', 'cargo'],
      ['g++', 'g++'],
      ['/usr/share/cargo/registry/libc-0.2.139', 'librust-libc-dev'],
      ['/usr/share/cargo/registry/memmap-0.7.0', 'librust-memmap-dev'],
      ['/usr/share/cargo/registry/cc-1.0.73', 'librust-cc-dev'],
    ],
    build: (ws) => {
      const app = join(ws, 'rust_app');
      mkdirSync(join(app, '.cargo'));
      writeFileSync(
        join(app, '.cargo', 'config.toml'),
        '[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "/usr/share/cargo/registry"\n',
      );
      sh(app, ['cargo', 'build', '--offline', '--quiet']);
      mkdirSync(join(app, 'target/x86_64-unknown-linux-musl/debug'), { recursive: true });
      cpSync(join(app, 'target/debug/rust_app'), join(app, 'target/x86_64-unknown-linux-musl/debug/rust_app'));
    },
    placed: ['/bin/rust_app'],
    libc: 'glibc',
    programs: ['/bin/rust_app'],
    run: (inst) =>
      assert.equal(runOk(inst, ['/bin/rust_app']).stdout, 'Cpp FFI test passed!\nMultithreading mmap test passed!\n'),
  },
  {
    // The sqlite3 amalgamation and speedtest1.c come from sqlite.org: Debian's libsqlite3 stands in
    // for the first; speedtest1 has no source here, so a stand-in program fills its bom entry.
    name: "sqlite (sqlite_demo.c with Debian's libsqlite3; speedtest1 a stand-in)",
    dir: 'sqlite',
    bom: 'sqlite.yaml',
    needs: [
      ['gcc', 'gcc'],
      ['/usr/include/sqlite3.h', 'libsqlite3-dev'],
    ],
    build: (ws) => {
      sh(ws, ['gcc', '-O2', '-DSQLITE_MMAP_READWRITE', 'sqlite_demo.c', '-lsqlite3', '-lpthread', '-o', 'sqlite_demo']);
      sh(ws, ['gcc', '-o', 'speedtest1', '-x', 'c', '-'], undefined, 'int main(void){return 0;}\n');
    },
    env: { DEMO: 'sqlite_demo', SPEEDTEST: 'speedtest1' },
    placed: ['/bin/speedtest1', '/bin/sqlite_demo'],
    libc: 'glibc',
    programs: ['/bin/sqlite_demo', '/bin/speedtest1'],
    run: (inst) => {
      const r = runOk(inst, ['/bin/sqlite_demo', '/root/company.db', SQL_STMT]);
      assert.equal(r.stdout, `${KRIS}Execute sql-statement: "${SQL_STMT}"\non database: /root/company.db OK\n`);
      // the database lives in run/ and outlives the run, as in Occlum
      const again = runOk(inst, ['/bin/sqlite_demo', '/root/company.db', 'SELECT * FROM COMPANY;']);
      assert.ok(again.stdout.startsWith(KRIS), again.stdout);
    },
  },
  {
    // Occlum's bash is patched to spawn instead of fork; Debian's forks, so it fails here as it
    // would in Occlum, and the demo's script passes with the host backend's fork switch.
    name: "bash (bash.yaml: Debian's bash and busybox at Occlum's glibc toolchain paths)",
    dir: 'bash',
    bom: 'bash.yaml',
    needs: [
      ['bash', 'bash'],
      ['busybox', 'busybox'],
    ],
    build: (ws) => chmodSync(join(ws, 'occlum_bash_test.sh'), 0o755),
    binds: () => [
      ['/usr/bin/bash', '/opt/occlum/toolchains/bash/glibc/bash'],
      ['/usr/bin/busybox', '/opt/occlum/toolchains/busybox/glibc/busybox'],
    ],
    jq:
      '.resource_limits.user_space_size = "1MB" | .resource_limits.user_space_max_size = "600MB" | ' +
      '.resource_limits.kernel_space_stack_size ="2MB"',
    placed: ['/bin/bash', '/bin/busybox', '/bin/occlum_bash_test.sh'],
    libc: 'glibc',
    programs: ['/bin/bash', '/bin/busybox'],
    run: (inst) => {
      const forks = runCli(['run', '/bin/occlum_bash_test.sh'], { cwd: inst });
      assert.notEqual(forks.status, 0);
      assert.match(forks.stderr, /fork: Function not implemented/);
      const r = runOk(inst, ['/bin/occlum_bash_test.sh'], ['--allow-fork']);
      assert.match(r.stdout, /^Hello world from bash\n test\n/);
      assert.match(r.stdout, /^in subshell:\nthis is script env\nsubshell\n/m);
      assert.match(r.stdout, /^\/host\n/m);
      assert.match(r.stdout, /^virtual memory +\(kbytes, -v\) 122880$/m);
      assert.match(r.stdout, /Test is done\n$/);
    },
  },
  {
    // fish from the demo's source build is replaced by Debian's fish at ../fish-shell/build/fish;
    // Debian's busybox (glibc) stands at the musl busybox path. fish spawns: no fork switch needed.
    name: "fish (Debian's fish and busybox; runs fish_script.sh without fork)",
    dir: 'fish',
    bom: 'fish.yaml',
    instance: 'occlum-instance',
    needs: [
      ['fish', 'fish'],
      ['busybox', 'busybox'],
    ],
    build: (ws) => {
      for (const s of ['fish_script.sh', 'test_per_process_config.sh']) chmodSync(join(ws, s), 0o755);
      mkdirSync(join(ws, 'fish-shell', 'build'), { recursive: true });
      cpSync('/usr/bin/fish', join(ws, 'fish-shell', 'build', 'fish'));
    },
    binds: () => [['/usr/bin/busybox', '/opt/occlum/toolchains/busybox/musl/busybox']],
    jq:
      '.resource_limits.user_space_size = "1MB" | .resource_limits.user_space_max_size = "512MB" | ' +
      '.resource_limits.kernel_space_heap_size = "1MB" | .resource_limits.kernel_space_heap_max_size = "64MB" | ' +
      '.env.default = [ "OCCLUM=yes", "HOME=/root" ]',
    placed: [
      '/bin/awk',
      '/bin/cat',
      '/bin/echo',
      '/bin/fish_script.sh',
      '/bin/test_per_process_config.sh',
      '/usr/bin/busybox',
      '/usr/bin/fish',
    ],
    links: { '/bin/awk': '/usr/bin/busybox', '/bin/cat': '/usr/bin/busybox', '/bin/echo': '/usr/bin/busybox' },
    libc: 'glibc',
    programs: ['/usr/bin/fish', '/usr/bin/busybox'],
    run: (inst) => {
      const r = runOk(inst, ['/bin/fish_script.sh']);
      assert.match(r.stdout, /^Hello world from fish\n/);
      assert.match(r.stdout, / libc\.so\.6\n/, 'busybox ls -al of /opt/occlum/glibc/lib');
      assert.match(r.stdout, /\n\/opt\/occlum\/glibc\/lib\n$/);
      assert.equal(r.stderr, '', 'HOME from env.default: fish finds its config dir');
    },
  },
  {
    // download_and_build_redis_glibc.sh builds redis 6.0.16 into /usr/local/redis; Debian's
    // redis-server (7.0) stands in, its files laid out as `make install` does.
    name: "redis (redis_glibc.yaml: Debian's redis at /usr/local/redis/bin; PING over TCP)",
    dir: 'redis',
    bom: 'redis_glibc.yaml',
    needs: [
      ['redis-server', 'redis-server'],
      ['redis-benchmark', 'redis-tools'],
    ],
    build: (ws) => {
      const bin = join(ws, 'usr-local-redis', 'bin');
      mkdirSync(bin, { recursive: true });
      for (const n of ['redis-server', 'redis-benchmark', 'redis-cli', 'redis-check-aof', 'redis-check-rdb']) {
        cpSync(`/usr/bin/${n}`, join(bin, n), { verbatimSymlinks: true });
      }
    },
    binds: (ws) => [[join(ws, 'usr-local-redis', 'bin'), '/usr/local/redis/bin']],
    jq: '.resource_limits.user_space_size = "1MB" | .resource_limits.user_space_max_size = "320MB"',
    placed: [
      '/bin/redis-benchmark',
      '/bin/redis-check-aof',
      '/bin/redis-check-rdb',
      '/bin/redis-cli',
      '/bin/redis-server',
    ],
    links: { '/bin/redis-server': 'redis-check-rdb' },
    libc: 'glibc',
    programs: ['/bin/redis-benchmark', '/bin/redis-check-aof', '/bin/redis-cli'],
    run: async (inst) => {
      // the script's command line, with a free port instead of 6379 (tests run in parallel)
      const port = await freePort();
      const argv = ['/bin/redis-server', '--save', '', '--appendonly', 'no', '--port', String(port)];
      const server = await startServer(inst, argv, /Ready to accept connections/);
      try {
        assert.equal(await ask(port, 'PING\r\n', /\r\n/), '+PONG\r\n');
        assert.equal(await ask(port, 'SET demo occlum\r\nGET demo\r\n', /occlum\r\n/), '+OK\r\n$6\r\nocclum\r\n');
        // benchmark.sh: the host's redis-benchmark against the server
        const bench = await execFileP('redis-benchmark', ['-p', String(port), '-n', '1000', '-q'], {
          encoding: 'utf8',
        });
        assert.match(bench.stdout, /^ *MSET \(10 keys\): [\d.]+ requests per second/m);
      } finally {
        await server.stop();
      }
    },
  },
  {
    // occlum-go is Go with cgo through occlum-gcc (musl); here Debian's Go with musl-gcc, gin from
    // Debian's golang-github-gin-gonic-gin-dev in GOPATH mode (no module download).
    name: "golang/web_server (Debian's Go and gin, CC=musl-gcc, PIE; GET /ping)",
    dir: 'golang/web_server',
    bom: 'web_server.yaml',
    optIn: 'OCCLUM_STUDIO_DEMOS_GO',
    needs: [
      ['go', 'golang-go'],
      ['musl-gcc', 'musl-tools'],
      ['/usr/share/gocode/src/github.com/gin-gonic/gin', 'golang-github-gin-gonic-gin-dev'],
    ],
    build: (ws) =>
      sh(ws, ['go', 'build', '-buildmode=pie', '-o', 'web_server', './web_server.go'], {
        GO111MODULE: 'off',
        GOPATH: '/usr/share/gocode',
        CC: 'musl-gcc',
        CGO_ENABLED: '1',
      }),
    jq: '.resource_limits.user_space_size = "1MB" | .resource_limits.user_space_max_size = "1000MB"',
    placed: ['/bin/web_server'],
    libc: 'musl',
    run: async (inst) => {
      // the demo's port is fixed in its source
      const server = await startServer(inst, ['/bin/web_server'], /Listening and serving HTTP on :8090/);
      try {
        const res = await fetch('http://127.0.0.1:8090/ping');
        assert.deepEqual([res.status, await res.json()], [200, { message: 'pong' }]);
        await waitFor(() => /\| 200 \|.*GET +"\/ping"/.test(server.output()), "the request in gin's log");
      } finally {
        await server.stop();
      }
    },
  },
];

/** Why a demo cannot run here, or null. */
function missing(d: Demo): string | null {
  const lacking = d.needs.filter(([what]) => (what.startsWith('/') ? !existsSync(what) : !has(what)));
  if (lacking.length === 0) return null;
  const pkgs = [...new Set(lacking.map(([, pkg]) => pkg))].join(' ');
  return `needs ${lacking.map(([w]) => w).join(', ')} (Debian: ${pkgs}; scripts/install-system-deps.sh installs them)`;
}

describe('Occlum demos through bom copy, build and run', { skip: needsCorpus(DEMOS) }, () => {
  for (const d of demos) {
    test(d.name, async (t) => {
      if (d.optIn && process.env[d.optIn] !== '1') {
        t.skip(`opt-in: ${d.optIn}=1 runs it (scripts/install-system-deps.sh installs its packages with it set)`);
        return;
      }
      const why = missing(d);
      if (why) {
        assert.notEqual(process.env.CI, 'true', `CI=true: a demo must not skip; it ${why}`);
        t.skip(why);
        return;
      }
      const ws = join(mkdtempSync(join(tmpdir(), 'bom-demo-')), d.dir.replace('/', '_'));
      cpSync(join(DEMOS, d.dir), ws, { recursive: true });
      // ../shared is laid read-only; the demo's scripts write next to their sources
      sh(ws, ['chmod', '-R', 'u+w', '.']);
      d.build(ws);
      const name = d.instance ?? 'occlum_instance';
      assert.equal(runCli(['init', name], { cwd: ws }).status, 0);
      const inst = join(ws, name);
      if (d.jq) {
        const r = spawnSync('jq', [d.jq, 'Occlum.json'], { cwd: inst, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        writeFileSync(join(inst, 'Occlum.json'), r.stdout);
      }
      rmSync(join(inst, 'image'), { recursive: true });
      const binds = d.binds?.(ws) ?? [];
      const dry = bomCopy(inst, d.bom, d.env, binds, ['--dry-run']);
      assert.equal(dry.status, 0, dry.stderr + dry.stdout);
      assert.equal(existsSync(join(inst, 'image')), false, '--dry-run writes nothing');
      const copy = bomCopy(inst, d.bom, d.env, binds, ['--json']);
      assert.equal(copy.status, 0, copy.stderr + copy.stdout);
      assert.deepEqual(JSON.parse(copy.stdout).issues, []);
      const image = join(inst, 'image');
      const deps = d.libc === 'musl' ? [MUSL_LOADER] : glibcDeps(image, d.programs ?? []);
      assert.deepEqual(files(image), withBase([...d.placed, ...deps]));
      for (const [link, target] of Object.entries(d.links ?? {})) assert.equal(readlinkSync(join(image, link)), target);
      const again = JSON.parse(bomCopy(inst, d.bom, d.env, binds, ['--json']).stdout);
      assert.deepEqual([again.counts.create, again.counts.update], [0, 0], 'a second copy changes nothing');
      const b = runCli(['build'], { cwd: inst });
      assert.equal(b.status, 0, b.stderr);
      assert.doesNotMatch(b.stderr, /kernel too old/);
      await d.run(inst);
    });
  }
});

/**
 * The demo boms whose inputs this machine cannot build (mongoose from GitHub; Occlum's musl bash,
 * busybox and redis) or that are opt-in above (Go): a stand-in program (a musl hello world) is put
 * at each path the bom names (bound there for absolute paths), and `bom copy` must give the tree
 * copy_bom's rules give for that bom.
 */
const standIns: {
  dir: string;
  bom: string;
  inputs: string[];
  data?: string[];
  env?: Record<string, string>;
  tree: string[];
}[] = [
  {
    dir: 'https_server',
    bom: 'https.yaml',
    inputs: ['mongoose_src/examples/simplest_web_server_ssl/simplest_web_server_ssl'],
    data: [
      'mongoose_src/examples/simplest_web_server_ssl/server.key',
      'mongoose_src/examples/simplest_web_server_ssl/server.pem',
    ],
    env: { https_server: 'simplest_web_server_ssl' },
    tree: ['/bin/simplest_web_server_ssl', '/server.key', '/server.pem'],
  },
  { dir: 'golang/web_server', bom: 'web_server.yaml', inputs: ['web_server'], tree: ['/bin/web_server'] },
  {
    dir: 'bash',
    bom: 'bash-musl.yaml',
    inputs: ['/opt/occlum/toolchains/bash/musl/bash', '/opt/occlum/toolchains/busybox/musl/busybox'],
    tree: ['/bin/bash', '/bin/busybox', '/bin/occlum_bash_test.sh'],
  },
  {
    dir: 'redis',
    bom: 'redis.yaml',
    inputs: ['redis-server', 'redis-cli', 'redis-benchmark'].map(
      (n) => `/usr/local/occlum/x86_64-linux-musl/redis/bin/${n}`,
    ),
    tree: ['/bin/redis-benchmark', '/bin/redis-cli', '/bin/redis-server'],
  },
];

describe('Occlum demo boms with stand-in programs: the tree copy_bom gives', { skip: needsCorpus(DEMOS) }, () => {
  for (const d of standIns) {
    test(`${d.dir}/${d.bom}`, (t) => {
      if (!has('musl-gcc')) {
        assert.notEqual(process.env.CI, 'true', 'CI=true: needs musl-gcc (Debian musl-tools)');
        t.skip('needs musl-gcc (Debian musl-tools)');
        return;
      }
      const ws = join(mkdtempSync(join(tmpdir(), 'bom-demo-')), d.dir.replace('/', '_'));
      cpSync(join(DEMOS, d.dir), ws, { recursive: true });
      const binds: [string, string][] = [];
      for (const input of d.inputs) {
        const at = input.startsWith('/') ? join(ws, 'stand-ins', input) : join(ws, input);
        if (input.startsWith('/')) binds.push([at, input]);
        mkdirSync(dirname(at), { recursive: true });
        sh(ws, ['musl-gcc', '-fPIE', '-pie', '-o', at, '-x', 'c', '-'], undefined, 'int main(void){return 0;}\n');
      }
      for (const f of d.data ?? []) writeFileSync(join(ws, f), 'stand-in\n');
      mkdirSync(join(ws, 'occlum_instance'));
      const inst = join(ws, 'occlum_instance');
      const dry = bomCopy(inst, d.bom, d.env, binds, ['--dry-run']);
      assert.equal(dry.status, 0, dry.stderr + dry.stdout);
      assert.equal(existsSync(join(inst, 'image')), false, '--dry-run writes nothing');
      const r = bomCopy(inst, d.bom, d.env, binds, ['--json']);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.deepEqual(JSON.parse(r.stdout).issues, []);
      assert.deepEqual(files(join(inst, 'image')), withBase([MUSL_LOADER, ...d.tree]));
    });
  }
});
