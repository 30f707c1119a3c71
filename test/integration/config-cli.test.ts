// `occlum-studio check` and `schema` through the built binary: exit codes and output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.ts';
import { CLI, CONFIG_CORPUS, OWN_TEMPLATE, needsCorpus } from '../helpers/paths.ts';

const TEMPLATE = OWN_TEMPLATE;
const V030 = join(CONFIG_CORPUS, 'occlum-history', 'v0.30.0__etc__template__Occlum.json');

function instance(text: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-cli-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), text);
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
  return dir;
}

test('check: a clean config exits 0 with a summary line', () => {
  const r = runCli(['check', TEMPLATE]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 0 errors, 0 warnings, 0 notes \(Occlum 0\.31\.0 rules, detected: /);
});

test('check: errors print file:line:col: severity: message with the fix, exit 1', () => {
  const text = readFileSync(TEMPLATE, 'utf8').replace('"300MB"', '"300mb"');
  const dir = instance(text);
  const r = runCli(['check', dir]);
  assert.equal(r.status, 1);
  assert.match(
    r.stdout,
    /Occlum\.json:5:28: error: "300mb" is not a valid size for resource_limits\.user_space_size: .*The user_space_size "300mb" is not correct\./,
  );
  assert.match(r.stdout, /\n {4}fix available: Change to "300MB"\n/);
  assert.match(r.stdout, /1 error, 0 warnings/);
});

test('check: warnings pass, but fail with --strict', () => {
  const text = readFileSync(TEMPLATE, 'utf8').replace(
    '"kernel_space_heap_size": "32MB",',
    '"kernel_space_heap_size": "32MB",\n        "kernel_space_heap_max_sizes": "64MB",',
  );
  const dir = instance(text);
  const r = runCli(['check', dir]);
  assert.equal(r.status, 0, r.stdout);
  assert.match(
    r.stdout,
    /warning: unknown key "kernel_space_heap_max_sizes" in resource_limits: Occlum silently ignores it; did you mean "kernel_space_heap_max_size"\?/,
  );
  assert.equal(runCli(['check', '--strict', dir]).status, 1);
});

test(
  'check: version from --occlum-version, then .occlum-studio.json, else detected',
  { skip: needsCorpus(V030) },
  () => {
    // A 0.30.0 template is valid for 0.30.0 (detected) but not for 0.31.0.
    assert.equal(runCli(['check', V030]).status, 0);
    const r = runCli(['check', '--occlum-version', '0.31.0', V030]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error: missing field `feature`/);
    assert.match(r.stdout, /fix available: Add the `feature` section/);
    const dir = instance(readFileSync(V030, 'utf8'), { '.occlum-studio.json': '{"occlumVersion": "0.31"}' });
    assert.equal(runCli(['check', dir]).status, 1);
    const bad = instance(readFileSync(V030, 'utf8'), { '.occlum-studio.json': '{"occlumVersion": 31}' });
    const rb = runCli(['check', bad]);
    assert.equal(rb.status, 0);
    assert.match(rb.stderr, /occlumVersion must be a string/);
  },
);

test('check --json prints the diagnostics as data', { skip: needsCorpus(V030) }, () => {
  const r = runCli(['check', '--json', '--occlum-version', '0.31', V030]);
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.version, '0.31.0');
  assert.equal(out.explicitVersion, true);
  const d = out.diagnostics.find((x: { code: string }) => x.code === 'missing-key');
  assert.deepEqual(d.path, ['feature']);
  assert.ok(d.line >= 1 && d.fix.edits.length === 1);
});

