// Sizing rules (src/core/sizing): measurements → Occlum.json fields per version and EDMM, verdicts,
// margins, and the format-preserving apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyRecommendation,
  formatField,
  jvmMeasureHeap,
  recommend,
  userSpaceNeed,
} from '../../src/core/sizing/index.ts';
import { mapsSummary } from '../../src/core/sizing/sampler.ts';
import { jvmErgonomicHeap, jvmHeapOption, jvmOcclumHeap } from '../../src/core/sizing/jvm.ts';
import type { Measurement } from '../../src/core/sizing/types.ts';
import { occlumJsonTemplateText } from '../../src/core/instance/template.ts';

const TEMPLATE_OCCLUM_JSON = occlumJsonTemplateText();

const MB = 1024 * 1024;

function measurement(p: Partial<Measurement> = {}): Measurement {
  return {
    command: ['/bin/app'],
    status: 0,
    runMs: 100,
    peakRss: 10 * MB,
    peakRssSource: 'cgroup v1 memory.max_usage_in_bytes',
    peakVm: 20 * MB,
    maxProcessVm: 20 * MB,
    heapGrowth: 2 * MB,
    stackPeak: 200 * 1024,
    largestMapping: 8 * MB,
    threadsPeak: 4,
    threadsSource: 'cgroup v1 pids.peak',
    processes: 1,
    processesPeak: 1,
    openFilesPeak: 5,
    processPeaks: [{ vmPeak: 20 * MB, heap: 2 * MB, stack: 200 * 1024 }],
    frontier: [{ mappedOther: 20 * MB - 2 * MB - 200 * 1024, processes: 1, threadStacks: 0 }],
    usage: null,
    usageSource: null,
    overhead: { samples: 10, intervalMs: 10, maxIntervalMs: 160, samplerCpuMs: 1, share: 0.01 },
    ...p,
  };
}

const field = (r: ReturnType<typeof recommend>, path: string) => r.fields.find((f) => f.path.join('.') === path)!;

test('template config: every sizing field, measured values with margin, too-large user space flagged', () => {
  const r = recommend(measurement(), TEMPLATE_OCCLUM_JSON, '0.31.0');
  assert.deepEqual(r.fields.map((f) => f.path.join('.')).sort(), [
    'process.default_heap_size',
    'process.default_mmap_size',
    'process.default_stack_size',
    'resource_limits.kernel_space_heap_size',
    'resource_limits.kernel_space_stack_size',
    'resource_limits.max_num_of_threads',
    'resource_limits.user_space_size',
  ]);
  assert.equal(field(r, 'process.default_heap_size').value, '3MB'); // 2 MB × 1.25 → whole MB
  assert.equal(field(r, 'process.default_stack_size').value, '1MB'); // floor
  assert.equal(field(r, 'resource_limits.max_num_of_threads').value, 6); // 4 + 2 spare
  const user = field(r, 'resource_limits.user_space_size');
  // other mappings 17.8 MB + heap 3 MB + stack 1 MB = 21.8 MB, × 1.25 → 28 MB
  assert.equal(user.value, '28MB');
  assert.equal(user.verdict, 'too-large');
  assert.match(user.consequence!, /non-EDMM enclave commits it all at load/);
  assert.equal(field(r, 'resource_limits.kernel_space_heap_size').change, false, 'unmeasurable: the template stays');
  assert.match(
    formatField(field(r, 'resource_limits.kernel_space_heap_size')),
    /\(kept\): not measurable on the host .*; margin none, the template value is the floor; /,
  );
  assert.match(formatField(user), /^~ resource_limits\.user_space_size = "28MB" \(was 300MB\): peak .* TOO LARGE/);
});

