// The bom engine on real files in temp dirs: parsing with places, includes, variables, copy_bom's
// path and duplicate rules, hashes checked before writing, incremental copies, strays; directory
// copies compared entry by entry with rsync run with copy_bom's own arguments.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  applyPlan,
  bomSchema,
  checkBom,
  parseBom,
  planBom,
  runBomCopy,
  sha256File,
  type BomIssue,
  type LoaderConfig,
} from '../../src/core/bom/index.ts';
import { parseLoaderConfig } from '../../src/core/bom/loader-config.ts';
import { unsafeLink } from '../../src/core/bom/tree.ts';
import { compileExcludes } from '../../src/core/bom/exclude.ts';
import { rustFileName, rustJoin, rustParent } from '../../src/core/bom/paths.ts';
import { expandEnv } from '../../src/core/bom/env.ts';

/** A workspace: <ws>/occlum_instance is the cwd, image is the root (as Occlum's demos do). */
function workspace(files: Record<string, string>): { ws: string; inst: string } {
  const ws = mkdtempSync(join(tmpdir(), 'bom-'));
  const inst = join(ws, 'occlum_instance');
  mkdirSync(inst);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(ws, p)), { recursive: true });
    writeFileSync(join(ws, p), text);
  }
  return { ws, inst };
}