test('check: usage errors exit 2 with a clear message', () => {
  const bad = runCli(['check', '--occlum-version', '2.0', TEMPLATE]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no rules for Occlum 2\.0/);
  const missing = runCli(['check', '/nonexistent/Occlum.json']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no such file or directory/);
  const empty = mkdtempSync(join(tmpdir(), 'cfg-cli-empty-'));
  copyFileSync(TEMPLATE, join(empty, 'occlum.json'));
  const r = runCli(['check', empty]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no Occlum\.json in this directory \(there is an occlum\.json/);
  assert.equal(runCli(['check', '--bogus', TEMPLATE]).status, 2);
});

test('check: comments are reported as the serde error, the file is still checked', () => {
  const text = readFileSync(TEMPLATE, 'utf8').replace('"process": {', '// tuned for java\n    "process": {');
  const r = runCli(['check', instance(text)]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /Occlum\.json:8:5: error: key must be a string: JSON does not allow comments/);
  assert.match(r.stdout, /fix available: Remove the comment/);
});

test('schema prints a draft 2020-12 JSON Schema for a version', () => {
  const r = runCli(['schema']);
  assert.equal(r.status, 0);
  const s = JSON.parse(r.stdout);
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.ok(s.required.includes('feature'));
  assert.ok(s.properties.feature.properties.io_uring);
  assert.match(s.properties.resource_limits.properties.kernel_space_heap_size.description, /kernel heap/);
  const old = JSON.parse(runCli(['schema', '--occlum-version', '0.29']).stdout);
  assert.equal(old.properties.feature, undefined);
  assert.ok(old.properties.metadata.required.includes('enable_kss'));
  assert.equal(runCli(['schema', '--occlum-version', 'x']).status, 2);
});

test('check --occlum-version applies the rules of that patch release: env as a map is right in 0.12.1, wrong in 0.12.0', () => {
  // Written here in the shape of Occlum 0.12.1's template: env became {default, untrusted} in 0.12.1.
  const text = JSON.stringify({
    vm: { user_space_size: '256MB' },
    process: { default_stack_size: '4MB', default_heap_size: '32MB', default_mmap_size: '80MB' },
    env: { default: ['OCCLUM=yes'], untrusted: ['EXAMPLE'] },
    entry_points: ['/bin'],
    mount: [
      { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
      { target: '/tmp', type: 'ramfs' },
    ],
  });
  const dir = instance(text);
  for (const v of ['0.12.1', '0.12.2']) {
    const r = runCli(['check', dir, '--occlum-version', v]);
    assert.equal(r.status, 0, `${v}: ${r.stdout}`);
    assert.match(r.stdout, /0 errors.*\(Occlum 0\.12\.1 rules\)/);
  }
  const old = runCli(['check', dir, '--occlum-version', '0.12.0']);
  assert.equal(old.status, 1);
  assert.match(old.stdout, /error: invalid type: map, expected a sequence for env/);
});

test('check DIR of the 1.0 preview / NGO reads its Occlum.yaml and says whose rules it applied', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-cli-yaml-'));
  // Hand-written in the preview's shape, with one lower-case unit.
  const yaml = [
    'resource_limits:',
    '  num_of_cpus: 2',
    '  kernel_space_stack_size: 1mb',
    '  kernel_space_heap_size: {init: 32MB, max: 64MB}',
    '  user_space_size: {init: 64MB, max: 1GB}',
    'process: {default_stack_size: 4MB, default_heap_size: 8MB}',
    'entry_points: [/bin]',
    'env: {default: [OCCLUM=yes], untrusted: []}',
    'metadata: {product_id: 0, version_number: 0, debuggable: true, enable_kss: false,',
    "  ext_prod_id: {high: '0x0', low: '0x0'}, pkru: 0}",
    'mount:',
    '  - {target: /, type: unionfs, options: {layers: [',
    "      {target: /, type: sefs, source: ./build/mount/__ROOT, options: {MAC: ''}},",
    '      {target: /, type: sefs, source: ./run/mount/__ROOT}]}}',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'Occlum.yaml'), yaml);
  const r = runCli(['check', dir]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /Occlum\.yaml:3:28: error: "1mb" is not a valid size .*write "1MB" \[size-unit\]/);
  assert.match(r.stdout, /1 error, 0 warnings, 0 notes \(NGO \/ 1\.0-preview rules/);
  const j = JSON.parse(runCli(['check', dir, '--json']).stdout);
  assert.equal(j.family, 'ngo');
  assert.equal(j.version, 'ngo');
});

test('check --json escapes C1 controls and bidi overrides from the config (JSON stays equal)', () => {
  const text = readFileSync(TEMPLATE, 'utf8').replace('{', '{\n    "evil\\u009b31m\\u202e": 1,');
  const dir = instance(text);
  const r = runCli(['check', dir, '--json']);
  assert.doesNotMatch(r.stdout, /[\u0080-\u009f\u202a-\u202e]/);
  assert.match(r.stdout, /evil\\u009b31m\\u202e/);
  const j = JSON.parse(r.stdout);
  assert.ok(j.diagnostics.some((d: { path: string[] }) => d.path[0] === 'evil\u009b31m\u202e'));
  const human = runCli(['check', dir]);
  assert.doesNotMatch(human.stdout, /[\u0080-\u009f\u202a-\u202e]/);
});

test('build on the host backend refuses an NGO config with what it is and what to do, building nothing', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'cfg-cli-ngo-')), 'inst');
  assert.equal(runCli(['new', dir]).status, 0);
  const cfg = JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8'));
  delete cfg.resource_limits.max_num_of_threads;
  delete cfg.feature;
  Object.assign(cfg.resource_limits, { min_num_of_cpus: 1, max_num_of_cpus: 4 });
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(cfg, null, 4));
  const r = runCli(['build', '-C', dir, '--backend', 'host']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /min_num_of_cpus \(NGO \/ 1\.0 preview\).*host backend builds configs of released Occlum/);
  assert.equal(existsSync(join(dir, 'build')), false);
});

