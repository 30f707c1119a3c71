// Pure parts of the dev loop: globs, scope (watched / ignored), settings validation, change-set
// merging and failure causes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGlob, exactFile } from '../../src/core/watch/glob.ts';
import { isEditorTemp, WatchScope } from '../../src/core/watch/scope.ts';
import { loadSettings, parseSettings, SettingsError, DEFAULT_SETTINGS } from '../../src/core/watch/settings.ts';
import { ChangeAccumulator, mergeChangeSets, mergeKind } from '../../src/core/watch/changeset.ts';
import { causeFromOutput, explainFailure } from '../../src/core/watch/causes.ts';
import { LOG_SAMPLES, needsCorpus } from '../helpers/paths.ts';

test('glob: static base and matching', () => {
  const g = compileGlob('src/**/*.c', '/inst');
  assert.equal(g.base, '/inst/src');
  assert.ok(g.matches('/inst/src/a.c'));
  assert.ok(g.matches('/inst/src/x/y/a.c'));
  assert.ok(!g.matches('/inst/src/a.h'));
  assert.ok(!g.matches('/inst/srcx/a.c'));
  const h = compileGlob('../app/{main,util}.[ch]', '/w/inst');
  assert.equal(h.base, '/w/app');
  assert.ok(h.matches('/w/app/main.c') && h.matches('/w/app/util.h'));
  assert.ok(!h.matches('/w/app/other.c'));
  assert.ok(compileGlob('Makefile', '/inst').matches('/inst/Makefile'));
  assert.ok(compileGlob('lib/**', '/inst').matches('/inst/lib/a/b'));
  assert.throws(() => compileGlob('src/[ab.c', '/'), /without a closing/);
});

test('scope: image, initfs, config, settings and sources count; build/, run/ and temp files do not', () => {
  const scope = new WatchScope('/inst', [compileGlob('src/**/*.c', '/inst'), compileGlob('../lib/*.c', '/inst')]);
  assert.equal(scope.classify('/inst/image/bin/app'), 'image');
  assert.equal(scope.classify('/inst/initfs/etc/hosts'), 'initfs');
  assert.equal(scope.classify('/inst/Occlum.json'), 'config');
  assert.equal(scope.classify('/inst/.occlum-studio.json'), 'settings');
  assert.equal(scope.classify('/inst/src/m/a.c'), 'source');
  assert.equal(scope.classify('/lib/x.c'), 'source');
  assert.equal(scope.classify('/inst/src/a.o'), null);
  assert.equal(scope.classify('/inst/build/mount/__ROOT/metadata'), null);
  assert.equal(scope.classify('/inst/run/mount/__ROOT/x'), null);
  assert.equal(scope.classify('/inst/README.md'), null);
  for (const name of [
    '.app.c.swp',
    '.x.swo',
    '4913',
    'app.c~',
    '.#app.c',
    '#app.c#',
    '.Occlum.json.tmp-123-1700000000000',
  ]) {
    assert.ok(isEditorTemp(name), name);
    assert.equal(scope.classify(`/inst/image/bin/${name}`), null, name);
  }
  assert.ok(!isEditorTemp('app.c') && !isEditorTemp('swap') && !isEditorTemp('#x'));
  assert.deepEqual(scope.roots(), ['/inst', '/lib']);
  // chokidar's ignore: prunes build/ and unrelated dirs, keeps directories leading to sources.
  assert.equal(scope.ignored('/inst/build'), true);
  assert.equal(scope.ignored('/inst/docs', { isDirectory: () => true } as never), true);
  assert.equal(scope.ignored('/inst/src', { isDirectory: () => true } as never), false);
  assert.equal(scope.ignored('/inst/src/sub', { isDirectory: () => true } as never), false);
  assert.equal(scope.ignored('/inst/src/a.o', { isDirectory: () => false } as never), true);
  assert.equal(scope.ignored('/inst/image/x.bin', { isDirectory: () => false } as never), false);
});

