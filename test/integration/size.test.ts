// `size` on the host backend, end to end through the built CLI: each sizing fixture fails under
// the template Occlum.json (as it would in the enclave), `size --apply` measures it and writes
// the recommendation, and after a rebuild the same run passes. Recommendations stay within the
// stated factor of the measured need (docs/sizing.md): memory ≤ 1.25 × need + 1 MB (or the
// floor), threads ≤ 1.25 × need + 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import { userSpaceNeed } from '../../src/core/sizing/recommend.ts';
import type { FieldRecommendation, Measurement, Recommendation } from '../../src/core/sizing/types.ts';

const MB = 1024 * 1024;

const skip = treeLimitsSkip();

function field(rec: Recommendation, path: string): FieldRecommendation {
  const f = rec.fields.find((x) => x.path.join('.') === path);
  assert.ok(f, `no recommendation for ${path}`);
  return f;
}

/** The stated factor: memory fields within ×1.25 + 1 MB of their need (or at the floor). */
function assertWithinFactor(m: Measurement, rec: Recommendation): void {
  const stack = field(rec, 'process.default_stack_size');
  const heap = field(rec, 'process.default_heap_size');
  assert.ok(stack.bytes! <= Math.max(MB, m.stackPeak * 1.25 + MB), `stack ${stack.value} for ${m.stackPeak}`);
  assert.ok(heap.bytes! <= Math.max(MB, m.heapGrowth * 1.25 + MB), `heap ${heap.value} for ${m.heapGrowth}`);
  const need = userSpaceNeed(m, heap.bytes!, stack.bytes!);
  const user = field(rec, 'resource_limits.user_space_size');
  const within = user.bytes! >= need && user.bytes! <= Math.max(8 * MB, need * 1.25 + MB);
  assert.ok(within, `user space ${user.value} for ${need}`);
  const threads = field(rec, 'resource_limits.max_num_of_threads');
  assert.ok(Number(threads.value) >= m.threadsPeak && Number(threads.value) <= Math.ceil(m.threadsPeak * 1.25) + 2);
}

const CASES: { program: string; fails: RegExp; field: string }[] = [
  { program: 'bigalloc', fails: /malloc of 320 MB failed/, field: 'resource_limits.user_space_size' },
  { program: 'mmaps', fails: /mmap \d+ of 96 failed/, field: 'resource_limits.user_space_size' },
  {
    program: 'threads',
    fails: /pthread_create 32 of 48 failed: Resource temporarily unavailable/,
    field: 'resource_limits.max_num_of_threads',
  },
  { program: 'children', fails: /posix_spawn 32 of 40 failed/, field: 'resource_limits.max_num_of_threads' },
  { program: 'deepstack', fails: /^$/, field: 'process.default_stack_size' },
];

test('fixtures fail under the template, pass after size --apply and a build', { skip }, () => {
  const dir = makeInstance(CASES.map((c) => c.program) as never);
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  for (const c of CASES) {
    const before = runCli(['run', `/bin/${c.program}`], { cwd: dir });
    assert.notEqual(before.status, 0, `${c.program} should fail under the template config`);
    assert.match(before.stdout, c.fails, c.program);
  }
  for (const c of CASES) {
    const s = runCli(['size', '--json', '--apply', `/bin/${c.program}`], { cwd: dir });
    assert.equal(s.status, 0, `${c.program}: ${s.stderr}`);
    type Out = { measurement: Measurement; recommendation: Recommendation; applied: boolean };
    const { measurement: m, recommendation: rec, applied } = JSON.parse(s.stdout) as Out;
    assert.equal(applied, true);
    const f = field(rec, c.field);
    assert.equal(f.change, true, `${c.program} should change ${c.field}`);
    assertWithinFactor(m, rec);
    // The file got exactly the recommended values (format kept: 4-space indent of makeInstance).
    const cfg = JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8'));
    const at = (path: (string | number)[]) => path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], cfg);
    for (const x of rec.fields) assert.deepEqual(at(x.path), x.value, x.path.join('.'));
    assert.match(readFileSync(join(dir, 'Occlum.json'), 'utf8'), /^ {4}"resource_limits": \{$/m);
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    const after = runCli(['run', `/bin/${c.program}`], { cwd: dir });
    assert.equal(after.status, 0, `${c.program} after size --apply: ${after.stdout}${after.stderr}`);
  }
});

