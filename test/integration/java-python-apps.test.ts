// A user's Java and Python applications through the built CLI as a new user meets them: Debian's
// JDK and CPython laid out by a bom, `new`, `bom copy`, `build`, a run that fails under the
// template config, `size --apply`, `build` and a run that passes (the real sandbox throughout).
// CI installs default-jdk-headless, libpython3.11-dev and python3-yaml (scripts/install-system-deps.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { treeLimitsSkip } from '../helpers/host-instance.ts';
import type { Measurement, Recommendation } from '../../src/core/sizing/types.ts';

const MB = 1024 * 1024;
type Out = { measurement: Measurement; recommendation: Recommendation; applied: boolean };

/** A workspace with an instance made by `new`, `entry` added to its entry points. */
function workspace(entry: string): { ws: string; inst: string } {
  const ws = mkdtempSync(join(tmpdir(), 'user-app-'));
  const inst = join(ws, 'inst');
  assert.equal(runCli(['new', inst]).status, 0);
  const cfg = join(inst, 'Occlum.json');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"/bin"', `"/bin", "${entry}"`));
  return { ws, inst };
}

function sh(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';
const javaSkip =
  treeLimitsSkip() ||
  (!existsSync(`${JDK}/bin/javac`) && `no JDK 17 at ${JDK} (Debian default-jdk-headless; .ci/run installs it)`);

test('a Java app that needs 160 MB of heap: bom, build, size --apply (measured again), run', { skip: javaSkip }, () => {
  const { ws, inst } = workspace(`${JDK}/bin`);
  mkdirSync(join(ws, 'src'));
  // Its workers take the heap: an OutOfMemoryError in one leaves the pool's threads alive, so
  // the JVM would hang with a heap too small (as in Occlum under the template's 300MB).
  writeFileSync(
    join(ws, 'src', 'Heap.java'),
    `import java.util.*;
import java.util.concurrent.*;
public class Heap {
  public static void main(String[] a) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<byte[][]>> fs = new ArrayList<>();
    for (int t = 0; t < 8; t++) fs.add(pool.submit(() -> { byte[][] c = new byte[20][]; for (int i = 0; i < 20; i++) c[i] = new byte[1 << 20]; return c; }));
    long n = 0; List<byte[][]> keep = new ArrayList<>();
    for (Future<byte[][]> f : fs) { keep.add(f.get()); n += 20; }
    pool.shutdown();
    System.out.println("held " + n + " MB in 8 threads, max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MB");
  }
}
`,
  );
  sh(`${JDK}/bin/javac`, ['-d', '.', 'Heap.java'], join(ws, 'src'));
  writeFileSync(join(ws, 'src', 'm.txt'), 'Main-Class: Heap\n');
  const classes = readdirSync(join(ws, 'src')).filter((n) => n.endsWith('.class'));
  sh(`${JDK}/bin/jar`, ['cfm', 'heap.jar', 'm.txt', ...classes], join(ws, 'src'));
  writeFileSync(
    join(ws, 'java.yaml'),
    `includes: [base.yaml]
targets:
  - target: /usr/lib/jvm
    copy:
      - dirs: [${JDK}]
  - target: /app
    copy:
      - files: [../src/heap.jar]
`,
  );
  const copy = runCli(['bom', 'copy', '-f', '../java.yaml', '--root', 'image'], { cwd: inst });
  assert.equal(copy.status, 0, copy.stderr);
  // libjava.so & co. need libjvm.so, which is in the image (lib/server): not "missing".
  assert.doesNotMatch(copy.stdout, /missing/, copy.stdout);
  const build = runCli(['build'], { cwd: inst });
  assert.equal(build.status, 0, build.stderr);
  // One note for the JDK's ~28 glibc programs, not one each.
  assert.equal(build.stderr.match(/glibc program/g)?.length, 1, build.stderr);
  assert.match(build.stderr, /and \d+ more: glibc program/);
  const java = [`${JDK}/bin/java`, '-jar', '/app/heap.jar'];
  const before = runCli(['run', ...java], { cwd: inst, timeout: 60_000 });
  assert.notEqual(before.status, 0, 'the JVM does not fit the template config');
  // HotSpot prints it on stdout (its default stream), which `run` never reads: the Run pane hints at it.
  assert.match(before.stdout, /Could not reserve enough space for code cache/);
  const size = runCli(['size', '--json', '--apply', ...java], { cwd: inst, timeout: 300_000 });
  assert.equal(size.status, 0, size.stderr);
  // With the template's 68MB heap it ran out (ExitOnOutOfMemoryError: no hang), and was measured
  // again with the heap the recommended config gives it.
  assert.match(size.stderr, /Terminating due to java\.lang\.OutOfMemoryError: Java heap space/);
  assert.match(size.stderr, /the JVM failed \(status 3\) with -XX:MaxHeapSize=68MB.*measuring again with \d+MB/);
  const out = JSON.parse(size.stdout) as Out;
  assert.deepEqual(out.measurement.jvmFirstRun, { maxHeap: 68 * MB, status: 3 });
  assert.ok(out.measurement.jvmMaxHeap! >= 512 * MB, `${out.measurement.jvmMaxHeap}`);
  assert.ok(out.applied);
  assert.equal(runCli(['build'], { cwd: inst }).status, 0);
  const after = runCli(['run', ...java], { cwd: inst, timeout: 60_000 });
  assert.equal(after.status, 0, after.stderr);
  // With the heap it takes in Occlum (a quarter of the user space), not half of RLIMIT_AS as the
  // host's RAM would give it: that one sometimes did not fit the recommended user space.
  const user = out.recommendation.fields.find((f) => f.path.join('.') === 'resource_limits.user_space_size')!;
  const heap = Number(/held 160 MB in 8 threads, max heap (\d+) MB/.exec(after.stdout)?.[1]) * MB;
  assert.ok(heap > 0 && heap <= user.bytes! / 4, `${after.stdout} for ${user.value}`);
});

const PY_LIB = '/usr/lib/python3/dist-packages/yaml';
const pySkip =
  treeLimitsSkip() ||
  (!existsSync('/usr/include/python3.11/Python.h') && 'no libpython3.11-dev (.ci/run installs it)') ||
  (!existsSync(PY_LIB) && 'no python3-yaml (.ci/run installs it)');

test('a Python app with a Debian extension module: its library found by autodep, sized, run', { skip: pySkip }, () => {
  const { ws, inst } = workspace('/usr/bin');
  mkdirSync(join(ws, 'src'));
  // Debian's python3.11 is not PIE (Occlum refuses it); the same interpreter as a PIE program.
  writeFileSync(
    join(ws, 'src', 'python.c'),
    '#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n',
  );
  sh(
    'gcc',
    ['-fPIE', '-pie', '-I/usr/include/python3.11', '-o', 'python3', 'python.c', '-lpython3.11'],
    join(ws, 'src'),
  );
  // CSafeLoader is the C extension (_yaml.so), which needs Debian's libyaml-0.so.2.
  writeFileSync(
    join(ws, 'src', 'app.py'),
    // The four workers meet at a barrier and stay 0.3 s: all five threads are alive at once for
    // the sampler, however fast the machine parses.
    'import threading, time, yaml\nout = []\nb = threading.Barrier(4)\n' +
      'def work(i):\n    b.wait()\n' +
      '    out.append(len(yaml.load("[" + ",".join(["x"] * 20000) + "]", Loader=yaml.CSafeLoader)))\n' +
      '    time.sleep(0.3)\n' +
      'ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]\n' +
      '[t.start() for t in ts]; [t.join() for t in ts]\nprint("parsed", sum(out), "with libyaml")\n',
  );
  writeFileSync(
    join(ws, 'py.yaml'),
    `includes: [base.yaml]
targets:
  - target: /usr/bin
    copy:
      - files: [../src/python3]
  - target: /usr/lib
    copy:
      - dirs: [/usr/lib/python3.11]
  - target: /usr/lib/python3/dist-packages
    copy:
      - dirs: [${PY_LIB}]
  - target: /app
    copy:
      - files: [../src/app.py]
`,
  );
  const copy = runCli(['bom', 'copy', '-f', '../py.yaml', '--root', 'image'], { cwd: inst });
  assert.equal(copy.status, 0, copy.stderr);
  assert.match(copy.stdout, /found through \/lib64\/ld-linux-x86-64\.so\.2, the loader of the programs under files/);
  assert.ok(existsSync(join(inst, 'image/opt/occlum/glibc/lib/libyaml-0.so.2')), 'libyaml copied by autodep');
  assert.equal(runCli(['build'], { cwd: inst }).status, 0);
  const py = ['/usr/bin/python3', '/app/app.py'];
  const size = runCli(['size', '--json', '--apply', ...py], { cwd: inst, timeout: 300_000 });
  assert.equal(size.status, 0, size.stderr);
  const out = JSON.parse(size.stdout) as Out;
  assert.ok(out.measurement.threadsPeak >= 5, `${out.measurement.threadsPeak} threads`);
  assert.equal(runCli(['build'], { cwd: inst }).status, 0);
  const run = runCli(['run', ...py], { cwd: inst, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /parsed 80000 with libyaml/);
});
