// Individual rules on small configs derived from the current template: each problem is reported
// with Occlum's wording, located, and its fix (where mechanical) repairs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOps,
  applyTextEdits,
  checkConfig,
  detectVersion,
  parseConfig,
  parseSize,
  resolveVersion,
  suggestSize,
  type CheckOptions,
  type Diagnostic,
  type EditOp,
} from '../../src/core/config/index.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

const TEMPLATE = readFileSync(OWN_TEMPLATE, 'utf8');
const V31 = { version: '0.31.0' } as const satisfies CheckOptions;

function variant(ops: EditOp[]): string {
  return applyOps(TEMPLATE, ops);
}

function find(text: string, code: string, opts: CheckOptions = V31): Diagnostic {
  const r = checkConfig(text, opts);
  const d = r.diagnostics.find((x) => x.code === code);
  assert.ok(d, `no ${code} in:\n${r.diagnostics.map((x) => `${x.code}: ${x.message}`).join('\n')}`);
  return d;
}

function fixed(text: string, d: Diagnostic): string {
  assert.ok(d.fix, `no fix for ${d.message}`);
  return applyTextEdits(text, d.fix.edits);
}

const errors = (text: string, opts: CheckOptions = V31) =>
  checkConfig(text, opts).diagnostics.filter((d) => d.severity === 'error');

test('the 0.31 template is clean', () => {
  assert.deepEqual(checkConfig(TEMPLATE, V31).diagnostics, []);
});

test('size strings follow parse_memory_size', () => {
  assert.deepEqual(parseSize('32MB'), { ok: true, bytes: 32 * 1024 ** 2, unit: 'MB' });
  assert.equal(parseSize(' 256 MB ').ok, true);
  assert.equal(parseSize('4096B').ok, true);
  for (const bad of ['256mb', '1.5GB', '32M', '32', '32KiB', 'MB', '-1MB']) assert.equal(parseSize(bad).ok, false, bad);
  assert.equal(suggestSize('256mb'), '256MB');
  assert.equal(suggestSize('1.5GB'), '1536MB');
  assert.equal(suggestSize('32M'), '32MB');
});

test('lower-case unit: located error with Occlum message and a unit-case fix', () => {
  const text = variant([{ kind: 'set', path: ['resource_limits', 'user_space_size'], value: '300mb' }]);
  const d = find(text, 'size-unit');
  assert.equal(d.severity, 'error');
  assert.deepEqual(d.path, ['resource_limits', 'user_space_size']);
  assert.equal(d.line, 5);
  assert.match(d.message, /The user_space_size "300mb" is not correct\./);
  assert.deepEqual(errors(fixed(text, d)), []);
});

test('page alignment and kernel stack minimum (sgx_sign messages), with rounding fix', () => {
  const text = variant([{ kind: 'set', path: ['resource_limits', 'kernel_space_heap_size'], value: '1001KB' }]);
  const d = find(text, 'size-align');
  assert.match(d.message, /Heap size setting is not correct: size is not page aligned\./);
  assert.equal(d.fix?.title, 'Round up to "1004KB"');
  assert.deepEqual(errors(fixed(text, d)), []);
  const small = variant([{ kind: 'set', path: ['resource_limits', 'kernel_space_stack_size'], value: '4KB' }]);
  assert.match(find(small, 'size-min').message, /Stack size setting is not correct\./);
  const dec = variant([{ kind: 'set', path: ['process', 'default_heap_size'], value: '1.5GB' }]);
  const dd = find(dec, 'size-number');
  assert.match(dd.message, /No number/);
  assert.match(dd.message, /must be a whole number/);
  assert.deepEqual(errors(fixed(dec, dd)), []);
});

test('a wrong unit that ends in B is named as the unit, not as a bad number', () => {
  for (const [value, unit, fix] of [
    ['300XB', 'XB', null],
    ['64kB', 'kB', 'Change to "64KB"'],
  ] as const) {
    const text = variant([{ kind: 'set', path: ['resource_limits', 'user_space_size'], value }]);
    const d = find(text, 'size-number');
    assert.match(
      d.message,
      new RegExp(`: "${unit}" is not a unit: a size ends with KB, MB, GB, TB or B \\(upper case\\);`),
    );
    assert.doesNotMatch(d.message, /whole number/);
    assert.equal(d.fix?.title ?? null, fix);
  }
});

