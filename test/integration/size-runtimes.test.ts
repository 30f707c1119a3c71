// `size` on the runtimes users bring, through the built CLI and the real sandbox: Debian's
// redis-server (PIE, glibc, background threads with glibc's default stack) and, when a JDK is
// installed (CI installs default-jdk-headless), Debian's OpenJDK. Each is laid out in the image with `bom copy`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CLI } from '../helpers/paths.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import type { FieldRecommendation, Measurement, Recommendation } from '../../src/core/sizing/types.ts';

const MB = 1024 * 1024;
const GB = 1024 * MB;
type Out = { measurement: Measurement; recommendation: Recommendation; applied: boolean };

function field(rec: Recommendation, path: string): FieldRecommendation {
  const f = rec.fields.find((x) => x.path.join('.') === path);
  assert.ok(f, `no recommendation for ${path}`);
  return f;
}

/** An instance with these files copied in by a bom (libraries found by autodep). */
function bomInstance(bom: string): string {
  const dir = makeInstance([]);
  writeFileSync(join(dir, 'app.yaml'), bom);
  const c = runCli(['bom', 'copy', '-f', 'app.yaml', '--root', 'image'], { cwd: dir });
  assert.equal(c.status, 0, c.stderr);
  const b = runCli(['build'], { cwd: dir });
  assert.equal(b.status, 0, b.stderr);
  return dir;
}

/** One connection: sends the commands, resolves with the reply, or null when nothing listens. */
function redisOnce(port: number, commands: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('error', () => resolve(null));
    s.on('connect', () => s.end(commands));
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
  });
}

/** Sends redis commands to a port once the server listens (it starts in a sandbox); the reply. */
async function redis(port: number, commands: string): Promise<string> {
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const r = await redisOnce(port, commands);
    if (r !== null) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`redis on port ${port} did not listen within 60 s`);
}

const redisSkip = treeLimitsSkip() || (!existsSync('/usr/bin/redis-server') && 'redis-server is not installed');

test(
  'redis-server: thread stacks count at default_stack_size, not the sizing run stack limit',
  { skip: redisSkip },
  async () => {
    const dir = bomInstance('targets:\n  - target: /bin\n    copy:\n      - files: [/usr/bin/redis-server]\n');
    const port = 20000 + (process.pid % 20000);
    ensureBuilt();
    const args = [
      'size',
      '--json',
      '--apply',
      '/bin/redis-server',
      '--save',
      '',
      '--appendonly',
      'no',
      '--port',
      `${port}`,
    ];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    // 2000 values of 4 KB, then shut down: the server's exit ends the measurement.
    const sets = Array.from({ length: 2000 }, (_, i) => `SET k${i} ${'x'.repeat(4096)}\r\n`).join('');
    await redis(port, sets);
    await redis(port, 'SHUTDOWN NOSAVE\r\n');
    assert.equal(await done, 0, stderr);
    const { measurement: m, recommendation: rec } = JSON.parse(stdout) as Out;
    // redis's bio threads take glibc's default stack: RLIMIT_STACK, 1 GB in the sizing run.
    assert.ok((m.threadStacksPeak ?? 0) >= 1, `thread stacks seen: ${m.threadStacksPeak}`);
    assert.ok(m.peakVm > GB, `the run's own VmSize has the 1 GB stacks: ${m.peakVm}`);
    const stack = field(rec, 'process.default_stack_size').bytes!;
    const user = field(rec, 'resource_limits.user_space_size');
    // Before: 5195MB (each thread stack counted at 1 GB). Now the stacks are default_stack_size each.
    assert.ok(user.bytes! < 256 * MB, `user space ${user.value}`);
    assert.ok(user.bytes! >= m.threadStacksPeak! * stack + 8 * MB, `user space ${user.value}`);
    assert.match(user.measured, /glibc thread stack\(s\) of \d+MB/);
    // The recommendation is enough: the server runs under it (RLIMIT_STACK = default_stack_size, the cap on memory).
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    const run = spawn(process.execPath, [CLI, 'run', '/bin/redis-server', '--save', '', '--port', `${port}`], {
      cwd: dir,
    });
    const ran = new Promise<number | null>((resolve) => run.on('close', resolve));
    assert.match(await redis(port, `SET a ${'y'.repeat(4096)}\r\nGET a\r\n`), /^\+OK\r\n\$4096\r\n/);
    await redis(port, 'SHUTDOWN NOSAVE\r\n');
    assert.equal(await ran, 0);
  },
);

const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';
const javaSkip =
  treeLimitsSkip() ||
  (!existsSync(`${JDK}/bin/java`) && `no OpenJDK 17 at ${JDK} (Debian default-jdk-headless; .ci/run installs it)`);

test(
  'java without -Xmx is measured with the heap it takes in Occlum, not a quarter of the host RAM',
  { skip: javaSkip },
  () => {
    const bom = [
      'targets:',
      '  - target: /usr/lib/jvm',
      '    copy:',
      `      - dirs: [${JDK}]`,
      '  - target: /bin',
      '    createlinks:',
      `      - {src: ${JDK}/bin/java, linkname: java}`,
    ].join('\n');
    const dir = bomInstance(bom + '\n');
    const r = runCli(['size', '--json', '/bin/java', '-version'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const { measurement: m, recommendation: rec } = JSON.parse(r.stdout) as Out;
    // The template: user space 300MB, RLIMIT_AS 32 + 4 + 100 MB, so the JVM's default is 68MB.
    assert.equal(m.jvmMaxHeap, 68 * MB);
    const user = field(rec, 'resource_limits.user_space_size');
    assert.match(user.measured, /-XX:MaxHeapSize=68MB .* it reserves \d+MB/);
    // Its heap with the recommended user space is a quarter of it, and the rest still fits.
    const heapThen = Number(/it reserves (\d+)MB/.exec(user.measured)![1]) * MB;
    assert.ok(heapThen >= user.bytes! / 4, `${heapThen} for ${user.value}`);
    assert.ok(user.bytes! - heapThen >= m.maxProcessVm - m.jvmMaxHeap!, `${user.value}`);
    // An explicit -Xmx is measured as given.
    const x = runCli(['size', '--json', '/bin/java', '-Xmx64m', '-version'], { cwd: dir });
    assert.equal(x.status, 0, x.stderr);
    assert.equal((JSON.parse(x.stdout) as Out).measurement.jvmMaxHeap, undefined);
  },
);