test("scope: a bom's file next to the instance watches its directory, not the trees beside it", () => {
  // The layout of a bom in the project dir: /w/app.yaml copies /w/src/app.py into /w/inst/image.
  const root = mkdtempSync(join(tmpdir(), 'watch-scope-'));
  try {
    const inst = join(root, 'inst');
    for (let i = 0; i < 30; i++) mkdirSync(join(inst, 'image', `d${i}`), { recursive: true });
    for (let i = 0; i < 30; i++) mkdirSync(join(root, 'other', `d${i}`), { recursive: true });
    mkdirSync(join(root, 'src', 'sub'), { recursive: true });
    const sources = [exactFile(join(root, 'app.yaml')), exactFile(join(root, 'src', 'app.py'))];
    const scope = new WatchScope(inst, sources);
    const dir = { isDirectory: () => true } as never;
    assert.equal(scope.ignored(join(root, 'other'), dir), true, 'a sibling tree holds no source');
    assert.equal(scope.ignored(join(root, 'src'), dir), false, 'on the way to src/app.py');
    assert.equal(scope.ignored(join(root, 'src', 'sub'), dir), true, "below the file's directory");
    assert.equal(scope.classify(join(root, 'src', 'app.py')), 'source');
    // Neither the instance (image/ may be huge) nor the pruned trees count against the cap.
    assert.doesNotThrow(() => scope.checkSize(5));
    const wide = new WatchScope(inst, [compileGlob('../**/*.py', inst)]);
    assert.throws(() => wide.checkSize(5), /reach more than 5 directories below/);
    // A glob reaches as deep as its segments: src/*/x.c holds matches one level down, no further.
    const g = compileGlob('src/*/x.c', '/inst');
    assert.equal(g.depth, 2);
    const s = new WatchScope('/inst', [g]);
    assert.equal(s.ignored('/inst/src/a', dir), false);
    assert.equal(s.ignored('/inst/src/a/b', dir), true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('settings: defaults without a file, full shape with comments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'watch-settings-'));
  try {
    assert.deepEqual(loadSettings(dir).settings, DEFAULT_SETTINGS);
    writeFileSync(
      join(dir, '.occlum-studio.json'),
      '{\n  // build the app first\n  "prebuild": "make",\n  "watch": ["src/**/*.c"],\n  "autoBuild": false,\n  "autoRerun": true,\n  "debounceMs": 60,\n}\n',
    );
    const loaded = loadSettings(dir);
    assert.deepEqual(loaded.settings, {
      prebuild: 'make',
      watch: ['src/**/*.c'],
      autoBuild: false,
      autoRerun: true,
      debounceMs: 60,
      occlumVersion: null,
      bom: [],
      bomIncludeDirs: [],
      keepRun: false,
    });
    assert.equal(loaded.sources[0]!.base, join(dir, 'src'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('settings: malformed files give file:line:col, what and how to fix', () => {
  const bad = (text: string, re: RegExp) => {
    assert.throws(
      () => parseSettings(text, 'S.json'),
      (err: unknown) => {
        assert.ok(err instanceof SettingsError);
        assert.match(err.message, re);
        assert.match(err.message, /^S\.json:\d+:\d+: /);
        return true;
      },
    );
  };
  bad('{ "prebuild": "make", ', /not valid JSON/);
  bad('[1]', /must be a JSON object/);
  bad('{\n "autorerun": true }', /S\.json:2:2: unknown key "autorerun"; did you mean "autoRerun"\?/);
  bad('{ "autoBuild": "yes" }', /"autoBuild" must be true or false, not the string "yes"/);
  bad('{ "watch": "src/*.c", "prebuild": "make" }', /"watch" must be an array of glob strings/);
  bad('{ "watch": [3], "prebuild": "make" }', /each "watch" entry must be a non-empty glob string/);
  bad('{ "watch": ["src/[a.c"], "prebuild": "make" }', /without a closing "\]"/);
  bad('{ "debounceMs": 2.5 }', /integer number of milliseconds, 10\.\.10000/);
  bad('{ "debounceMs": 0 }', /integer number of milliseconds/);
  bad('{ "prebuild": "" }', /"prebuild" must be a shell command string/);
  bad('{ "watch": ["src/*.c"] }', /no "prebuild" command/);
  bad('{ "bom": "../app.yaml" }', /"bom" must be an array of bom files/);
  bad('{ "keepRun": "yes" }', /"keepRun" must be true or false/);
  bad('{ "autoBuild": true, "autoBuild": false }', /duplicate key "autoBuild"/);
});

test('change sets: net effect per path, merged across sets', () => {
  assert.equal(mergeKind('added', 'changed'), 'added');
  assert.equal(mergeKind('added', 'removed'), 'removed');
  assert.equal(mergeKind('removed', 'added'), 'changed');
  assert.equal(mergeKind('changed', 'removed'), 'removed');
  const acc = new ChangeAccumulator();
  acc.add('/i/image/a', 'image/a', 'image', 'add', 1);
  acc.add('/i/image/a', 'image/a', 'image', 'change', 2);
  acc.add('/i/image/d', 'image/d', 'image', 'addDir', 3);
  acc.add('/i/Occlum.json', 'Occlum.json', 'config', 'change', 4);
  const s1 = acc.take()!;
  assert.equal(acc.take(), null);
  assert.deepEqual(
    s1.entries.map((e) => [e.rel, e.kind, e.isDir]),
    [
      ['Occlum.json', 'changed', false],
      ['image/a', 'added', false],
      ['image/d', 'added', true],
    ],
  );
  assert.equal(s1.events, 4);
  acc.add('/i/image/a', 'image/a', 'image', 'unlink', 5);
  const merged = mergeChangeSets([s1, acc.take()!])!;
  assert.equal(merged.entries.find((e) => e.rel === 'image/a')!.kind, 'removed');
  assert.equal(merged.events, 5);
  assert.equal(merged.firstEventAt, 1);
  assert.equal(merged.lastEventAt, 5);
});

test('causes: build-time messages (spec 2.6) map to config paths', () => {
  const c = (line: string) => causeFromOutput(['Building new image...', line, 'make: *** Error 2']);
  assert.deepEqual(c('init_num_of_threads: Some(64), max_num_of_threads: 32, wrong configuration')?.configPath, [
    'resource_limits',
    'init_num_of_threads',
  ]);
  assert.deepEqual(c('The kernel_space_heap_size "32XB" is not correct.')?.configPath, [
    'resource_limits',
    'kernel_space_heap_size',
  ]);
  assert.deepEqual(c('The user_space_size "1" is not correct.')?.configPath, ['resource_limits', 'user_space_size']);
  assert.deepEqual(c('user_space_size: "2GB", user_space_max_size: Some("1GB"), wrong configuration')?.configPath, [
    'resource_limits',
    'user_space_size',
  ]);
  assert.deepEqual(c('The disk_size must be specified for Ext2.')?.configPath, ['mount']);
  assert.deepEqual(c('Mount configuration invalid: Err("bad target")')?.configPath, ['mount']);
  assert.deepEqual(
    c(
      "thread 'main' panicked at 'It is not a valid Occlum configuration file.: Error(\"missing field `feature`\", line: 58, column: 1)', src/main.rs:12:5",
    )?.configPath,
    ['feature'],
  );
  const syntax = c(
    "thread 'main' panicked at 'It is not a valid Occlum configuration file.: Error(\"trailing comma\", line: 3, column: 5)', src/main.rs:1:1",
  );
  assert.match(syntax!.message, /line 3, column 5: trailing comma/);
  assert.deepEqual(c('The value of "ProdID" is out of range.')?.configPath, ['metadata', 'product_id']);
  assert.deepEqual(c('Maximum number of TCS is not correct.')?.configPath, ['resource_limits', 'max_num_of_threads']);
  assert.equal(causeFromOutput(['all fine']), null);
  const fallback = explainFailure(['step 1', 'sgx_sign: Error happened while signing the enclave.', 'done'], undefined);
  assert.match(fallback.message, /Error happened while signing/);
});

test(
  'causes: runtime messages (spec 3.3) in the real log samples map to config paths',
  { skip: needsCorpus(LOG_SAMPLES) },
  () => {
    const lines = readFileSync(join(LOG_SAMPLES, 'occlum-log-samples.txt'), 'utf8').split('\n');
    const find = (re: RegExp) => lines.find((l) => re.test(l)) ?? assert.fail(`no sample line matches ${re}`);
    assert.deepEqual(causeFromOutput([find(/NOT a valid entry point/)])?.configPath, ['entry_points']);
    assert.deepEqual(causeFromOutput([find(/failed to create process VM/)])?.configPath, [
      'resource_limits',
      'user_space_size',
    ]);
    assert.deepEqual(causeFromOutput(['[ERROR] New brk address is too high'])?.configPath, [
      'process',
      'default_heap_size',
    ]);
    assert.deepEqual(
      causeFromOutput([
        'Failed to enter the enclave to execute a LibOS thread for host thread 7: error code 0x1003: Out of TCS.',
      ])?.configPath,
      ['resource_limits', 'max_num_of_threads'],
    );
    assert.deepEqual(causeFromOutput(['memory allocation of 1048576 bytes failed'])?.configPath, [
      'resource_limits',
      'kernel_space_heap_size',
    ]);
  },
);