test('ranges: product_id, version_number, amx/pkru, io_uring, threads', () => {
  const cases: [JsonPathLike, unknown, RegExp][] = [
    [['metadata', 'product_id'], 65536, /"ProdID" is out of range/],
    [['metadata', 'version_number'], 70000, /"ISVSVN" is out of range/],
    [['feature', 'amx'], 3, /out of range 0\.\.2/],
    [['feature', 'pkru'], 5, /out of range 0\.\.2/],
    [['feature', 'io_uring'], 17, /io_uring limit must not exceed 16/],
    [['resource_limits', 'max_num_of_threads'], 0, /at least 1/],
    [['metadata', 'product_id'], -1, /invalid value: integer `-1`, expected u32/],
    [['resource_limits', 'max_num_of_threads'], 1.5, /invalid type: floating point `1.5`, expected u32/],
  ];
  for (const [path, value, re] of cases) {
    const text = variant([{ kind: 'set', path, value }]);
    const ds = errors(text);
    assert.ok(
      ds.some((d) => re.test(d.message) && d.path.join('.') === path.join('.')),
      `${path.join('.')}=${value}: ${ds.map((d) => d.message).join('; ')}`,
    );
  }
});
type JsonPathLike = (string | number)[];

test('serde type errors use serde wording and offer a conversion', () => {
  const text = variant([{ kind: 'set', path: ['resource_limits', 'max_num_of_threads'], value: '32' }]);
  const d = find(text, 'type');
  assert.match(d.message, /invalid type: string "32", expected u32/);
  assert.deepEqual(errors(fixed(text, d)), []);
  const b = variant([{ kind: 'set', path: ['metadata', 'debuggable'], value: 1 }]);
  assert.match(find(b, 'type').message, /invalid type: integer `1`, expected a boolean/);
  const n = variant([{ kind: 'set', path: ['process', 'default_heap_size'], value: 33554432 }]);
  const dn = find(n, 'type');
  assert.equal(dn.fix?.title, 'Use the size string "32MB"');
});

test('comments and trailing commas: read, but reported as the serde errors Occlum hits, with fixes', () => {
  const text = TEMPLATE.replace('"resource_limits": {', '// limits\n    "resource_limits": { /* inline */').replace(
    '"max_num_of_threads": 32',
    '"max_num_of_threads": 32,',
  );
  const r = checkConfig(text, V31);
  const comments = r.diagnostics.filter((d) => d.code === 'comment');
  assert.equal(comments.length, 2);
  assert.match(comments[0]!.message, /^key must be a string/);
  assert.equal(comments[0]!.line, 2);
  const comma = r.diagnostics.find((d) => d.code === 'trailing-comma')!;
  assert.match(comma.message, /^trailing comma/);
  // Semantic rules still ran on the tolerated text.
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 3);
  // The first one offers the whole-file fix; the others fix themselves.
  assert.equal(comments[0]!.fix?.title, 'Make it strict JSON: remove 2 comments and 1 trailing comma');
  const out = applyTextEdits(text, comments[0]!.fix!.edits);
  assert.deepEqual(checkConfig(out, V31).diagnostics, []);
  JSON.parse(out);
  let one = text;
  for (const d of [...r.diagnostics].reverse().slice(0, -1)) if (d.fix) one = applyTextEdits(one, d.fix.edits);
  assert.equal(checkConfig(one, V31).counts.error, 1);
});

test('YAML (Occlum.yaml of the 1.0 preview) is recognised; its mount options are named as such', () => {
  const yaml = '# All the settings below\nresource_limits:\n  num_of_cpus: 128\n';
  assert.equal(checkConfig(yaml).family, 'ngo');
  assert.match(parseConfig(yaml).syntax[0]!.message, /looks like YAML/);
  const text = variant([{ kind: 'set', path: ['mount', 1, 'options'], value: { autokey_policy: 1 } }]);
  assert.match(find(text, 'unknown-key').message, /1\.0 preview/);
});

test('a byte-order mark is reported with a fix; the rest is still checked', () => {
  const text = '\ufeff' + TEMPLATE;
  const r = checkConfig(text, V31);
  assert.deepEqual(
    r.diagnostics.map((d) => d.code),
    ['bom'],
  );
  assert.equal(fixed(text, r.diagnostics[0]!), TEMPLATE);
});

