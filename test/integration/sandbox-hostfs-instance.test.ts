// Occlum's template mounts the instance itself at /host (hostfs, source "."), writable: a program
// may write its output there, and image/ (as in Occlum). It may not act on what the studio does
// next on its own: rewrite Occlum.json or .occlum-studio.json (the dev loop rebuilds and reruns
// with them: a hostfs of "/", a bom copying ~/.ssh in), the boms the loop copies, or swap image/
// for a link to a host directory (the next build packed it: any file of the user's in the image).
// Before the fix, each of these succeeded; as root and as a normal user, for run and exec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';

type Cli = (...args: string[]) => { status: number | null; stdout: string; stderr: string };

function attack(cli: Cli, dir: string, how: string[]): void {
  const config = readFileSync(join(dir, 'Occlum.json'), 'utf8');
  const settings = readFileSync(join(dir, '.occlum-studio.json'), 'utf8');
  const out = (...args: string[]) => {
    const r = cli(...how, '/bin/writer', ...args);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const boms = ['/host/bom.yaml', '/host/inc.yaml'];
  const w = out('write', '/host/Occlum.json', '/host/.occlum-studio.json', ...boms, '/host/image/new', '/host/output');
  assert.match(w, /write \/host\/Occlum.json: Read-only file system/, how.join(' '));
  assert.match(w, /write \/host\/.occlum-studio.json: Read-only file system/);
  // The dev loop's bom and its include, which its next change build reads.
  assert.match(w, /write \/host\/bom.yaml: Read-only file system\nwrite \/host\/inc.yaml: Read-only file system/);
  assert.match(w, /write \/host\/image\/new: ok/, 'image/ stays writable, as in Occlum');
  assert.match(w, /write \/host\/output: ok/, 'the hostfs stays writable');
  assert.match(
    out('unlink', '/host/Occlum.json', '/host/.occlum-studio.json'),
    /(: (Device or )?[Rr]esource busy\n.*){2}/s,
  );
  for (const name of ['image', 'initfs', 'Occlum.json', '.occlum-studio.json', 'bom.yaml', 'inc.yaml']) {
    assert.match(out('rename', `/host/${name}`, `/host/${name}.old`), /: (Device or )?[Rr]esource busy/, name);
  }
  assert.match(out('symlink', '/', '/host/image'), /File exists/);
  assert.equal(readFileSync(join(dir, 'Occlum.json'), 'utf8'), config);
  assert.equal(readFileSync(join(dir, '.occlum-studio.json'), 'utf8'), settings);
  assert.ok(lstatSync(join(dir, 'image')).isDirectory());
  assert.ok(existsSync(join(dir, 'image', 'new')));
  assert.ok(!existsSync(join(dir, 'image.old')) && !existsSync(join(dir, 'Occlum.json.old')));
  rmSync(join(dir, 'image', 'new'));
}

function check(cli: Cli, dir: string): void {
  const b = cli('build');
  assert.equal(b.status, 0, b.stderr);
  attack(cli, dir, ['run']);
  const s = cli('start');
  assert.equal(s.status, 0, s.stderr);
  try {
    attack(cli, dir, ['exec']);
  } finally {
    assert.equal(cli('stop').status, 0);
  }
}

function instance(): string {
  const dir = makeInstance(['writer']);
  writeFileSync(
    join(dir, '.occlum-studio.json'),
    '{ "prebuild": "make", "bom": ["bom.yaml"], "bomIncludeDirs": ["."] }\n',
  );
  writeFileSync(join(dir, 'bom.yaml'), 'includes: [inc.yaml]\n');
  writeFileSync(join(dir, 'inc.yaml'), 'targets:\n  - target: /\n    mkdirs: [data]\n');
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  return dir;
}

test('as root: a program cannot rewrite the instance config or settings, or swap image/, through /host', (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  if (process.getuid?.() !== 0) return t.skip('needs root');
  const dir = instance();
  try {
    check((...a) => runCli(a, { cwd: dir }), dir);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('as a normal user: the same', { skip: unprivilegedSkip() }, (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  const dir = instance();
  try {
    check(asNobodyIn(dir), dir);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

// A config kept elsewhere and linked into the instance cannot be pinned: a bind mount goes onto
// what a link names, never onto the link, so the program could unlink it and write its own file
// in its place (before the fix: `unlink /host/Occlum.json: ok`). Such a run is refused, naming
// the link, the mount that exposes it and the fix; the link stays.
function linkedConfigs(cli: Cli, dir: string): void {
  for (const name of ['Occlum.json', '.occlum-studio.json']) {
    const real = join(dirname(dir), `${name}.real`);
    renameSync(join(dir, name), real);
    symlinkSync(`../${name}.real`, join(dir, name));
    try {
      assert.equal(cli('build').status, 0);
      for (const how of ['run', 'start']) {
        const r = cli(how, ...(how === 'run' ? ['/bin/writer', 'unlink', `/host/${name}`] : []));
        assert.equal(r.status, 1, `${how} ${name}: ${r.stdout}${r.stderr}`);
        assert.doesNotMatch(r.stdout, /unlink/);
        assert.match(r.stderr, new RegExp(`${name.replace('.', '\\.')} is a symbolic link \\(to \\.\\./`));
        assert.match(r.stderr, /hostfs at \/host/);
        assert.match(r.stderr, /make it a regular file/);
        assert.ok(lstatSync(join(dir, name)).isSymbolicLink(), name);
      }
    } finally {
      rmSync(join(dir, name), { force: true });
      renameSync(real, join(dir, name));
    }
  }
}

test('a config or settings file that is a symlink in a hostfs view of the instance: the run is refused', (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  const dir = instance();
  try {
    linkedConfigs((...a) => runCli(a, { cwd: dir }), dir);
    if (!unprivilegedSkip()) linkedConfigs(asNobodyIn(dir), dir);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