test('too small values name the error Occlum would give', () => {
  const r = recommend(measurement({ threadsPeak: 40, stackPeak: 6 * MB }), TEMPLATE_OCCLUM_JSON, '0.31.0');
  const t = field(r, 'resource_limits.max_num_of_threads');
  assert.equal(t.verdict, 'too-small');
  assert.equal(t.value, 50);
  assert.match(t.consequence!, /Out of TCS/);
  assert.match(field(r, 'process.default_stack_size').consequence!, /SIGSEGV/);
  const huge = measurement({ processPeaks: [{ vmPeak: 500 * MB, heap: 0, stack: 0 }] });
  const big = recommend(huge, TEMPLATE_OCCLUM_JSON, '0.31.0');
  assert.match(field(big, 'resource_limits.user_space_size').consequence!, /ENOMEM \(#12, Out of memory\)/);
});

test('user space counts every process alive at once with its fixed heap and stack', () => {
  const frontier = [
    { mappedOther: 10 * MB, processes: 5, threadStacks: 0 },
    { mappedOther: 20 * MB, processes: 1, threadStacks: 0 },
  ];
  const m = measurement({ frontier, processPeaks: [] });
  assert.equal(userSpaceNeed(m, 2 * MB, 1 * MB), 25 * MB); // 10 + 5 × 3 beats 20 + 3
});

test('versions and EDMM: user_space_max_size and kernel_space_heap_max_size where they exist', () => {
  const cfg = JSON.parse(TEMPLATE_OCCLUM_JSON);
  cfg.resource_limits.user_space_max_size = '1GB';
  cfg.resource_limits.kernel_space_heap_max_size = '64MB';
  const text = JSON.stringify(cfg, null, 2);
  const r = recommend(measurement(), text, '0.31.0');
  assert.equal(field(r, 'resource_limits.user_space_max_size').value, '28MB');
  assert.match(field(r, 'resource_limits.user_space_max_size').reason, /non-EDMM: replaces user_space_size/);
  assert.equal(field(r, 'resource_limits.user_space_size').value, '28MB', 'lowered: it must not exceed the max');
  assert.equal(field(r, 'resource_limits.kernel_space_heap_max_size').value, '64MB');
  // 0.29.0 has neither key: they are not recommended even if present.
  const old = recommend(measurement(), text, '0.29.0');
  assert.equal(
    old.fields.some((f) => String(f.path[1]).endsWith('_max_size')),
    false,
  );
  cfg.feature.enable_edmm = true;
  const e = recommend(measurement(), JSON.stringify(cfg), '0.31.0');
  assert.equal(e.edmm, true);
  assert.notEqual(field(e, 'resource_limits.user_space_size').verdict, 'too-large', 'EDMM commits pages on demand');
  assert.match(field(e, 'resource_limits.user_space_max_size').reason, /EDMM: the ceiling is max\(this, 16GB\)/);
  assert.equal(field(e, 'resource_limits.user_space_max_size').change, false);
});

test('apply writes only the changed fields and keeps the file format', () => {
  const text = TEMPLATE_OCCLUM_JSON.replace('"resource_limits": {', '"resource_limits": { // sizes\n       ');
  const r = recommend(measurement({ threadsPeak: 40 }), text, '0.31.0');
  const out = applyRecommendation(text, r);
  assert.match(out, /"resource_limits": \{ \/\/ sizes/);
  assert.match(out, /"max_num_of_threads": 50/);
  assert.match(out, /"user_space_size": "28MB"/);
  assert.match(out, /"kernel_space_heap_size": "32MB"/);
  const removed = TEMPLATE_OCCLUM_JSON.replace(/\s*"default_mmap_size": "100MB"/, '');
  const fixed = removed.replace('"default_heap_size": "32MB",', '"default_heap_size": "32MB"');
  const added = applyRecommendation(fixed, recommend(measurement(), removed, '0.31.0'));
  assert.match(added, /"default_mmap_size": "\d+MB"/);
  assert.doesNotThrow(() => JSON.parse(added));
});

test('maps summary: brk heap and the largest mapping, not the kernel vsyscall page', () => {
  const maps = [
    '55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]',
    '7f0000000000-7f0000800000 rw-p 00000000 00:00 0 ',
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
  ].join('\n');
  assert.deepEqual(mapsSummary(maps), { heap: 0x21000, largest: 0x800000, threadStacks: 0 });
});

test('maps summary: writable mappings of exactly the run stack limit are glibc thread stacks', () => {
  const maps = [
    '7f0000000000-7f0000001000 ---p 00000000 00:00 0 ',
    '7f0000001000-7f0040001000 rw-p 00000000 00:00 0 ',
    '7f0040001000-7f0080001000 ---p 00000000 00:00 0 ',
  ].join('\n');
  assert.deepEqual(mapsSummary(maps, 1024 * MB), { heap: 0, largest: 1024 * MB, threadStacks: 1 });
});

test('user space: each glibc thread stack counts at the recommended default_stack_size', () => {
  const m = measurement({
    threadStacksPeak: 4,
    threadStackSize: 1024 * MB,
    frontier: [{ mappedOther: 30 * MB, processes: 1, threadStacks: 4 }],
    processPeaks: [{ vmPeak: 4126 * MB, heap: 0, stack: 0, threadStacks: 4, otherPeak: 30 * MB }],
  });
  assert.equal(userSpaceNeed(m, 1 * MB, 2 * MB), 30 * MB + 3 * MB + 4 * 2 * MB);
  const user = field(recommend(m, TEMPLATE_OCCLUM_JSON, '0.31.0'), 'resource_limits.user_space_size');
  assert.ok(user.bytes! < 64 * MB, user.value as string);
  assert.match(user.measured, /4 glibc thread stack\(s\) of 1MB/);
});

test('JVM: default heap in Occlum, heap options found, user space grows with the heap it implies', () => {
  // OpenJDK 17 -XX:MaxRAM=… -XX:+PrintFlagsFinal: 100m → 50 MB, 300m → 126 MB, 1g → 256 MB, 4g → 1 GB.
  assert.equal(jvmErgonomicHeap(100 * MB), 50 * MB);
  assert.equal(jvmErgonomicHeap(300 * MB), 126 * MB);
  assert.equal(jvmErgonomicHeap(1024 * MB), 256 * MB);
  assert.equal(jvmErgonomicHeap(4096 * MB), 1024 * MB);
  assert.equal(jvmOcclumHeap(300 * MB, 136 * MB), 68 * MB); // the template: RLIMIT_AS 32 + 4 + 100 MB
  assert.equal(jvmHeapOption(['-cp', '/app', 'Main', '-Xmx1g'], []), null); // the program's own argument
  assert.equal(jvmHeapOption(['-Xmx512m', '-cp', '/app', 'Main'], []), '-Xmx512m');
  assert.equal(
    jvmHeapOption(['-jar', 'a.jar'], ['JAVA_TOOL_OPTIONS=-Dx=1 -XX:MaxRAM=1g']),
    'JAVA_TOOL_OPTIONS: -XX:MaxRAM=1g',
  );
  assert.equal(jvmMeasureHeap('/bin/java', ['Main'], TEMPLATE_OCCLUM_JSON, '0.31.0'), 68 * MB);
  assert.equal(jvmMeasureHeap('/bin/java', ['-Xmx64m', 'Main'], TEMPLATE_OCCLUM_JSON, '0.31.0'), null);
  assert.equal(jvmMeasureHeap('/bin/app', ['Main'], TEMPLATE_OCCLUM_JSON, '0.31.0'), null);
  // EDMM: the JVM sees the 16GB ceiling; a large RLIMIT_AS leaves it a quarter of that.
  const edmm = JSON.parse(TEMPLATE_OCCLUM_JSON);
  edmm.feature.enable_edmm = true;
  edmm.process.default_mmap_size = '16GB';
  assert.equal(jvmMeasureHeap('/bin/java', ['Main'], JSON.stringify(edmm), '0.31.0'), 4096 * MB);
  const rest = 1500 * MB;
  const m = measurement({
    jvmMaxHeap: 68 * MB,
    processPeaks: [{ vmPeak: rest + 68 * MB, heap: 0, stack: 0 }],
    frontier: [{ mappedOther: rest + 68 * MB, processes: 1, threadStacks: 0 }],
  });
  const user = field(recommend(m, TEMPLATE_OCCLUM_JSON, '0.31.0'), 'resource_limits.user_space_size').bytes!;
  // The JVM then takes a quarter of it (rounded up to 32 MB); the rest keeps its margin.
  const heap = Math.ceil(user / 4 / (32 * MB)) * 32 * MB;
  assert.ok(user - heap >= (rest + 2 * MB) * 1.25, `${user / MB} MB`);
  assert.ok(user <= ((rest + 2 * MB) * 1.25 + 33 * MB) / 0.75 + MB, `${user / MB} MB`);
});