test('malformed JSON is a located diagnostic, never a throw', () => {
  for (const text of ['', '{', '{"a": }', '[1, 2', '{"a" 1}', 'null', '"str"', '{"x": "\\q"}', '{}}', '\u0000']) {
    const r = checkConfig(text);
    assert.ok(r.counts.error > 0, JSON.stringify(text));
    for (const d of r.diagnostics) assert.ok(d.line >= 1 && d.column >= 1);
  }
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.match(checkConfig(deep).diagnostics[0]!.message, /recursion limit exceeded/);
});

test('JSON written the way other languages do: one located error saying what to write, with a fix', () => {
  // [template text, what a user wrote instead, the token the error points at, the message]
  const cases: [string, string, string, RegExp][] = [
    [
      '"kernel_space_heap_size"',
      'kernel_space_heap_size',
      'kernel',
      /key must be a string: .*"kernel_space_heap_size"/,
    ],
    ['"debuggable": true', '"debuggable": True', 'True', /JSON writes true, not True/],
    ['"max_num_of_threads": 32', '"max_num_of_threads": 0x20', '0x20', /no hexadecimal numbers; write 32 for 0x20/],
    ['"/bin"', '/bin', '/bin', /a path is text, written in double quotes: "\/bin"/],
    ['"OCCLUM=yes"', "'OCCLUM=yes'", "'OCCLUM", /JSON strings are written in double quotes: "OCCLUM=yes"/],
  ];
  for (const [from, to, token, want] of cases) {
    const text = TEMPLATE.replace(from, to);
    const r = checkConfig(text, V31);
    // The parser skipped text there: no echo ("missing field", "entry_points is empty", "at least 1").
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.code),
      ['syntax'],
      `${to}: ${r.diagnostics.map((d) => d.message).join(' | ')}`,
    );
    const d = r.diagnostics.find((x) => x.code === 'syntax')!;
    assert.match(d.message, want);
    const at = text.indexOf(to) + to.indexOf(token);
    const line = text.slice(0, at).split('\n').length;
    assert.deepEqual([d.line, d.column], [line, at - text.lastIndexOf('\n', at - 1)], to);
    assert.equal(applyTextEdits(text, d.fix!.edits), TEMPLATE, to);
  }
  const nan = checkConfig(TEMPLATE.replace('"version_number": 0', '"version_number": NaN'), V31);
  assert.match(nan.diagnostics.find((x) => x.code === 'syntax')!.message, /JSON has no NaN; write a number, or null/);
  // jsonc-parser reports `{key: 1}` four times; serde once.
  assert.equal(checkConfig('{resource_limits: {}}').diagnostics.filter((x) => x.code === 'syntax').length, 1);
});

test('unknown keys warn with the nearest known key and a rename fix; duplicates of known keys are errors', () => {
  const text = TEMPLATE.replace('"kernel_space_heap_size"', '"kernel_space_heap_sizes"');
  const r = checkConfig(text, V31);
  const unknown = r.diagnostics.find((d) => d.code === 'unknown-key')!;
  assert.equal(unknown.severity, 'warning');
  assert.match(unknown.message, /did you mean "kernel_space_heap_size"/);
  assert.ok(r.diagnostics.some((d) => d.message.startsWith('missing field `kernel_space_heap_size`')));
  assert.deepEqual(checkConfig(fixed(text, unknown), V31).diagnostics, []);
  const dup = TEMPLATE.replace(
    '"max_num_of_threads": 32',
    '"max_num_of_threads": 32,\n        "max_num_of_threads": 64',
  );
  assert.match(find(dup, 'duplicate-key').message, /duplicate field `max_num_of_threads`/);
});

