// Instance layout: init/new create Occlum 0.31's layout atomically, with Occlum's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initInstance, newInstance, InstanceError, findHostMusl } from '../../src/core/instance/init.ts';
import { occlumJsonTemplateText } from '../../src/core/instance/template.ts';
import { readStatusFile, writeStatusFile } from '../../src/core/instance/status.ts';
import { findInstances } from '../../src/core/instance/discover.ts';
import { CONFIG_CORPUS, OWN_TEMPLATE, needsCorpus } from '../helpers/paths.ts';
import { runCli } from '../helpers/cli.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'occlum-inst-'));

const REAL_TEMPLATE = join(CONFIG_CORPUS, 'occlum', 'etc__template__Occlum.json');

test(
  'the embedded template is byte-identical to Occlum 0.31.0 etc/template/Occlum.json',
  { skip: needsCorpus(REAL_TEMPLATE) },
  () => {
    assert.equal(occlumJsonTemplateText(), readFileSync(REAL_TEMPLATE, 'utf8'));
  },
);

test("fixtures/config/template-0.31.0.json is the embedded template (tests use it as Occlum's)", () => {
  assert.equal(readFileSync(OWN_TEMPLATE, 'utf8'), occlumJsonTemplateText());
});

test('new creates the 0.31 layout with status "initialized"', () => {
  const dir = join(tmp(), 'inst');
  const r = newInstance(dir);
  assert.equal(r.dir, dir);
  assert.equal(readStatusFile(dir), 'initialized');
  assert.equal(statSync(join(dir, 'Occlum.json')).mode & 0o777, 0o644);
  for (const d of ['bin', 'lib', 'lib64', 'root', 'host', 'tmp', 'dev', 'proc', 'etc', 'sbin', 'ext2']) {
    assert.ok(statSync(join(dir, 'image', d)).isDirectory(), `image/${d}`);
  }
  assert.equal(readFileSync(join(dir, 'image/etc/hosts'), 'utf8'), '127.0.0.1   localhost\n');
  assert.ok(existsSync(join(dir, 'initfs/etc/hosts')));
  if (existsSync('/etc/localtime')) assert.ok(existsSync(join(dir, 'image/etc/localtime')));
  if (findHostMusl()) {
    assert.ok(existsSync(join(dir, 'image/lib/ld-musl-x86_64.so.1')));
    assert.ok(existsSync(join(dir, 'image/lib/libc.so')));
  }
  // nothing left behind next to the target
  assert.deepEqual(readdirSync(join(dir, '..')), ['inst']);
});

test("new refuses an existing destination and a missing path with Occlum's wording", () => {
  const dir = tmp();
  assert.throws(
    () => newInstance(dir),
    (e: unknown) => e instanceof InstanceError && /destination ".*" already exists/.test(e.message),
  );
  assert.throws(
    () => newInstance(undefined),
    (e: unknown) => e instanceof InstanceError && /target directory is not set/.test(e.message),
  );
});

test('init works in a directory with other files, keeps them, and refuses a second init', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'Makefile'), 'all:\n');
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'image', 'bin', 'app'), 'mine');
  initInstance(dir);
  assert.equal(readFileSync(join(dir, 'Makefile'), 'utf8'), 'all:\n');
  assert.equal(readFileSync(join(dir, 'image/bin/app'), 'utf8'), 'mine');
  assert.ok(existsSync(join(dir, 'image/etc/hosts')));
  assert.equal(readStatusFile(dir), 'initialized');
  assert.ok(!readdirSync(dir).some((n) => n.startsWith('.occlum-init-')));
  assert.throws(() => initInstance(dir), /has been initialized as an Occlum instance/);
});

test('status file round-trips and discovery finds instances', () => {
  const root = tmp();
  newInstance(join(root, 'a'));
  newInstance(join(root, 'sub', 'b'));
  writeStatusFile(join(root, 'a'), 'built');
  const found = findInstances(root).map((f) => [f.dir.slice(root.length + 1), f.status]);
  assert.deepEqual(found, [
    ['a', 'built'],
    ['sub/b', 'initialized'],
  ]);
});

test('CLI: new and init print results, refuse with exit 2 (nothing done), --json', () => {
  const root = tmp();
  const r = runCli(['new', join(root, 'x'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).ok, true);
  const again = runCli(['new', join(root, 'x')]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /destination ".*x" already exists/);
  const missing = runCli(['new']);
  assert.equal(missing.status, 2);
  const init2 = runCli(['init'], { cwd: join(root, 'x') });
  assert.equal(init2.status, 2);
  assert.match(init2.stderr, /has been initialized as an Occlum instance/);
  const init1 = runCli(['init', join(root, 'y')]);
  assert.equal(init1.status, 0, init1.stderr);
  assert.match(init1.stdout, /Initialized an Occlum instance/);
  // The next step, with the instance's own paths: fill image/ (a bom copy), then open the workbench.
  const next = `occlum-studio bom copy -f app.yaml --root ${join(root, 'y', 'image')}; then open the workbench: occlum-studio ${join(root, 'y')}\n`;
  assert.ok(init1.stdout.endsWith(next), init1.stdout);
  assert.doesNotMatch(r.stdout, /next:/, '--json prints only JSON');
});
