// `occlum-studio bom copy|check|schema` as users run them (built CLI): copy_bom's flags, the
// built-in template dir for `includes: [base.yaml]`, and a bad bom (wrong hash, missing include,
// missing file, nothing to copy, YAML error) exiting 1 with a message naming the entry, writing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

function workspace(bom: string): string {
  const ws = mkdtempSync(join(tmpdir(), 'bom-cli-'));
  mkdirSync(join(ws, 'inst'));
  writeFileSync(join(ws, 'app.txt'), 'app\n');
  writeFileSync(join(ws, 'app.yaml'), bom);
  return ws;
}

const copy = (ws: string, ...extra: string[]) =>
  runCli(['bom', 'copy', '-f', '../app.yaml', '--root', 'image', ...extra], { cwd: join(ws, 'inst') });

test("copy_bom's flags; base.yaml from the studio's template dir; --dry-run, --json; a rerun changes nothing", () => {
  const ws = workspace(
    'includes:\n  - base.yaml\ntargets:\n  - target: /bin\n    copy:\n      - files: [../app.txt]\n',
  );
  const dry = copy(ws, '--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /^create file \/bin\/app\.txt <- .*\/app\.txt \(files\)$/m);
  assert.match(dry.stdout, /dry run, nothing written/);
  assert.equal(existsSync(join(ws, 'inst', 'image')), false);
  const r = copy(ws, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, true);
  assert.equal(j.boms.length, 2);
  assert.match(j.boms[1], /bom-templates\/base\.yaml$/);
  assert.deepEqual(readdirSync(join(ws, 'inst', 'image')).sort(), [
    'bin',
    'dev',
    'etc',
    'ext2',
    'host',
    'lib',
    'lib64',
    'opt',
    'proc',
    'root',
    'sbin',
    'sys',
    'tmp',
  ]);
  const again = JSON.parse(copy(ws, '--json').stdout);
  assert.deepEqual([again.counts.create, again.counts.update], [0, 0]);
  // -i DIR replaces the built-in dir: a base.yaml that is not there is an error naming the include.
  const other = copy(ws, '-i', ws);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /app\.yaml:2:5: error: included bom "base\.yaml" is not next to .*, nor in /);
});

test('a bad bom exits 1, names the entry (file:line:col) and writes nothing', () => {
  const cases: [string, RegExp][] = [
    [
      `targets:\n  - target: /\n    copy:\n      - files:\n        - {name: ../app.txt, hash: ${'A'.repeat(64)}}\n`,
      /app\.yaml:5:\d+: error: hash mismatch for \.\.\/app\.txt/,
    ],
    ['includes:\n  - nowhere.yaml\n', /app\.yaml:2:5: error: included bom "nowhere\.yaml" is not next to/],
    [
      'targets:\n  - target: /\n    copy:\n      - files: [../missing.txt]\n',
      /app\.yaml:4:17: error: \.\.\/missing\.txt: no such file/,
    ],
    [
      'targets:\n  - target: /\n    copy:\n      - dir: [a]\n',
      /app\.yaml:4:9: error: .* has neither "from", "dirs" nor "files".*copy_bom ignores "dir"; did you mean "dirs"\?/,
    ],
    ['targets:\n  - target: /\n   copy: [\n', /app\.yaml:\d+:\d+: error: not valid YAML/],
    // copy_bom would write there; the studio keeps a bom inside its root.
    [
      'targets:\n  - target: ../../out\n    copy:\n      - files: [../app.txt]\n',
      /app\.yaml:2:13: error: target "\.\.\/\.\.\/out" writes to .*\/out, outside the root .*\/inst\/image: its "\.\." climbs out/,
    ],
  ];
  for (const [bom, message] of cases) {
    const ws = workspace(bom);
    const r = copy(ws);
    assert.equal(r.status, 1, bom);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(ws, 'inst', 'image')), false, bom);
    assert.equal(existsSync(join(ws, 'out')), false, bom);
    const c = runCli(['bom', 'check', join(ws, 'app.yaml')]);
    // check knows no root: sources and where they land are the copy's to judge.
    if (/hash|missing\.txt|\.\.\/out/.test(bom)) assert.equal(c.status, 0, 'check validates the bom, not the sources');
    else assert.equal(c.status, 1);
  }
});

test('check, schema and usage errors', () => {
  const ws = workspace('targets:\n  - target: /bin\n    copy:\n      - files: [../$APP_NAME]\n');
  const unset = runCli(['bom', 'check', join(ws, 'app.yaml')], { env: { APP_NAME: '' } });
  assert.equal(unset.status, 0, 'set, even empty, is set');
  delete process.env.APP_NAME;
  // Unset, it is the copy's to refuse: check warns (build scripts export it just before copy_bom).
  const r = runCli(['bom', 'check', join(ws, 'app.yaml'), '--json']);
  assert.equal(r.status, 0, r.stdout);
  const issue = JSON.parse(r.stdout).issues[0];
  assert.equal(issue.severity, 'warning');
  assert.match(issue.message, /\$APP_NAME, which is not set here; export APP_NAME=… before `bom copy`/);
  const c = copy(ws, '--dry-run');
  assert.equal(c.status, 1);
  assert.match(c.stderr, /app\.yaml:4:17: error: .*\$APP_NAME, which is not set/);
  const schema = JSON.parse(runCli(['bom', 'schema']).stdout);
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(runCli(['bom', 'copy', '-f', 'x.yaml']).status, 2);
  assert.equal(runCli(['bom', 'nope']).status, 2);
  assert.match(runCli(['bom', '--help']).stdout, /bom copy -f FILE --root DIR/);
});

test('build names the boms of .occlum-studio.json it does not copy, with the command that does', () => {
  const ws = workspace('targets:\n  - target: /bin\n    copy:\n      - files: [../app.txt]\n');
  const inst = join(ws, 'inst');
  assert.equal(runCli(['init'], { cwd: inst }).status, 0);
  writeFileSync(join(inst, '.occlum-studio.json'), '{ "bom": ["../app.yaml"] }\n');
  const b = runCli(['build', '--json'], { cwd: inst });
  assert.equal(b.status, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).ok, true);
  const note =
    /^note: \.occlum-studio\.json is applied by `occlum-studio watch` and the Build pane, not by `build`.*: `(occlum-studio bom copy -f \.\.\/app\.yaml --root image)`$/m;
  const m = note.exec(b.stderr);
  assert.ok(m, b.stderr);
  // The command as printed does the copy; the next build packs the file.
  assert.equal(copy(ws).status, 0);
  assert.equal(runCli(['build'], { cwd: inst }).status, 0);
  assert.match(runCli(['fs', 'ls', '/bin'], { cwd: inst }).stdout, /app\.txt/);
  // Without settings, no note.
  const plain = workspace('targets: []\n');
  assert.equal(runCli(['init'], { cwd: join(plain, 'inst') }).status, 0);
  assert.doesNotMatch(runCli(['build'], { cwd: join(plain, 'inst') }).stderr, /note: \.occlum-studio/);
});