test('entry points and env shape', () => {
  const rel = variant([{ kind: 'set', path: ['entry_points', 0], value: 'bin' }]);
  const d = find(rel, 'entry-relative');
  assert.match(d.message, /entry point must be an absolute path/);
  assert.deepEqual(errors(fixed(rel, d)), []);
  const extra = variant([{ kind: 'set', path: ['env', 'defaults'], value: [] }]);
  assert.equal(find(extra, 'unknown-key').severity, 'error');
  const noUntrusted = variant([{ kind: 'remove', path: ['env', 'untrusted'] }]);
  const m = find(noUntrusted, 'missing-key');
  assert.match(m.message, /missing field `untrusted`/);
  assert.deepEqual(errors(fixed(noUntrusted, m)), []);
  const dupEnv = variant([{ kind: 'set', path: ['env', 'default'], value: ['A=1', 'B', 'A=2'] }]);
  const ds = checkConfig(dupEnv, V31).diagnostics;
  assert.ok(ds.some((x) => x.code === 'env-entry' && x.path.join('.') === 'env.default.1'));
  assert.ok(ds.some((x) => x.code === 'env-duplicate' && x.path.join('.') === 'env.default.2'));
});

test('mount rules: root, types, targets, sources, MAC, cache_size, ext2', () => {
  const base = JSON.parse(TEMPLATE);
  const withMounts = (extra: unknown[]) =>
    variant([{ kind: 'set', path: ['mount'], value: [...base.mount, ...extra] }]);
  const msgs = (text: string) =>
    checkConfig(text, V31)
      .diagnostics.map((d) => `${d.severity} ${d.message}`)
      .join('\n');
  assert.match(msgs(withMounts([{ target: '/data', type: 'xfs' }])), /error .*Unsupported file system type/);
  assert.match(msgs(withMounts([{ target: 'data', type: 'ramfs' }])), /error .*Target must be an absolute path/);
  assert.match(msgs(withMounts([{ target: '/data', type: 'hostfs' }])), /error .*Source is expected for HostFS/);
  assert.match(
    msgs(withMounts([{ target: '/data', type: 'sefs', source: './d', options: { MAC: 'abc' } }])),
    /error .*The length or format of MAC string is invalid/,
  );
  assert.match(
    msgs(withMounts([{ target: '/data', type: 'sefs', source: './d', options: { cache_size: '100KB' } }])),
    /error Invalid cache_size "100KB"/,
  );
  assert.match(msgs(withMounts([{ target: '/ext2', type: 'ext2' }])), /The disk_size must be specified for Ext2\./);
  assert.match(
    msgs(withMounts([{ target: '/ext2', type: 'ext2', options: { disk_size: '1GB' } }])),
    /The disk_size "1073741824" is too small, minimum size is "5368709120"\./,
  );
  assert.match(
    msgs(withMounts([{ target: '/host2', type: 'hostfs', source: '/etc' }])),
    /warning .*hostfs exposes the host's \/etc/,
  );
  assert.match(msgs(withMounts([{ target: '/host', type: 'hostfs', source: '.' }])), /warning .*already mounted/);
  assert.match(msgs(withMounts([{ target: '/proc', type: 'procfs' }])), /warning user mount \/proc duplicates/);
  // ext2 before 0.31.0 is an unsupported type
  assert.match(
    checkConfig(withMounts([{ target: '/ext2', type: 'ext2', options: { disk_size: '5GB' } }]), { version: '0.30.1' })
      .diagnostics.map((d) => d.message)
      .join('\n'),
    /ext2 mounts exist only since Occlum 0\.31\.0/,
  );
  // root problems, each with a fix that repairs it
  for (const mount of [
    [],
    [{ target: '/', type: 'sefs', source: './x' }],
    [{ target: '/', type: 'unionfs', options: { layers: [{ target: '/', type: 'sefs', source: './image' }] } }],
    [{ target: '/', type: 'unionfs' }],
  ]) {
    const text = variant([{ kind: 'set', path: ['mount'], value: mount }]);
    const d = find(text, 'mount-root');
    assert.match(d.message, /root UnionFS|image SEFS|container SEFS/);
    assert.deepEqual(errors(fixed(text, d)), [], JSON.stringify(mount));
  }
});

test('host checks with an instance dir: missing sources and mount points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-inst-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  const text = variant([
    { kind: 'insert', path: ['mount', 2], value: { target: '/data', type: 'hostfs', source: './nowhere' } },
  ]);
  const ds = checkConfig(text, { ...V31, instanceDir: dir }).diagnostics;
  assert.ok(ds.some((d) => d.code === 'mount-source' && /does not exist on the host/.test(d.message)));
  assert.ok(ds.some((d) => d.code === 'mount-point' && /image\/data/.test(d.message)));
  assert.ok(!ds.some((d) => d.severity === 'error'));
});