test('check … | head ends quietly with exit 0 when the reader goes away', () => {
  // Enough findings to fill the pipe after head has gone: 5000 unknown keys.
  const cfg = JSON.parse(readFileSync(TEMPLATE, 'utf8'));
  for (let i = 0; i < 5000; i++) cfg[`unknown_key_${i}`] = i;
  const dir = instance(JSON.stringify(cfg, null, 2));
  const r = spawnSync(
    'bash',
    ['-c', `"${process.execPath}" "${CLI}" check "${dir}" | head -n 1; echo "\${PIPESTATUS[0]}"`],
    {
      encoding: 'utf8',
    },
  );
  const out = r.stdout.trim().split('\n');
  assert.match(out[0]!, /unknown key "unknown_key_0"/);
  assert.equal(out[1], '0', r.stderr);
  assert.equal(r.stderr, '');
});

test('build prints a bad Occlum.json the way check does: the same lines, one formatter', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'cfg-cli-')), 'inst');
  assert.equal(runCli(['new', dir]).status, 0);
  const file = join(dir, 'Occlum.json');
  const bad = readFileSync(file, 'utf8')
    .replace('"300MB"', '"300mb"')
    .replace('"max_num_of_threads": 32', '"max_num_of_threads": "x"');
  writeFileSync(file, bad);
  const check = runCli(['check'], { cwd: dir });
  const build = runCli(['build', '--backend', 'host'], { cwd: dir });
  assert.equal(check.status, 1, check.stderr);
  assert.equal(build.status, 1, build.stderr);
  const diag = (out: string) => out.split('\n').filter((l) => /^Occlum\.json:\d+:\d+: |^ {4}fix available: /.test(l));
  const lines = diag(check.stdout);
  assert.equal(lines.length, 3, check.stdout);
  assert.match(lines[0]!, /^Occlum\.json:5:28: error: "300mb" is not a valid size .*\[size-unit\]$/);
  assert.deepEqual(diag(build.stderr), lines);
  assert.match(build.stderr, /^error: Occlum\.json has 2 errors: the build needs none$/m);
});
