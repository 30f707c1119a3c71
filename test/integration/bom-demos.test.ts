// Occlum's own demos (../shared/reference/occlum-0.31.0/demos) end to end on the host backend, as
// their scripts run them: build the program with what this machine has (musl-gcc, g++, go),
// `occlum init && rm -rf image`, `bom copy -f ../X.yaml --root image` (the demo's own bom, the
// studio's template dir standing in for /opt/occlum/etc/template), build, run, expected output.
// Demos whose inputs cannot be built here (Occlum's toolchains, sources from the internet) are
// listed in docs/bom.md with how far each gets; a demo whose tool is missing is skipped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { SHARED } from '../helpers/paths.ts';

const DEMOS = join(SHARED, 'reference', 'occlum-0.31.0', 'demos');

function has(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
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

const BASE_DIRS = ['/dev/', '/etc/', '/ext2/', '/host/', '/opt/', '/proc/', '/root/', '/sbin/', '/sys/', '/tmp/'];

interface Demo {
  name: string;
  dir: string;
  bom: string;
  /** Builds the program in the demo's copy; returns a reason to skip, or null. */
  build(ws: string): string | null;
  program: string[];
  expect: RegExp;
  /** The image tree copy_bom's rules give (files and empty dirs). */
  tree: string[];
  env?: Record<string, string>;
}

const sh = (ws: string, cmd: string[], env?: Record<string, string>, input?: string) => {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ws, encoding: 'utf8', env: { ...process.env, ...env }, input });
  assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
};

const GLIBC_CXX = ['libc.so.6', 'libgcc_s.so.1', 'libm.so.6', 'libstdc++.so.6'].map(
  (l) => `/opt/occlum/glibc/lib/${l}`,
);

const demos: Demo[] = [
  {
    name: "hello_c (musl-gcc, the demo's own toolchain choice)",
    dir: 'hello_c',
    bom: 'hello.yaml',
    build: (ws) => {
      if (!has('musl-gcc')) return 'musl-gcc (Debian musl-tools) is not installed';
      sh(ws, ['musl-gcc', '-fPIE', '-pie', 'hello_world.c', '-o', 'hello_world']);
      return null;
    },
    program: ['/bin/hello_world'],
    expect: /^Hello World\n$/,
    tree: ['/bin/hello_world', ...BASE_DIRS, '/lib/ld-musl-x86_64.so.1', '/lib64/'].sort(),
  },
  {
    name: "hello_cc (g++ with the host glibc standing in for Occlum's)",
    dir: 'hello_cc',
    bom: 'hello.yaml',
    build: (ws) => {
      if (!has('g++')) return 'g++ is not installed';
      sh(ws, ['g++', '-std=c++11', '-fPIE', '-pie', 'hello_world.cc', '-o', 'hello_world']);
      return null;
    },
    program: ['/bin/hello_world'],
    expect: /^Hello World\n$/,
    tree: [
      '/bin/hello_world',
      ...BASE_DIRS.filter((d) => d !== '/opt/'),
      '/lib/',
      '/lib64/ld-linux-x86-64.so.2',
      ...GLIBC_CXX,
    ].sort(),
  },
];

describe(
  'Occlum demos through bom copy, build and run',
  { skip: !existsSync(DEMOS) && 'no ../shared (a fresh clone)' },
  () => {
    for (const d of demos) {
      test(d.name, async (t) => {
        const ws = join(mkdtempSync(join(tmpdir(), 'bom-demo-')), d.dir.replace('/', '_'));
        cpSync(join(DEMOS, d.dir), ws, { recursive: true });
        const skip = d.build(ws);
        if (skip) {
          t.skip(skip);
          return;
        }
        assert.equal(runCli(['init', 'occlum_instance'], { cwd: ws }).status, 0);
        const inst = join(ws, 'occlum_instance');
        rmSync(join(inst, 'image'), { recursive: true });
        const dry = runCli(['bom', 'copy', '-f', `../${d.bom}`, '--root', 'image', '--dry-run'], {
          cwd: inst,
          env: d.env,
        });
        assert.equal(dry.status, 0, dry.stderr + dry.stdout);
        assert.equal(existsSync(join(inst, 'image')), false, '--dry-run writes nothing');
        const copy = runCli(['bom', 'copy', '-f', `../${d.bom}`, '--root', 'image', '--json'], {
          cwd: inst,
          env: d.env,
        });
        assert.equal(copy.status, 0, copy.stderr + copy.stdout);
        const report = JSON.parse(copy.stdout);
        assert.deepEqual(report.issues, []);
        assert.deepEqual(files(join(inst, 'image')), d.tree);
        const again = JSON.parse(
          runCli(['bom', 'copy', '-f', `../${d.bom}`, '--root', 'image', '--json'], { cwd: inst, env: d.env }).stdout,
        );
        assert.deepEqual([again.counts.create, again.counts.update], [0, 0], 'a second copy changes nothing');
        const b = runCli(['build'], { cwd: inst });
        assert.equal(b.status, 0, b.stderr);
        assert.doesNotMatch(b.stderr, /kernel too old/);
        const r = runCli(['run', ...d.program], { cwd: inst });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, d.expect);
      });
    }
  },
);

/**
 * The demo boms whose inputs are built from sources this machine cannot get (Occlum's toolchains,
 * crates, Go modules, mongoose): a stand-in program (a musl hello world) is put at each path the
 * bom names, and `bom copy` must give the tree copy_bom's rules give for that bom.
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
    dir: 'rust',
    bom: 'rust-demo.yaml',
    inputs: ['rust_app/target/x86_64-unknown-linux-musl/debug/rust_app'],
    tree: ['/bin/rust_app'],
  },
  { dir: 'golang/web_server', bom: 'web_server.yaml', inputs: ['web_server'], tree: ['/bin/web_server'] },
  {
    dir: 'sqlite',
    bom: 'sqlite.yaml',
    inputs: ['sqlite_demo', 'speedtest1'],
    env: { DEMO: 'sqlite_demo', SPEEDTEST: 'speedtest1' },
    tree: ['/bin/speedtest1', '/bin/sqlite_demo'],
  },
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
];

describe(
  'Occlum demo boms with stand-in programs: the tree copy_bom gives',
  { skip: (!existsSync(DEMOS) && 'no ../shared (a fresh clone)') || (!has('musl-gcc') && 'needs musl-gcc') },
  () => {
    for (const d of standIns) {
      test(`${d.dir}/${d.bom}`, () => {
        const ws = join(mkdtempSync(join(tmpdir(), 'bom-demo-')), d.dir.replace('/', '_'));
        cpSync(join(DEMOS, d.dir), ws, { recursive: true });
        for (const input of d.inputs) {
          mkdirSync(dirname(join(ws, input)), { recursive: true });
          sh(ws, ['musl-gcc', '-fPIE', '-pie', '-o', input, '-x', 'c', '-'], undefined, 'int main(void){return 0;}\n');
        }
        for (const f of d.data ?? []) writeFileSync(join(ws, f), 'stand-in\n');
        mkdirSync(join(ws, 'occlum_instance'));
        const inst = join(ws, 'occlum_instance');
        const r = runCli(['bom', 'copy', '-f', `../${d.bom}`, '--root', 'image', '--json'], { cwd: inst, env: d.env });
        assert.equal(r.status, 0, r.stderr + r.stdout);
        assert.deepEqual(JSON.parse(r.stdout).issues, []);
        assert.deepEqual(
          files(join(inst, 'image')),
          [...BASE_DIRS, '/lib/ld-musl-x86_64.so.1', '/lib64/', ...d.tree].sort(),
        );
      });
    }
  },
);