test('cross-field rules use gen_internal_conf messages', () => {
  const us = variant([{ kind: 'set', path: ['resource_limits', 'user_space_max_size'], value: '100MB' }]);
  assert.match(
    find(us, 'cross-field').message,
    /user_space_size: "300MB", user_space_max_size: Some\("100MB"\), wrong configuration/,
  );
  const th = variant([{ kind: 'set', path: ['resource_limits', 'init_num_of_threads'], value: 64 }]);
  const d = checkConfig(th, V31).diagnostics.find((x) => x.code === 'cross-field')!;
  assert.match(d.message, /init_num_of_threads: Some\(64\), max_num_of_threads: 32, wrong configuration/);
});

test('a note estimates the memory kernel stacks take (threads × stack size)', () => {
  const text = variant([
    { kind: 'set', path: ['resource_limits', 'kernel_space_stack_size'], value: '32MB' },
    { kind: 'set', path: ['resource_limits', 'max_num_of_threads'], value: 64 },
  ]);
  const d = find(text, 'memory-estimate');
  assert.equal(d.severity, 'info');
  assert.match(d.message, /64 × 32MB = 2GB/);
});

test('risky settings: debuggable in release config, logging in a release enclave', () => {
  assert.equal(find(TEMPLATE, 'risky-debuggable', { ...V31, fileName: 'Occlum_release.json' }).severity, 'warning');
  const rel = variant([
    { kind: 'set', path: ['metadata', 'debuggable'], value: false },
    { kind: 'set', path: ['metadata', 'disable_log'], value: false },
  ]);
  assert.equal(find(rel, 'risky-log').severity, 'warning');
});

test('versions: resolve user input, detect from shape', () => {
  assert.deepEqual(resolveVersion('0.29'), { ok: true, id: '0.29.7' });
  assert.deepEqual(resolveVersion('v0.26.4'), { ok: true, id: '0.26.3' });
  assert.deepEqual(resolveVersion('0.28.1'), { ok: true, id: '0.28' });
  assert.deepEqual(resolveVersion('0.31.2'), { ok: true, id: '0.31.0' });
  assert.equal(resolveVersion('1.0.0').ok, false);
  assert.equal(resolveVersion('abc').ok, false);
  const detect = (ops: EditOp[]) => detectVersion(parseConfig(variant(ops)).root).version;
  assert.equal(detect([]), '0.31.0');
  assert.equal(detect([{ kind: 'remove', path: ['feature', 'io_uring'] }]), '0.31.0');
  assert.equal(detect([{ kind: 'remove', path: ['feature'] }]), '0.30.0');
  assert.equal(
    detect([
      { kind: 'remove', path: ['feature'] },
      { kind: 'remove', path: ['metadata', 'enable_kss'] },
      { kind: 'remove', path: ['metadata', 'family_id'] },
      { kind: 'remove', path: ['metadata', 'ext_prod_id'] },
    ]),
    '0.26.0',
  );
  const noKss: EditOp[] = ['enable_kss', 'family_id', 'ext_prod_id'].map((k) => ({
    kind: 'remove',
    path: ['metadata', k],
  }));
  assert.equal(
    detect([
      { kind: 'set', path: ['mount', 0, 'options', 'layers', 0, 'options'], value: { integrity_only: true } },
      { kind: 'remove', path: ['feature'] },
      ...noKss,
    ]),
    '0.17',
  );
  // Contradictory evidence: the newest wins and the detection says so.
  const mixed = detectVersion(parseConfig(variant([{ kind: 'set', path: ['metadata', 'pkru'], value: 0 }])).root);
  assert.equal(mixed.version, '0.31.0'); // feature.io_uring is 0.31-only evidence
  assert.equal(mixed.mixed, true);
});