test('size reports the measurement in words and refuses bad input clearly', { skip }, () => {
  const dir = makeInstance(['threads', 'hello']);
  // Before a build: Occlum's line, then how to build for the host backend that sizing runs on.
  const unbuilt = runCli(['size', '-C', dir, '/bin/hello'], {});
  assert.equal(unbuilt.status, 1);
  assert.match(unbuilt.stderr, /^Error: the Occlum image and enclave are not built yet\./m);
  assert.ok(
    unbuilt.stderr.includes(`build it first (b in the Build pane, or occlum-studio build --backend host -C ${dir})`),
    unbuilt.stderr,
  );
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  const s = runCli(['size', '-C', dir, '/bin/threads', '10'], {});
  assert.equal(s.status, 0, s.stderr);
  // Without --apply the report ends with how to write it.
  assert.ok(s.stdout.endsWith(`--apply writes these into ${dir}/Occlum.json (then rebuild: occlum-studio build)\n`));
  assert.match(s.stdout, /threads at once {4}11 \(cgroup v[12] pids\.peak\)/);
  assert.match(s.stdout, /measurement {8}\d+ samples every 10–160 ms \(adaptive\), [\d.]+ ms CPU/);
  // Each figure names its source: a kernel counter where the machine keeps one, else sampling.
  assert.match(
    s.stdout,
    /peak resident .*\((cgroup v1 memory\.max_usage_in_bytes|cgroup v2 memory\.peak), whole tree\)/,
  );
  assert.match(s.stdout, /tree at exit .*\(cgroup v[12] cpu(acct)?\.stat \+ v[12] memory\.stat\)/);
  assert.match(s.stdout, /^~ resource_limits\.user_space_size = "\d+MB" \(was 300MB\): .* TOO LARGE: a non-EDMM/m);
  // The command is echoed as typed: an empty or spaced argument stays visible, quoted.
  const quoted = runCli(['size', '/bin/hello', '', 'two words'], { cwd: dir });
  assert.equal(quoted.status, 0, quoted.stderr);
  assert.match(quoted.stdout, /^measured \/bin\/hello '' 'two words' on the host backend:$/m);
  const failed = runCli(['size', '/bin/hello', 'exit=3'], { cwd: dir });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /exited with status 3 even without limits/);
  assert.equal(runCli(['size'], { cwd: dir }).status, 2);
  const outside = runCli(['size', '/bin/hello'], { cwd: dirname(dir) });
  assert.equal(outside.status, 2);
  assert.equal(
    outside.stderr,
    `occlum-studio: ${dirname(dir)} is not an Occlum instance (no Occlum.json): give one with -C DIR\n`,
  );
  const bad = runCli(['size', '--interval', 'x', '/bin/hello'], { cwd: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--interval must be a number of milliseconds/);
});

// A server never exits by itself: it is sized by stopping it. Ctrl-C (SIGINT to the terminal's
// process group, the program included) and SIGTERM to the studio (`timeout 60 occlum-studio size
// …`) both end the run with the figures up to then as the result: reported, status 0, --apply
// writes them.
for (const { how, stop } of [
  { how: 'SIGTERM to the studio', stop: (pid: number) => process.kill(pid, 'SIGTERM') },
  { how: "Ctrl-C to the terminal's process group", stop: (pid: number) => process.kill(-pid, 'SIGINT') },
]) {
  test(`size of a server ended by ${how}: its figures are the result`, { skip }, async () => {
    const dir = makeInstance(['sleeper']);
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    const before = readFileSync(join(dir, 'Occlum.json'), 'utf8');
    const child = spawn(process.execPath, [CLI, 'size', '--apply', '/bin/sleeper', '600'], {
      cwd: dir,
      detached: true, // its own process group, as a shell gives a foreground job
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => stdout.includes('ready'), 'the program started');
    // A server is stopped after it served a while: here a second, for the sampler's first samples.
    await new Promise((r) => setTimeout(r, 1000));
    stop(child.pid!);
    assert.equal(await done, 0, stderr);
    const sig = how.startsWith('SIGTERM') ? 'SIGTERM' : 'SIGINT';
    assert.match(stdout, new RegExp(`run time +[\\d.]+ s, exit status 1(30|43) \\(stopped by ${sig}\\)`));
    assert.match(stderr, new RegExp(`stopped by ${sig} after [\\d.]+ s: the figures cover what the program did`));
    assert.match(stdout, /^wrote .*Occlum\.json; rebuild/m);
    assert.notEqual(readFileSync(join(dir, 'Occlum.json'), 'utf8'), before);
  });
}