const errors = (issues: BomIssue[]) => issues.filter((i) => i.severity === 'error');
const noLoader: LoaderConfig | null = null;

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(p, r);
      } else out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${st.size} ${Math.floor(st.mtimeMs / 1000)}`);
    }
  };
  walk(root, '');
  return out;
}

async function copy(
  inst: string,
  bom: string,
  extra: { dryRun?: boolean; includeDirs?: string[]; env?: Record<string, string>; changed?: string[] } = {},
) {
  return runBomCopy({
    file: bom,
    root: 'image',
    cwd: inst,
    includeDirs: extra.includeDirs ?? [],
    dryRun: extra.dryRun,
    env: extra.env ?? {},
    loaderConfig: noLoader,
    changed: extra.changed,
  });
}

describe('parse', () => {
  test('unknown keys: ignored as copy_bom does, warned about with line:col and a did-you-mean', () => {
    const r = parseBom('targets:\n  - target: /bin\n    copy:\n      - file:\n        - a\n', '/x/app.yaml');
    const w = r.issues.filter((i) => i.severity === 'warning');
    assert.equal(w.length, 1, JSON.stringify(r.issues));
    assert.deepEqual(w[0]!.loc, { file: '/x/app.yaml', line: 4, column: 9 });
    assert.match(w[0]!.message, /unknown key "file".* is ignored \(as copy_bom does\); did you mean "files"\?/);
    // Nothing left to copy: copy_bom stops there too ("field 'from' cannot be empty").
    const e = errors(r.issues);
    assert.equal(e.length, 1, JSON.stringify(e));
    assert.match(e[0]!.message, /neither "from", "dirs" nor "files".*copy_bom ignores "file"; did you mean "files"\?/);
  });

  test('YAML syntax errors and wrong types name the place', () => {
    const y = parseBom('targets: [\n', 'b.yaml');
    assert.match(errors(y.issues)[0]!.message, /not valid YAML/);
    assert.ok(errors(y.issues)[0]!.loc?.line);
    const t = parseBom('targets:\n  - target: /bin\n    mkdirs: bin\n', 'b.yaml');
    assert.match(errors(t.issues)[0]!.message, /"mkdirs" of target \/bin must be a list/);
    assert.deepEqual([errors(t.issues)[0]!.loc?.line, errors(t.issues)[0]!.loc?.column], [3, 13]);
    const h = parseBom('targets:\n  - target: /\n    copy:\n      - files:\n        - {name: a, hash: 12}\n', 'b.yaml');
    assert.match(errors(h.issues)[0]!.message, /SHA-256 in hex/);
    const d = parseBom('includes: [a.yaml]\nincludes: [b.yaml]\n', 'b.yaml');
    assert.match(errors(d.issues)[0]!.message, /unique/);
  });

  test('a file is a string or {name, hash, autodep, rename}', () => {
    const r = parseBom(
      'targets:\n  - target: /bin\n    copy:\n      - from: ..\n        files:\n          - a\n' +
        `          - {name: b, hash: ${'AB'.repeat(32)}, autodep: false, rename: c}\n`,
      'b.yaml',
    );
    assert.deepEqual(errors(r.issues), []);
    const files = r.doc.targets[0]!.copy[0]!.files!;
    assert.deepEqual(
      files.map((f) => [f.name.value, f.hash?.value, f.autodep, f.rename?.value]),
      [
        ['a', undefined, true, undefined],
        ['b', 'AB'.repeat(32), false, 'c'],
      ],
    );
  });

  test(
    'every bom file of the corpus and of the shared demos parses without errors',
    { skip: !existsSync(join(process.cwd(), '..', 'shared')) && 'no ../shared' },
    () => {
      const dirs = [join(process.cwd(), '..', 'shared', 'occlum-configs', 'bom')];
      let n = 0;
      for (const dir of dirs) {
        for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
          const r = parseBom(readFileSync(join(dir, f), 'utf8'), f);
          assert.deepEqual(errors(r.issues), [], f);
          n++;
        }
      }
      assert.ok(n > 50, `only ${n} boms`);
    },
  );

  test('the schema lists the keys the parser knows', () => {
    const s = bomSchema() as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(s.properties), ['includes', 'excludes', 'targets']);
  });
});

// Shapes met in real bom files (Occlum's branches and other projects' boms), each checked against
// what copy_bom (serde_yaml 0.8, rsync) does with it. The boms are written here, not copied.
describe('real-world shapes, as copy_bom takes them', () => {
  test('a YAML error names its own line and column, not 1:1', () => {
    // A key indented one level too little in the middle of the file.
    const text =
      'targets:\n  - target: /bin\n    copy:\n      - files: [a]\n  # libs\n  target: /lib\n    copy:\n' +
      '      - files: [b]\n';
    const e = errors(parseBom(text, 'b.yaml').issues);
    assert.ok(e.length > 0);
    assert.match(e[0]!.message, /not valid YAML/);
    assert.notDeepEqual([e[0]!.loc?.line, e[0]!.loc?.column], [1, 1], JSON.stringify(e));
    assert.ok(
      e.every((i) => i.loc!.line >= 6),
      JSON.stringify(e),
    );
    // CRLF line ends count as one break.
    const crlf = errors(parseBom('targets:\r\n  - target: /bin\r\n    mkdirs: x\r\n', 'c.yaml').issues);
    assert.deepEqual([crlf[0]!.loc?.line, crlf[0]!.loc?.column], [3, 13]);
  });

  test('a key indented deeper than the key above it is one error, at that key', () => {
    // `copy:` two columns right of `target:` continues the value "/bin" (a broken commit of a
    // real bom had this); serde_yaml: "mapping values are not allowed in this context".
    const e = errors(parseBom('targets:\n  - target: /bin\n      copy:\n        - files: [a]\n', 'b.yaml').issues);
    assert.equal(e.length, 1, JSON.stringify(e));
    assert.deepEqual([e[0]!.loc?.line, e[0]!.loc?.column], [3, 7]);
    assert.match(e[0]!.message, /"copy:" is indented deeper than the key above it.*mapping values are not allowed/);
    const f = errors(
      parseBom('targets:\n  - target: /\n    copy:\n      - from: /x\n         files: [a]\n', 'c.yaml').issues,
    );
    assert.deepEqual(
      f.map((i) => [i.loc?.line, i.loc?.column, /"files:" is indented deeper/.test(i.message)]),
      [[5, 10, true]],
    );
  });

  test('a key at the column of the list items above it without "- " is one error where serde_yaml puts it', () => {
    // A commit of Occlum's tensorflow_serving demo: `  target: /opt/...` after `  - target: /etc`
    // (serde_yaml: "did not find expected '-' indicator at line 6 column 3").
    const text =
      'targets:\n  - target: /etc\n    copy:\n      - files: [../hosts]\n  # nss\n  target: /lib\n    copy:\n      - files: [a]\n';
    const e = errors(parseBom(text, 'b.yaml').issues);
    assert.equal(e.length, 1, JSON.stringify(e));
    assert.deepEqual([e[0]!.loc?.line, e[0]!.loc?.column], [6, 3]);
    assert.match(
      e[0]!.message,
      /"target:" is at the column of the list items above it but has no "- ".*write "- target:"/,
    );
    // A tab in the indentation: one error, on its line, whatever the parser makes of the rest.
    const t = errors(parseBom('targets:\n  - target: /a\n    mkdirs:\n\t- b\n', 't.yaml').issues);
    assert.deepEqual(
      t.map((i) => [i.loc?.line, i.loc?.column, i.message]),
      [[4, 1, 'not valid YAML: a tab indents this line; YAML indents with spaces only']],
    );
  });

  test('an empty or comment-only bom is an error, as serde_yaml fails on it', () => {
    for (const text of ['', '# nothing yet\n', '---\n']) {
      const e = errors(parseBom(text, 'e.yaml').issues);
      assert.equal(e.length, 1, JSON.stringify(text));
      assert.match(e[0]!.message, /empty.*copy_bom rejects it; write at least "targets: \[\]"/);
    }
    assert.deepEqual(parseBom('targets: []\n', 'e.yaml').issues, []);
  });

  test('a bom nested deeper than the parser can go is a located YAML error, not a stack overflow', () => {
    const { issues } = parseBom(`targets: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`, '/x/deep.yaml');
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^not valid YAML: nested too deeply \(serde_yaml, .* 128 levels/);
    assert.equal(issues[0]!.loc?.line, 1);
  });

  test('aliases stand for their anchors; a key holding only an anchor is no typo; alias bombs stop', () => {
    const text =
      'x-libs: &libs\n  - {name: libz.so.1, autodep: false}\n  - libm.so.6\n' +
      'targets:\n  - target: /lib\n    copy:\n      - from: /usr/lib\n        files: *libs\n' +
      '  - &t {target: /opt, mkdirs: [a]}\n  - *t\n';
    const r = parseBom(text, 'a.yaml');
    assert.deepEqual(r.issues, []);
    assert.deepEqual(
      r.doc.targets[0]!.copy[0]!.files!.map((f) => [f.name.value, f.autodep]),
      [
        ['libz.so.1', false],
        ['libm.so.6', true],
      ],
    );
    assert.deepEqual(
      r.doc.targets.map((t) => t.target.value),
      ['/lib', '/opt', '/opt'],
    );
    // 1000 targets of 1000 sources of 2 files from a few hundred bytes: refused, quickly.
    const bomb =
      'f: &f [{name: x}, {name: y}]\ns: &s {files: *f}\n' +
      `c: &c [${Array(1000).fill('*s').join(', ')}]\nt: &t {target: /a, copy: *c}\n` +
      `targets: [${Array(1000).fill('*t').join(', ')}]\n`;
    assert.match(errors(parseBom(bomb, 'bomb.yaml').issues)[0]!.message, /more than 1000000 values .*aliases/);
  });

  test('a number or boolean under files is refused (the untagged file entry takes strings only)', () => {
    const text = 'targets:\n  - target: /bin\n    mkdirs: [1]\n    copy:\n      - files: [123, "456", {name: true}]\n';
    const e = errors(parseBom(text, 'n.yaml').issues);
    assert.equal(e.length, 2, JSON.stringify(e));
    assert.match(e[0]!.message, /must be a string, not number 123: copy_bom rejects it; quote it \("123"\)/);
    assert.deepEqual([e[0]!.loc?.line, e[0]!.loc?.column], [5, 17]);
    assert.match(e[1]!.message, /"name" must be a string, not boolean true/);
  });

  test('scalars are typed as serde_yaml 0.8 types them, not as the YAML 1.2 core schema does', () => {
    // Checked against serde_yaml 0.8.26 with copy_bom's structs: under files only `~`, `null`, `true`,
    // `false` and Rust numbers are no strings; True, NULL, 010, 1_000, 1e400 are file names there.
    const names = ['True', 'NULL', 'Null', 'False', '010', '1_000', '1e400', 'inf', 'yes', '0xZZ', '12:30'];
    const ok = parseBom(`targets:\n  - target: /a\n    copy:\n      - files: [${names.join(', ')}]\n`, 'a.yaml');
    assert.deepEqual(errors(ok.issues), []);
    assert.deepEqual(
      ok.doc.targets[0]!.copy[0]!.files!.map((f) => f.name.value),
      names,
    );
    for (const bad of ['true', '~', 'null', '0b101', '0x10', '+5', '1.5', '.5', '5.', '.inf', '-0', '!!int 7'])
      assert.equal(
        errors(parseBom(`targets:\n  - target: /a\n    copy:\n      - files: [${bad}]\n`, 'b.yaml').issues).length,
        1,
        bad,
      );
    // autodep: true or false only; `~` is no autodep (the default).
    const auto = (v: string) =>
      parseBom(`targets:\n  - target: /a\n    copy:\n      - files: [{name: x, autodep: ${v}}]\n`, 'c.yaml');
    assert.equal(auto('false').doc.targets[0]!.copy[0]!.files![0]!.autodep, false);
    assert.equal(auto('~').doc.targets[0]!.copy[0]!.files![0]!.autodep, true);
    for (const v of ['True', 'FALSE', 'yes', '"false"', '0'])
      assert.match(errors(auto(v).issues)[0]!.message, /"autodep" of x must be true or false/, v);
    // A string field takes the text: `Null` and `010` are names; a null (`~`, empty) is refused with
    // what copy_bom would make of it; an empty target is the root, an empty from the workspace.
    const t = parseBom(
      'targets:\n  - target: ""\n    mkdirs: [Null, 010]\n    copy:\n      - {from: "", files: [a]}\n',
      'd.yaml',
    );
    assert.deepEqual(errors(t.issues), []);
    assert.deepEqual(
      t.doc.targets[0]!.mkdirs.map((m) => m.value),
      ['Null', '010'],
    );
    const n = errors(parseBom('targets:\n  - target: ~\n  - target: /a\n    mkdirs:\n      -\n', 'e.yaml').issues);
    assert.deepEqual(
      n.map((i) => [i.loc?.line, i.message]),
      [
        [
          2,
          '"target" is empty (YAML null): copy_bom would take it as the name "~"; write the path (quote it if that name is meant)',
        ],
        [
          5,
          'an item of "mkdirs" of target /a is empty (YAML null): copy_bom would take it as the name "~"; write the path (quote it if that name is meant)',
        ],
      ],
    );
  });

  test('an alias with no anchor above it is an error wherever it is (serde_yaml: "found unknown anchor")', () => {
    for (const [text, line] of [
      ['targets:\n  - target: /a\n    mkdirs: *a\nx: &a [p]\n', 3],
      ['x-unused: *zz\ntargets: []\n', 1],
    ] as const) {
      const e = errors(parseBom(text, 'a.yaml').issues);
      assert.equal(e.length, 1, text);
      assert.match(e[0]!.message, /^\*(a|zz) names no anchor above it: copy_bom fails on it/);
      assert.equal(e[0]!.loc?.line, line);
    }
  });

  test('a value of the wrong type is named as serde_yaml reads it ("Null" is text, not nothing)', () => {
    const text = 'targets:\n  - target: /a\n    mkdirs: Null\n  - target: /b\n    mkdirs: 5\n';
    assert.deepEqual(
      errors(parseBom(text, 'w.yaml').issues).map((i) => i.message.replace(/ \(write each.*$/, '')),
      ['"mkdirs" of target /a must be a list, not "Null"', '"mkdirs" of target /b must be a list, not number 5'],
    );
  });

  test('a bom that is not UTF-8, or starts with a byte order mark, is an error at its place', async () => {
    const { ws, inst } = workspace({});
    writeFileSync(join(ws, 'bad.yaml'), Buffer.from('targets:\n  - target: /\xc3\xa9x\xe9\n', 'latin1'));
    writeFileSync(join(ws, 'bom.yaml'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('targets: []\n')]));
    writeFileSync(join(ws, 'inc.yaml'), 'includes: [bad.yaml]\n');
    const bad = checkBom(join(ws, 'inc.yaml'), [], inst, {});
    assert.equal(errors(bad.issues).length, 1);
    assert.match(errors(bad.issues)[0]!.message, /^not valid UTF-8 \(byte 0xe9\): copy_bom cannot read the bom/);
    assert.deepEqual(errors(bad.issues)[0]!.loc, { file: join(ws, 'bad.yaml'), line: 2, column: 16 });
    const bom = checkBom(join(ws, 'bom.yaml'), [], inst, {});
    assert.match(errors(bom.issues)[0]!.message, /^the file starts with a byte order mark \(U\+FEFF\)/);
    assert.equal((await copy(inst, '../bom.yaml')).ok, false);
  });

  test('an unknown key is a warning and the rest is copied as copy_bom would (here: the whole `from`)', async () => {
    const { ws, inst } = workspace({
      'zone/UTC': 'utc',
      'zone/Asia/Tokyo': 'jst',
      'z.yaml': 'targets:\n  - target: /zoneinfo\n    copy:\n      - from: ../zone\n        dir:\n          - UTC\n',
    });
    const c = checkBom(join(ws, 'z.yaml'), [], inst, {});
    assert.deepEqual(errors(c.issues), []);
    assert.match(c.issues[0]!.message, /unknown key "dir" .* is ignored \(as copy_bom does\); did you mean "dirs"\?/);
    assert.deepEqual([c.issues[0]!.loc?.line, c.issues[0]!.loc?.column], [5, 9]);
    // `from` alone is taken from the current directory: run where ../zone is the tree.
    const r = await copy(inst, '../z.yaml');
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    assert.equal(readFileSync(join(inst, 'image/zoneinfo/Asia/Tokyo'), 'utf8'), 'jst');
  });

  test('a directory under files: as rsync -aL copies it ("d" into T/d/d, "d/" into T/d), links followed', async () => {
    const { ws, inst } = workspace({ 'conf/a': 'a', 'conf/sub/b': 'b', 'outside/o': 'o' });
    symlinkSync('a', join(ws, 'conf/rel'));
    symlinkSync(join(ws, 'outside/o'), join(ws, 'conf/sub/abs'));
    symlinkSync('sub', join(ws, 'conf/dirlink'));
    writeFileSync(
      join(ws, 'd.yaml'),
      'targets:\n  - target: /etc\n    copy:\n      - files:\n          - ../conf\n          - {name: ../conf, rename: c2}\n' +
        '  - target: /data\n    copy:\n      - files: [../conf/]\n',
    );
    const r = await copy(inst, '../d.yaml');
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    // "../conf/" (its contents, into /data/conf) is what such an entry means: no warning for it.
    const w = r.plan.issues.filter((i) => i.severity === 'warning');
    assert.equal(w.length, 2);
    assert.match(
      w[0]!.message,
      /\.\.\/conf is a directory under "files": .*into \/etc\/conf\/conf.*list it under "dirs"/,
    );
    const ref = join(ws, 'ref');
    mkdirSync(join(ref, 'etc'), { recursive: true });
    for (const [src, dest] of [
      ['conf', 'etc/conf'],
      ['conf', 'etc/c2'],
      ['conf/', 'data/conf'],
    ]) {
      mkdirSync(dirname(join(ref, dest)), { recursive: true });
      const rs = spawnSync('rsync', ['-aL', join(ws, src!), join(ref, dest!)]);
      assert.equal(rs.status, 0, String(rs.stderr));
    }
    const stamp = (l: string) => l.replace(/ \d+$/, '');
    const ours = listTree(join(inst, 'image')).map(stamp);
    const theirs = listTree(ref).map(stamp);
    // Directory times differ (rsync sets them after its copy); modes, names, kinds and sizes not.
    assert.deepEqual(ours, theirs);
    assert.ok(ours.includes('etc/c2/conf/sub/abs 644 1'), ours.join('\n'));
    assert.ok(ours.includes('data/conf/sub/abs 644 1'), ours.join('\n'));
    assert.ok(!ours.some((l) => l.includes(' -> ')), 'no link kept');
  });

  test('a rename or link name into a directory nothing made fails as in copy_bom (no parent is created)', async () => {
    const { ws, inst } = workspace({ a: 'a' });
    const bom = (mkdirs: string) =>
      `targets:\n  - target: /bin\n${mkdirs}    createlinks:\n      - {src: /bin/a, linkname: l/a}\n` +
      '    copy:\n      - files:\n          - {name: ../a, rename: sub/deeper/b}\n';
    writeFileSync(join(ws, 'r.yaml'), bom(''));
    const r = await copy(inst, '../r.yaml');
    const e = errors(r.plan.issues);
    assert.equal(e.length, 2, JSON.stringify(e));
    assert.match(e[0]!.message, /^\/bin\/l does not exist in the image when ln -s makes \/bin\/l\/a in it/);
    assert.match(e[1]!.message, /^\/bin\/sub\/deeper does not exist .* rsync copies \/bin\/sub\/deeper\/b .*"mkdirs"/);
    assert.deepEqual([e[1]!.loc?.line, e[1]!.loc?.column], [7, 13]);
    assert.equal(existsSync(join(inst, 'image')), false);
    // rsync itself refuses it: the rule is copy_bom's, not the studio's.
    const rs = spawnSync('rsync', ['-aL', join(ws, 'a'), join(ws, 'ref/bin/sub/deeper/b')]);
    assert.notEqual(rs.status, 0);
    // Made by mkdirs (mkdir -p) first, or already in the root: fine.
    writeFileSync(join(ws, 'r.yaml'), bom('    mkdirs: [sub/deeper]\n'));
    mkdirSync(join(inst, 'image/bin/l'), { recursive: true });
    const ok = await copy(inst, '../r.yaml');
    assert.ok(ok.ok, JSON.stringify(ok.plan.issues));
    assert.equal(readFileSync(join(inst, 'image/bin/sub/deeper/b'), 'utf8'), 'a');
    assert.equal(readlinkSync(join(inst, 'image/bin/l/a')), '/bin/a');
  });

  test('a link name copy_bom cannot create ("l/", ".", a dir mkdirs makes) is an error; mkdirs "a/../b" makes a too', async () => {
    const { ws, inst } = workspace({});
    const cases: [string, RegExp][] = [
      ['createlinks: [{src: a, linkname: "l/"}]', /^linkname "l\/" names no link: copy_bom's ln -s fails/],
      ['createlinks: [{src: a, linkname: "."}]', /^linkname "\." names no link/],
      [
        'mkdirs: [l]\n    createlinks: [{src: a, linkname: l}]',
        /^a link at \/x\/l, where a target or mkdirs makes a directory/,
      ],
    ];
    for (const [entries, message] of cases) {
      writeFileSync(join(ws, 'l.yaml'), `targets:\n  - target: /x\n    ${entries}\n`);
      const r = await copy(inst, '../l.yaml');
      assert.match(errors(r.plan.issues)[0]?.message ?? '', message, entries);
      assert.equal(existsSync(join(inst, 'image')), false, entries);
    }
    // Rust's create_dir_all("bin/a/../b") makes bin/a, then bin/b (checked with rustc; GNU mkdir -p
    // makes bin/b only).
    writeFileSync(join(ws, 'm.yaml'), 'targets:\n  - target: /bin\n    mkdirs: [a/../b]\n');
    assert.ok((await copy(inst, '../m.yaml')).ok);
    assert.deepEqual(
      listTree(join(inst, 'image')).map((l) => l.split(' ')[0]),
      ['bin/', 'bin/a/', 'bin/b/'],
    );
  });
});

describe('paths, variables, patterns', () => {
  test('Rust PathBuf semantics', () => {
    assert.equal(rustJoin('/w', '../a'), '/w/../a');
    assert.equal(rustJoin('/w', '/abs'), '/abs');
    assert.equal(rustJoin('', 'a'), 'a');
    assert.equal(rustParent('image'), '');
    assert.equal(rustParent('image/'), '');
    assert.equal(rustParent('/x/inst/image'), '/x/inst');
    assert.equal(rustParent('/'), null);
    assert.equal(rustFileName('/etc/opt/'), 'opt');
    assert.equal(rustFileName('a/..'), null);
  });

  test('$VAR, ${VAR}, ${VAR:-default}; unset is reported', () => {
    assert.deepEqual(expandEnv('../$DEMO/${X}y${Z:-d}', { DEMO: 'a', X: 'b' }), { ok: true, value: '../a/byd' });
    assert.deepEqual(expandEnv('$NOPE/x', {}), { ok: false, missing: ['NOPE'] });
    // shellexpand 2.1 (copy_bom's), checked against the crate itself: "$$" is a literal "$", a set
    // but empty variable is used as "" (no default), a name may start with a digit, a lone "$" stays.
    const env = { SET: 'v', EMPTY: '' };
    const cases: [string, string | string[]][] = [
      ['a$$b', 'a$b'],
      ['$$$SET', '$v'],
      ['$$SET', '$SET'],
      ['${EMPTY:-d}/f', '/f'],
      ['${NOPE:-}x', 'x'],
      ['$1abc', ['1abc']],
      ['x$/$', 'x$/$'],
      ['${SET', '${SET'],
      ['${:-x}', [':-x']],
      ['${SET:-a:-b}', 'v'],
      ['$SET-x${SET}y', 'v-xvy'],
    ];
    for (const [text, want] of cases)
      assert.deepEqual(
        expandEnv(text, env),
        typeof want === 'string' ? { ok: true, value: want } : { ok: false, missing: want },
        text,
      );
  });

  test('rsync exclude patterns', () => {
    const ex = compileExcludes(['.git', '*.pyc', 'cache/', '/top', 'a/b']);
    assert.ok(ex.test('d/.git', true));
    assert.ok(ex.test('d/x/y.pyc', false));
    assert.ok(ex.test('d/cache', true));
    assert.ok(!ex.test('d/cache', false));
    assert.ok(ex.test('top', false));
    assert.ok(!ex.test('d/top', false));
    assert.ok(ex.test('d/a/b', false));
    assert.ok(!ex.test('d/xa/b', false));
    // As rsync reads --exclude (compared with rsync 3.2 on a tree): "- x" excludes x, "+ x" is an
    // include rule (the first matching rule decides), a lone "!" clears the rules before it.
    const pre = compileExcludes(['+ b.txt', '*.txt', '- bar']);
    assert.deepEqual(
      ['d/b.txt', 'd/a.txt', 'd/bar', 'd/- bar'].map((n) => pre.test(n, false)),
      [false, true, true, false],
    );
    assert.ok(compileExcludes(['*.txt', '+ b.txt']).test('d/b.txt', false));
    const cleared = compileExcludes(['*.pyc', '!', 'a']);
    assert.deepEqual([cleared.test('d/x.pyc', false), cleared.test('d/a', true)], [false, true]);
  });

  test("rsync's unsafe-link rule", () => {
    assert.equal(unsafeLink('/abs', 'd/l'), true);
    assert.equal(unsafeLink('x', 'd/l'), false);
    assert.equal(unsafeLink('../x', 'd/l'), false);
    assert.equal(unsafeLink('../../x', 'd/l'), true);
    assert.equal(unsafeLink('../x', 'l'), true);
  });
});

describe('copy', () => {
  test('files, rename, mkdirs, createlinks, includes next to the bom before -i dirs', async () => {
    const { ws, inst } = workspace({
      'app.sh': '#!/bin/sh\necho hi\n',
      'data.txt': 'data',
      'app.yaml':
        'includes: [base.yaml]\ntargets:\n  - target: /bin\n    mkdirs: [x/y]\n    createlinks:\n' +
        '      - {src: /bin/app.sh, linkname: app}\n    copy:\n      - files:\n        - ../app.sh\n' +
        '        - {name: ../data.txt, rename: d.txt}\n',
      'base.yaml': 'targets:\n  - target: /\n    mkdirs: [etc]\n',
      'incdir/base.yaml': 'targets:\n  - target: /\n    mkdirs: [wrong]\n',
    });
    chmodSync(join(ws, 'app.sh'), 0o755);
    utimesSync(join(ws, 'app.sh'), 1_600_000_000, 1_600_000_000);
    const r = await copy(inst, '../app.yaml', { includeDirs: [join(ws, 'incdir')] });
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    assert.deepEqual(
      listTree(join(inst, 'image')).filter((l) => !l.includes('d.txt')),
      ['bin/ 755', 'bin/app -> /bin/app.sh', 'bin/app.sh 755 18 1600000000', 'bin/x/ 755', 'bin/x/y/ 755', 'etc/ 755'],
    );
    assert.equal(readFileSync(join(inst, 'image/bin/d.txt'), 'utf8'), 'data');
  });

  test('incremental: unchanged files are not rewritten, a changed one is; nothing deleted; strays listed', async () => {
    const { ws, inst } = workspace({
      a: 'one',
      b: 'two',
      'app.yaml': 'targets:\n  - target: /\n    copy:\n      - files: [../a, ../b]\n',
    });
    const first = await copy(inst, '../app.yaml');
    assert.equal(first.copy!.counts.create, 3);
    const inoB = statSync(join(inst, 'image/b')).ino;
    writeFileSync(join(ws, 'a'), 'changed');
    writeFileSync(join(inst, 'image/old'), 'left over');
    const second = await copy(inst, '../app.yaml');
    assert.deepEqual(
      second.copy!.actions.filter((a) => a.action !== 'same').map((a) => [a.inner, a.action]),
      [['/a', 'update']],
    );
    assert.equal(statSync(join(inst, 'image/b')).ino, inoB);
    assert.equal(readFileSync(join(inst, 'image/a'), 'utf8'), 'changed');
    assert.deepEqual(second.copy!.strays, ['/old']);
    assert.ok(existsSync(join(inst, 'image/old')));
  });

  test('a hint naming changed files re-copies only them; what it cannot vouch for takes a full copy', async () => {
    const { ws, inst } = workspace({ 'tree/a': 'a', 'tree/b': 'b', one: '1', 'unrelated.c': 'int x;' });
    writeFileSync(
      join(ws, 'app.yaml'),
      'targets:\n  - target: /t\n    copy:\n      - dirs: [../tree]\n' +
        '  - target: /\n    copy:\n      - files: [../one]\n',
    );
    const run = (changed?: string[]) => copy(inst, '../app.yaml', { changed });
    assert.ok((await run()).ok);
    writeFileSync(join(ws, 'tree/a'), 'a2');
    writeFileSync(join(ws, 'one'), 'one2');
    const hinted = await run([join(ws, 'tree/a'), join(ws, 'one'), join(ws, 'unrelated.c')]);
    assert.deepEqual(
      hinted.copy!.actions.map((a) => [a.inner, a.action]).sort(), // in the order the copies finished
      [
        ['/one', 'update'],
        ['/t/tree/a', 'update'],
      ],
    );
    assert.equal(readFileSync(join(inst, 'image/t/tree/a'), 'utf8'), 'a2');
    assert.equal(readFileSync(join(inst, 'image/one'), 'utf8'), 'one2');
    writeFileSync(join(ws, 'tree/new'), 'new');
    const added = await run([join(ws, 'tree/new')]);
    assert.ok(added.copy!.counts.same > 0, 'a full copy');
    assert.equal(readFileSync(join(inst, 'image/t/tree/new'), 'utf8'), 'new');
  });

  test('a wrong hash stops the copy before anything is written; --dry-run writes nothing', async () => {
    const { ws, inst } = workspace({ a: 'content', b: 'b' });
    const good = sha256File(join(ws, 'a'));
    writeFileSync(
      join(ws, 'app.yaml'),
      'targets:\n  - target: /\n    copy:\n      - files:\n        - ../b\n' +
        `        - {name: ../a, hash: ${'0'.repeat(64)}}\n`,
    );
    const bad = await copy(inst, '../app.yaml');
    assert.equal(bad.ok, false);
    const e = errors(bad.plan.issues)[0]!;
    assert.match(e.message, new RegExp(`hash mismatch for \\.\\./a.*${good}`));
    assert.equal(e.loc?.line, 6);
    assert.equal(existsSync(join(inst, 'image')), false);
    writeFileSync(
      join(ws, 'app.yaml'),
      `targets:\n  - target: /\n    copy:\n      - files:\n        - {name: ../a, hash: ${good}}\n`,
    );
    const dry = await copy(inst, '../app.yaml', { dryRun: true });
    assert.ok(dry.ok);
    assert.equal(dry.copy!.counts.create, 2);
    assert.equal(existsSync(join(inst, 'image')), false);
  });

  test('missing include, include cycle, missing file, unset variable: errors naming the entry', async () => {
    const { ws, inst } = workspace({
      'a.yaml': 'includes: [b.yaml]\n',
      'b.yaml': 'includes: [a.yaml]\n',
      'm.yaml': 'includes:\n  - nowhere.yaml\n',
      'j.yaml': 'includes:\n  - java-11-alibaba-dragonwell.yaml\n',
      'f.yaml': 'targets:\n  - target: /bin\n    copy:\n      - files: [../missing, ../$UNSET_VAR]\n',
    });
    const cyc = await copy(inst, '../a.yaml');
    assert.match(errors(cyc.plan.issues)[0]!.message, /include cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml/);
    const miss = checkBom(join(ws, 'm.yaml'), [], inst, {});
    assert.match(errors(miss.issues)[0]!.message, /included bom "nowhere.yaml" is not next to/);
    assert.equal(errors(miss.issues)[0]!.loc?.line, 2);
    assert.doesNotMatch(errors(miss.issues)[0]!.message, /JDK/);
    // A relative -i dir is taken from the current directory: the message says where that is.
    const rel = checkBom(join(ws, 'm.yaml'), ['tmpl'], inst, {});
    assert.match(errors(rel.issues)[0]!.message, new RegExp(`nor in tmpl \\(${inst}/tmpl\\)$`));
    // One of Occlum's JDK templates: the message says where Occlum keeps it.
    const jdk = checkBom(join(ws, 'j.yaml'), [], inst, {});
    assert.match(
      errors(jdk.issues)[0]!.message,
      /Occlum installs its JDK boms in \/opt\/occlum\/etc\/template: .* -i$/,
    );
    const f = await copy(inst, '../f.yaml');
    const msgs = errors(f.plan.issues).map((i) => i.message);
    assert.ok(
      msgs.some((m) => /\$UNSET_VAR.*not set/.test(m)),
      msgs.join('\n'),
    );
    const f2 = await copy(inst, '../f.yaml', { env: { UNSET_VAR: 'x' } });
    assert.match(errors(f2.plan.issues)[0]!.message, /\.\.\/missing: no such file/);
    assert.equal(existsSync(join(inst, 'image')), false);
  });

  test('dirs: "d" copies the dir, "d/" its contents, excludes apply; the tree rsync gives copy_bom', async () => {
    const { ws, inst } = workspace({
      'src/d/a.txt': 'a',
      'src/d/sub/b.txt': 'b',
      'src/d/.git/config': 'x',
      'src/d/sub/c.pyc': 'c',
      'src/outside.txt': 'outside',
      'src/e/f.txt': 'f',
    });
    symlinkSync('a.txt', join(ws, 'src/d/inner-link'));
    symlinkSync('../outside.txt', join(ws, 'src/d/sub/up-link'));
    symlinkSync(join(ws, 'src/outside.txt'), join(ws, 'src/d/abs-link'));
    symlinkSync('/nonexistent/x', join(ws, 'src/d/dangling'));
    chmodSync(join(ws, 'src/d/sub'), 0o750);
    const bom =
      'excludes: [.git, "*.pyc"]\ntargets:\n  - target: /opt\n    copy:\n      - from: ../src\n        dirs: [d]\n' +
      '  - target: /e\n    copy:\n      - dirs: [../src/e/]\n';
    writeFileSync(join(ws, 'app.yaml'), bom);
    const r = await copy(inst, '../app.yaml');
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    assert.ok(r.plan.issues.some((i) => i.severity === 'warning' && /dangling/.test(i.message)));
    // rsync as copy_bom runs it, into another root.
    const ref = join(ws, 'ref');
    mkdirSync(join(ref, 'opt'), { recursive: true });
    mkdirSync(join(ref, 'e'), { recursive: true });
    const rs1 = spawnSync('rsync', [
      '-ar',
      '--copy-unsafe-links',
      '--exclude=.git',
      '--exclude=*.pyc',
      join(ws, 'src/d'),
      join(ref, 'opt'),
    ]);
    const rs2 = spawnSync('rsync', ['-ar', '--copy-unsafe-links', join(ws, 'src/e/'), join(ref, 'e')]);
    assert.ok(rs1.status !== null && rs2.status === 0, String(rs1.stderr) + String(rs2.stderr));
    const ours = listTree(join(inst, 'image')).filter((l) => l.startsWith('opt/') || l.startsWith('e/'));
    const theirs = listTree(ref).filter((l) => l.startsWith('opt/') || l.startsWith('e/'));
    assert.deepEqual(ours, theirs);
    assert.ok(ours.includes('opt/d/inner-link -> a.txt'));
    assert.ok(
      ours.some((l) => l.startsWith('opt/d/abs-link ')),
      'an absolute link is replaced by its file',
    );
  });

  test('a source link to nothing or a loop: named as such; under dirs a link kept as a link is copied as rsync does', async () => {
    const { ws, inst } = workspace({ 'src/real/f': 'f' });
    symlinkSync('loop', join(ws, 'src/loop'));
    symlinkSync('nothere', join(ws, 'src/dang'));
    symlinkSync('/nonexistent/x', join(ws, 'src/absdang'));
    const bomOf = (entry: string) => `targets:\n  - target: /d\n    copy:\n      - from: ../src\n        ${entry}\n`;
    const cases: [string, RegExp][] = [
      ['files: [loop]', /src\/loop is a symlink loop \(-> loop: too many levels of symbolic links\)$/],
      ['files: [dang]', /src\/dang is a symlink to nothere, which does not exist$/],
      ['dirs: [absdang]', /src\/absdang is a symlink to \/nonexistent\/x, which does not exist; copy_bom's rsync/],
      ['dirs: [dang/]', /src\/dang is a symlink to nothere, which does not exist; copy_bom's rsync/],
    ];
    for (const [entry, message] of cases) {
      writeFileSync(join(ws, 'app.yaml'), bomOf(entry));
      const r = await copy(inst, '../app.yaml');
      assert.equal(r.ok, false, entry);
      assert.match(errors(r.plan.issues)[0]!.message, message, entry);
      assert.equal(errors(r.plan.issues)[0]!.loc?.line, 5, entry);
      assert.equal(existsSync(join(inst, 'image')), false, entry);
    }
    // rsync -ar --copy-unsafe-links keeps a top-level link that stays inside the copy, even to nothing.
    writeFileSync(join(ws, 'app.yaml'), bomOf('dirs: [dang, loop]'));
    const r = await copy(inst, '../app.yaml');
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    const ref = join(ws, 'ref', 'd');
    mkdirSync(ref, { recursive: true });
    const rs = spawnSync('rsync', ['-ar', '--copy-unsafe-links', join(ws, 'src/dang'), join(ws, 'src/loop'), ref]);
    assert.equal(rs.status, 0, String(rs.stderr));
    assert.deepEqual(listTree(join(inst, 'image', 'd')), listTree(ref));
    assert.deepEqual(listTree(ref), ['dang -> nothere', 'loop -> loop']);
  });

  test('"files: [..]" names no file (copy_bom panics): a located error that says why', async () => {
    const { ws, inst } = workspace({});
    writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /d\n    copy:\n      - files: [".."]\n');
    const r = await copy(inst, '../app.yaml');
    assert.match(
      errors(r.plan.issues)[0]!.message,
      /"\.\." names no file: the copy takes its name from the last component/,
    );
    assert.deepEqual(errors(r.plan.issues)[0]!.loc, { file: join(ws, 'app.yaml'), line: 4, column: 17 });
  });

  test('whole `from` copies its contents; duplicates as copy_bom (last file wins, included boms last)', async () => {
    const { ws, inst } = workspace({
      'tree/x': 'x',
      one: 'from top',
      'two/one': 'from included',
      'top.yaml':
        'includes: [inc.yaml]\ntargets:\n  - target: /t\n    copy:\n      - from: ../tree\n' +
        '  - target: /\n    copy:\n      - files: [../one]\n',
      'inc.yaml': 'targets:\n  - target: /\n    copy:\n      - files: [../two/one]\n',
    });
    // `from` alone is passed to rsync as written: relative to the current directory.
    const r = await copy(join(ws, 'occlum_instance'), '../top.yaml');
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    assert.equal(readFileSync(join(inst, 'image/t/x'), 'utf8'), 'x');
    assert.equal(readFileSync(join(inst, 'image/one'), 'utf8'), 'from included');
  });
});

describe('autodep', () => {
  const musl = existsSync('/lib/ld-musl-x86_64.so.1') && spawnSync('musl-gcc', ['--version']).status === 0;
  const config = parseLoaderConfig(
    '/lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu /opt/occlum/glibc/lib\n' +
      '/lib/ld-musl-x86_64.so.1 /usr/lib/x86_64-linux-musl\n',
    'test',
  );

  test("glibc: the host's goes where copy_bom puts Occlum's; a missing library: files error, dirs warning", async () => {
    const { ws, inst } = workspace({
      'lib.c': 'int f(void){return 1;}\n',
      'app.c': 'int f(void);\nint main(void){return f();}\n',
      'plain.c': '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n',
    });
    const cc = (args: string[]) => assert.equal(spawnSync('gcc', args, { cwd: ws }).status, 0);
    cc(['-shared', '-fPIC', '-o', 'libf.so', 'lib.c']);
    cc(['-fPIE', '-pie', '-o', 'app', 'app.c', '-L.', '-lf']);
    mkdirSync(join(ws, 'bindir'));
    cc(['-fPIE', '-pie', '-o', 'bindir/app2', 'app.c', '-L.', '-lf']);
    writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /bin\n    copy:\n      - files: [../app]\n');
    const bad = await runBomCopy({
      file: '../app.yaml',
      root: 'image',
      cwd: inst,
      includeDirs: [],
      env: {},
      loaderConfig: config,
    });
    assert.equal(bad.ok, false);
    assert.match(errors(bad.plan.issues)[0]!.message, /needs libf\.so/);
    writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /bin\n    copy:\n      - dirs: [../bindir]\n');
    const warnOnly = await runBomCopy({
      file: '../app.yaml',
      root: 'image',
      cwd: inst,
      includeDirs: [],
      env: {},
      loaderConfig: config,
    });
    assert.ok(warnOnly.ok, JSON.stringify(warnOnly.plan.issues));
    assert.ok(warnOnly.plan.issues.some((i) => i.severity === 'warning' && /libf\.so is needed by/.test(i.message)));
    // glibc's loader stops listing at the first missing library: a complete program for the rest.
    cc(['-fPIE', '-pie', '-o', 'plain', 'plain.c']);
    writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /bin\n    copy:\n      - files: [../plain]\n');
    const good = await runBomCopy({
      file: '../app.yaml',
      root: 'image',
      cwd: inst,
      includeDirs: [],
      env: {},
      loaderConfig: config,
    });
    assert.ok(good.ok, JSON.stringify(good.plan.issues));
    assert.ok(statSync(join(inst, 'image/opt/occlum/glibc/lib/libc.so.6')).isFile());
    assert.ok(statSync(join(inst, 'image/lib64/ld-linux-x86-64.so.2')).isFile());
  });

  test('libraries in copied dirs (no .interp anywhere in the dirs) borrow the loader of the files programs', async () => {
    // As Python's extension modules: a dir of libraries only, whose own libraries live elsewhere.
    const { ws, inst } = workspace({
      'g.c': 'int g(void){return 2;}\n',
      'ext.c': 'int g(void);\nint ext(void){return g();}\n',
      'main.c': 'int main(void){return 0;}\n',
    });
    const cc = (args: string[]) => assert.equal(spawnSync('gcc', args, { cwd: ws }).status, 0);
    mkdirSync(join(ws, 'deps'));
    mkdirSync(join(ws, 'mods'));
    cc(['-shared', '-fPIC', '-o', 'deps/libg.so', 'g.c']);
    cc(['-shared', '-fPIC', '-o', 'mods/ext.so', 'ext.c', '-Ldeps', '-lg']);
    cc(['-fPIE', '-pie', '-o', 'main', 'main.c']);
    const libPath = `/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:${join(ws, 'deps')}`;
    const cfg = parseLoaderConfig(`/lib64/ld-linux-x86-64.so.2 ${libPath} /opt/occlum/glibc/lib\n`, 'test');
    // Two boms: the dirs alone, and with a program under files.
    writeFileSync(join(ws, 'alone.yaml'), 'targets:\n  - target: /lib\n    copy:\n      - dirs: [../mods]\n');
    writeFileSync(
      join(ws, 'app.yaml'),
      'targets:\n  - target: /lib\n    copy:\n      - dirs: [../mods]\n' +
        '  - target: /bin\n    copy:\n      - files: [../main]\n',
    );
    // Past the window in which a saved state does not trust a source just written (1 s).
    await new Promise((r) => setTimeout(r, 1100));
    const stateDir = join(ws, 'state');
    const run = (bom: string) =>
      runBomCopy({
        file: `../${bom}`,
        root: 'image',
        cwd: inst,
        includeDirs: [],
        env: {},
        loaderConfig: cfg,
        stateDir,
      });
    const alone = await run('alone.yaml');
    assert.ok(alone.ok, JSON.stringify(alone.plan.issues));
    assert.match(
      alone.plan.issues.map((i) => i.message).join('\n'),
      /1 ELF file \(.*mods\/ext\.so\) in copied dirs has no \.interp and no loader can be inferred/,
    );
    assert.equal(existsSync(join(inst, 'image/opt/occlum/glibc/lib/libg.so')), false);
    // These warnings follow from the ELF files alone: the state keeps them, a copy from it repeats them.
    assert.match(alone.state!.note, /saved a new one/);
    const again = await run('alone.yaml');
    assert.equal(again.state?.used, true, again.state?.note);
    assert.deepEqual(again.plan.issues, alone.plan.issues);
    const withProgram = await run('app.yaml');
    assert.ok(withProgram.ok, JSON.stringify(withProgram.plan.issues));
    assert.match(
      withProgram.plan.issues.map((i) => i.message).join('\n'),
      /libraries of 1 ELF file .* found through \/lib64\/ld-linux-x86-64\.so\.2, the loader of the programs/,
    );
    assert.ok(statSync(join(inst, 'image/opt/occlum/glibc/lib/libg.so')).isFile());
    const fromState = await run('app.yaml');
    assert.equal(fromState.state?.used, true, fromState.state?.note);
    assert.deepEqual(fromState.plan.issues, withProgram.plan.issues);
    // A warning the state cannot follow (a library missing from the machine and the image: one
    // appearing later must be copied) still keeps a plan from being saved.
    rmSync(join(ws, 'deps/libg.so'));
    rmSync(join(inst, 'image/opt/occlum/glibc/lib/libg.so'));
    const missing = await run('app.yaml');
    assert.match(missing.state!.note, /none saved/);
    assert.ok(missing.plan.issues.some((i) => /^libg\.so is needed by .*ext\.so/.test(i.message)));
  });

  test('a musl program: the loader lands at its .interp path', { skip: !musl && 'needs musl-tools' }, async () => {
    const { ws, inst } = workspace({ 'hello.c': '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' });
    assert.equal(spawnSync('musl-gcc', ['-fPIE', '-pie', '-o', 'hello', 'hello.c'], { cwd: ws }).status, 0);
    writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /bin\n    copy:\n      - files: [../hello]\n');
    const r = await runBomCopy({
      file: '../app.yaml',
      root: 'image',
      cwd: inst,
      includeDirs: [],
      env: {},
      loaderConfig: config,
    });
    assert.ok(r.ok, JSON.stringify(r.plan.issues));
    assert.deepEqual(
      r.plan.libraries[0]!.libs.map((l) => l.inner),
      ['/lib/ld-musl-x86_64.so.1'],
    );
    assert.ok(statSync(join(inst, 'image/lib/ld-musl-x86_64.so.1')).isFile());
  });
});

test('applyPlan refuses to write through a planned symlink', async () => {
  const { inst } = workspace({
    f: 'x',
    'app.yaml': 'targets:\n  - target: /lib64\n    copy:\n      - files: [../f]\n',
  });
  const plan = await planBom({
    file: '../app.yaml',
    root: 'image',
    cwd: inst,
    includeDirs: [],
    env: {},
    loaderConfig: null,
  });
  // The plan refuses a link where a directory is made (copy_bom's ln -s fails there); applyPlan
  // must hold on its own against such a plan: the link replaces /lib64, the file goes below it.
  assert.deepEqual(errors(plan.issues), []);
  const dir = plan.entries.findIndex((e) => e.inner === '/lib64');
  plan.entries.splice(dir + 1, 0, { kind: 'link', inner: '/lib64', target: '/tmp', why: 'createlink' });
  const r = await applyPlan(plan, { dryRun: false });
  assert.match(errors(r.issues)[0]!.message, /planned as a symlink/);
  assert.equal(existsSync('/tmp/f') && readFileSync('/tmp/f', 'utf8') === 'x', false);
});