test('Occlum ≤ 0.14 shapes: plain SEFS root, env as a list, vm — valid for their version, migrated to 0.31', () => {
  const v013 = variant([
    ...['feature', 'metadata'].map((k): EditOp => ({ kind: 'remove', path: [k] })),
    { kind: 'set', path: ['metadata'], value: { product_id: 0, version_number: 0, debuggable: true } },
    {
      kind: 'set',
      path: ['mount'],
      value: [
        { target: '/', type: 'sefs', source: './image', options: { integrity_only: true } },
        { target: '/root', type: 'sefs' },
        { target: '/host', type: 'hostfs', source: '.' },
      ],
    },
  ]);
  const r13 = checkConfig(v013);
  assert.equal(r13.version, '0.13');
  assert.equal(r13.counts.error, 0, r13.diagnostics.map((d) => d.message).join('\n'));
  const v012 = applyOps(v013, [
    { kind: 'remove', path: ['metadata'] },
    { kind: 'remove', path: ['resource_limits'] },
    { kind: 'set', path: ['vm'], value: { user_space_size: '256MB' } },
    { kind: 'set', path: ['env'], value: ['OCCLUM=yes'] },
  ]);
  const r12 = checkConfig(v012);
  assert.equal(r12.version, '0.12');
  assert.equal(r12.counts.error, 0, r12.diagnostics.map((d) => d.message).join('\n'));
  assert.ok(checkConfig(v012, V31).counts.error >= 4);
  for (const [text, r] of [
    [v013, r13],
    [v012, r12],
  ] as const) {
    const migrate = r.diagnostics.find((d) => d.code === 'migrate')!;
    const out = fixed(text, migrate);
    assert.deepEqual(errors(out), [], out);
  }
});

test('legacy metadata.pkru is moved into feature by its fix', () => {
  const text = variant([
    { kind: 'set', path: ['metadata', 'pkru'], value: 1 },
    { kind: 'remove', path: ['feature', 'pkru'] },
  ]);
  const d = find(text, 'legacy-key');
  assert.equal(d.fix?.title, 'Move metadata.pkru to feature.pkru');
  const out = fixed(text, d);
  assert.equal(JSON.parse(out).feature.pkru, 1);
  assert.equal(JSON.parse(out).metadata.pkru, undefined);
  assert.deepEqual(checkConfig(out, V31).diagnostics, []);
});

test('a KSS-less 0.24 config under 0.31 rules: one fix adds all three KSS keys', () => {
  const text = variant([
    { kind: 'remove', path: ['metadata', 'enable_kss'] },
    { kind: 'remove', path: ['metadata', 'family_id'] },
    { kind: 'remove', path: ['metadata', 'ext_prod_id'] },
  ]);
  const d = find(text, 'missing-key');
  assert.equal(d.fix?.title, 'Add the KSS keys (enable_kss false, zero IDs)');
  assert.deepEqual(checkConfig(fixed(text, d), V31).diagnostics, []);
  assert.equal(fixed(text, d), TEMPLATE);
});

test('an overlay file gets a note and fixes that complete it into a config Occlum builds', () => {
  let text = '{\n\t"resource_limits": {\n\t\t"user_space_size": "2GB"\n\t},\n\t"entry_points": ["/bin"]\n}\n';
  const first = checkConfig(text, V31);
  assert.ok(first.diagnostics.some((d) => d.code === 'overlay'));
  // Apply fixes one at a time (each is computed on the current text).
  for (let i = 0; i < 20; i++) {
    const d = checkConfig(text, V31).diagnostics.find((x) => x.severity === 'error' && x.fix);
    if (!d) break;
    text = fixed(text, d);
  }
  assert.deepEqual(errors(text), [], text);
  assert.match(text, /\n\t"process": \{\n\t\t"default_stack_size"/, 'TAB indentation kept');
});

test('a half UTF-16 surrogate escape is the error serde_json stops at, anywhere in the file', () => {
  const withEnv = (entry: string) => TEMPLATE.replace('"OCCLUM=yes"', entry);
  const cases: [string, RegExp][] = [
    ['"OCCLUM=yes\\ud800"', /^unexpected end of hex escape: \\ud800 is half/],
    ['"OCCLUM=\\udc00yes"', /^lone leading surrogate in hex escape: \\udc00/],
    ['"OCCLUM=\\uD800\\u0041"', /^lone leading surrogate in hex escape: \\uD800/],
  ];
  for (const [entry, re] of cases) {
    const text = withEnv(entry);
    const d = find(text, 'syntax');
    assert.match(d.message, re);
    assert.equal(text.slice(0, text.indexOf(entry)).split('\n').length, d.line);
    assert.deepEqual(errors(fixed(text, d)), [], entry);
  }
  // A full pair and an escaped backslash before "u" are fine.
  assert.deepEqual(errors(withEnv('"OCCLUM=\\ud83d\\ude00 \\\\ud800"')), []);
  // Also in a value Occlum ignores: serde_json checks escapes while skipping it.
  const unknown = TEMPLATE.replace('"max_num_of_threads": 32', '"max_num_of_threads": 32,\n        "note": "\\udfff"');
  assert.match(find(unknown, 'syntax').message, /lone leading surrogate/);
});

test('env.default: a NUL is a boot failure (C strings), an empty entry a warning; both fixed by removal', () => {
  const text = TEMPLATE.replace('"OCCLUM=yes"', '"OCCLUM=yes\\u0000", "", "NOEQUALS"');
  const nul = find(text, 'env-nul');
  assert.equal(nul.severity, 'error');
  assert.match(nul.message, /env\.default\[0\] contains a NUL character .* fails to boot/);
  assert.equal(JSON.parse(fixed(text, nul)).env.default[0], 'OCCLUM=yes');
  const entries = checkConfig(text, V31).diagnostics.filter((d) => d.code === 'env-entry');
  assert.deepEqual(
    entries.map((d) => [d.path, d.fix?.title]),
    [
      [['env', 'default', 1], 'Remove the empty entry'],
      [['env', 'default', 2], 'Remove this entry'],
    ],
  );
  assert.match(entries[0]!.message, /is an empty string: it sets no variable/);
  assert.doesNotMatch(entries[0]!.message, /"=value"/);
  assert.deepEqual(JSON.parse(fixed(text, entries[0]!)).env.default, ['OCCLUM=yes\u0000', 'NOEQUALS']);
});

test('did-you-mean prefers the required key that is missing over a slightly closer optional one', () => {
  // A real-world shape: user_space_heap_size written, user_space_size missing.
  const text = TEMPLATE.replace('"user_space_size"', '"user_space_heap_size"');
  const d = find(text, 'unknown-key');
  assert.match(d.message, /did you mean "user_space_size"\?/);
  assert.deepEqual(errors(fixed(text, d)), []);
  // A plain typo of an optional key keeps its own suggestion.
  const typo = TEMPLATE.replace(
    '"user_space_size": "300MB",',
    '"user_space_size": "300MB",\n        "init_num_of_thread": 4,',
  );
  assert.match(find(typo, 'unknown-key').message, /did you mean "init_num_of_threads"\?/);
});

test('a unionfs layer of an unknown type gets one error (the type), not a second "must be sefs"', () => {
  const layers = (type: string) =>
    variant([
      {
        kind: 'insert',
        path: ['mount', 2],
        value: {
          target: '/data',
          type: 'unionfs',
          options: {
            layers: [
              { target: '/data', type, source: './data' },
              { target: '/data', type: 'sefs', source: './run/data' },
            ],
          },
        },
      },
    ]);
  const unknown = errors(layers('encrypted')).filter((d) => d.path.join('.').startsWith('mount.2'));
  assert.deepEqual(
    unknown.map((d) => d.code),
    ['mount-type'],
  );
  assert.ok(errors(layers('hostfs')).some((d) => d.code === 'mount-union' && /must be sefs/.test(d.message)));
});

test('a thread count outside u32 gets its range error only, no memory estimate built on it', () => {
  const text = TEMPLATE.replace('"max_num_of_threads": 32', '"max_num_of_threads": 4294967296');
  assert.deepEqual(
    checkConfig(text, V31).diagnostics.map((d) => d.code),
    ['range'],
  );
});

test('an unknown key with a look-alike or invisible character says which one', () => {
  const cyr = find(TEMPLATE.replace('"user_space_size"', '"user_space_s\u0456ze"'), 'unknown-key');
  assert.match(cyr.message, /\(character 13 is U\+0456, not ASCII\).*did you mean "user_space_size"/);
  const zw = find(TEMPLATE.replace('"user_space_size"', '"user_space_size\u200b"'), 'unknown-key');
  assert.match(zw.message, /character 16 is U\+200B/);
  assert.doesNotMatch(find(TEMPLATE.replace('"user_space_size"', '"user_space_sise"'), 'unknown-key').message, /ASCII/);
});
