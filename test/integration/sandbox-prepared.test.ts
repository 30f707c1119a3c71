// The sandbox prepared ahead of a dev-loop rerun (docs/dev-loop.md, "Prepared sandbox"): a program
// started in it is confined exactly as in a cold launch (host state, identity, descriptors,
// exit status), the prepared process can be driven only through its own stdin, and it leaves
// nothing behind when unused, dropped, or when the studio that made it dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { WarmSandbox } from '../../src/core/backend/host/warm.ts';
import { descendants, exeOf, isAlive } from '../../src/core/backend/host/procs.ts';
import { SANDBOX_UID } from '../../src/core/sandbox/identity.ts';
import { closeInheritedDescriptors } from '../../src/core/sandbox/inherited-fds.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { RunningProcess } from '../../src/core/watch/types.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';
import { ROOT } from '../helpers/paths.ts';
import { asNobodyIn, NOBODY, unprivilegedSkip } from '../helpers/unprivileged.ts';

// As the CLI does at startup (src/core/sandbox/inherited-fds.ts): the test runner's own
// inheritable descriptors would otherwise reach the program through any launch.
closeInheritedDescriptors();

const rootOnly = process.getuid?.() === 0 ? false : 'the prepared sandbox is exercised as root here (CI runs as root)';

/** Runs `path args` through the dev loop's backend: in a prepared sandbox when `prepared`. */
async function runVia(
  backend: HostWatchBackend,
  dir: string,
  prepared: boolean,
  path: string,
  args: string[] = [],
): Promise<{ out: string; status: number; pid: number | undefined; preparedPid: number | null; proc: RunningProcess }> {
  if (prepared) backend.prepareRerun();
  const preparedPid = backend.preparedPid;
  let out = '';
  const proc = await backend.run(dir, { path, args }, { onOutput: (c) => (out += c), onExit: () => {} });
  const status = await proc.exited;
  return { out, status, pid: proc.pid, preparedPid, proc };
}

test('a program in a prepared sandbox is confined as in a cold launch', { skip: rootOnly }, async () => {
  const dir = makeInstance(['hoststate', 'hello', 'writer', 'sleeper']);
  const built = await new HostBackend(dir).build();
  assert.ok(built.ok, built.errors.join('\n'));
  const backend = new HostWatchBackend();
  try {
    const warm = await runVia(backend, dir, true, '/bin/hoststate');
    assert.ok(warm.preparedPid, 'a sandbox was prepared');
    assert.equal(warm.pid, warm.preparedPid, 'the program ran in the prepared sandbox');
    assert.equal(warm.status, 0, warm.out);
    assert.deepEqual(
      warm.out.split('\n').filter((l) => l.startsWith('inherited')),
      [],
      'stdin, stdout, stderr only',
    );
    assert.deepEqual(
      warm.out.split('\n').filter((l) => l.startsWith('writable ')),
      [],
      'no host state writable',
    );
    assert.match(warm.out, /^core_pattern: (Permission denied|Read-only file system)$/m);
    const pid1 = warm.out.split('\n').filter((l) => l.startsWith('pid 1 '));
    assert.equal(pid1.length, 3, warm.out.slice(-500));
    assert.deepEqual(
      pid1.filter((l) => l.endsWith(': ok')),
      [],
      'PID 1 cannot be traced or written',
    );
    const ids = warm.out.match(/^uid (\d+) euid (\d+) uid_map\s+(\d+)\s+(\d+)\s+(\d+)$/m);
    assert.ok(ids, warm.out.slice(0, 500));
    assert.deepEqual(ids.slice(1).map(Number), [0, 0, 0, SANDBOX_UID, 1], 'root inside, the sandbox uid outside');
    // Same exit statuses as a cold launch: an exit code, and a program stopped by the loop.
    for (const prepared of [true, false]) {
      const r = await runVia(backend, dir, prepared, '/bin/hello', ['exit=3']);
      assert.equal(r.status, 3, `exit=3 ${prepared ? 'prepared' : 'cold'}`);
      assert.equal(r.pid === r.preparedPid, prepared);
    }
    const stops: number[] = [];
    for (const prepared of [true, false]) {
      if (prepared) backend.prepareRerun();
      const proc = await backend.run(
        dir,
        { path: '/bin/sleeper', args: ['60'] },
        { onOutput: () => {}, onExit: () => {} },
      );
      const sleeping = () => descendants([proc.pid!]).some((p) => (exeOf(p) ?? '').endsWith('/sleeper'));
      await waitFor(sleeping, 'the sleeper running');
      await backend.stop(dir);
      stops.push(await proc.exited);
    }
    assert.equal(stops[0], stops[1], 'stopped by the loop: the same status prepared and cold');
    assert.ok([143, 137].includes(stops[1]!), `a signal's status, not ${stops[1]}`);
    // The program owns its file system in the prepared sandbox too (idmapped layers).
    const own = await runVia(backend, dir, true, '/bin/writer', ['write', '/bin/hoststate', '/root/new']);
    assert.match(own.out, /write \/bin\/hoststate: ok\nwrite \/root\/new: ok/);
    assert.equal(backend.preparedPid, null, 'used up');
  } finally {
    await backend.dropPrepared();
  }
});

test(
  'a prepared sandbox listens to nothing but its stdin, and an unused one is torn down',
  { skip: rootOnly },
  async () => {
    const warm = WarmSandbox.start();
    assert.ok(warm?.pid);
    const pid = warm.pid;
    const procs = warm.cgroup.procsFiles();
    try {
      // Once set up (as root: the idmap user namespace's handle), it waits holding no socket, no
      // FIFO, no file, no mount namespace of its own (it copies the host's at its go): only its stdio.
      // A descriptor closed between the listing and its readlink (the set-up still going) is left out.
      const fds = () =>
        readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
          try {
            return [[Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`)] as const];
          } catch {
            return [];
          }
        });
      await waitFor(() => fds().some(([, t]) => t.startsWith('user:[')), 'the idmap user namespace held', 10_000);
      await waitFor(
        () => fds().every(([fd, t]) => fd <= 2 || t.startsWith('user:[')),
        'its set-up pipes closed',
        10_000,
      );
      assert.equal(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'), 'no mount namespace yet');
      for (const [fd, target] of fds()) {
        if (fd <= 2) assert.match(target, /^(pipe|socket):/, `fd ${fd} is its pipe (a socketpair) to this process`);
      }
      assert.equal(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], '0', 'root until its go');
    } finally {
      // Also when a check above failed: a waiting sandbox would hold this test process open.
      await warm.dispose();
    }
    assert.equal(isAlive(pid), false, 'dropped: the process is gone');
    await waitFor(() => procs.every((f) => !existsSync(f)), 'its cgroup removed');
  },
);

test('a prepared sandbox ends when the studio that made it dies', { skip: rootOnly }, async () => {
  const script = `import { WarmSandbox } from ${JSON.stringify(join(ROOT, 'src/core/backend/host/warm.ts'))};
const w = WarmSandbox.start(); console.log(w.pid); setInterval(() => {}, 1000);`;
  const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  owner.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const pid = Number(await waitFor(() => /^(\d+)\n/.exec(out)?.[1], 'the prepared sandbox pid'));
    assert.ok(isAlive(pid));
    owner.kill('SIGKILL');
    await waitFor(() => !isAlive(pid), 'the prepared sandbox to end with its owner (end of file on its stdin)');
  } finally {
    owner.kill('SIGKILL');
  }
});

test('the dev loop reruns in a sandbox prepared when idle and sees the new build', { skip: rootOnly }, async () => {
  const dir = makeInstance(['writer']);
  // The writer appends a line to the file and prints its line count: generation g has g + 1
  // lines in image/, so the rerun of the new build prints g + 2 (run/ is wiped by each build).
  writeFileSync(join(dir, 'image', 'etc', 'app.conf'), 'x\n');
  assert.ok((await new HostBackend(dir).build()).ok);
  const backend = new HostWatchBackend();
  const loop = await DevLoop.open({ instanceDir: dir, backend, settings: loadSettings(dir) });
  try {
    await loop.queue.whenIdle();
    loop.queue.lastRun = { path: '/bin/writer', args: ['/etc/app.conf'] };
    for (let gen = 1; gen <= 3; gen++) {
      let out = '';
      let preparedAtStart: number | null = null;
      let ranIn: number | undefined;
      const onOut = (e: { chunk: string }) => {
        ranIn ??= loop.queue.runningProcess?.pid; // set before its output can arrive
        out += e.chunk;
      };
      const onStart = () => (preparedAtStart = backend.preparedPid);
      loop.queue.on('run-output', onOut);
      loop.queue.on('run-start', onStart);
      writeFileSync(join(dir, 'image', 'etc', 'app.conf'), 'x\n'.repeat(gen + 1));
      await waitFor(() => /has \d+ line/.test(out), `the rerun of generation ${gen}`);
      await loop.queue.runningProcess?.exited;
      loop.queue.off('run-output', onOut);
      loop.queue.off('run-start', onStart);
      assert.equal(out, `/etc/app.conf has ${gen + 2} line(s)\n`, 'the new build, not the previous one');
      if (gen === 1) {
        assert.equal(preparedAtStart, null, 'nothing ran before: no idle moment to prepare one in');
      } else {
        assert.ok(preparedAtStart, 'a sandbox was prepared once the last rerun printed');
        assert.equal(ranIn, preparedAtStart, 'and the rerun ran in it');
      }
    }
  } finally {
    await loop.close();
  }
  assert.equal(backend.preparedPid, null, 'nothing left prepared after close');
});

test('as a normal user: a program in a prepared sandbox is confined the same way', { skip: unprivilegedSkip() }, () => {
  const dir = makeInstance(['hoststate']);
  const asNobody = asNobodyIn(dir);
  assert.equal(asNobody('build').status, 0);
  const script = join(dirname(dir), 'prepared-run.mts');
  writeFileSync(
    script,
    `import { closeInheritedDescriptors } from ${JSON.stringify(join(ROOT, 'src/core/sandbox/inherited-fds.ts'))};
import { HostWatchBackend } from ${JSON.stringify(join(ROOT, 'src/core/watch/host-backend.ts'))};
closeInheritedDescriptors();
const b = new HostWatchBackend();
b.prepareRerun();
const prepared = b.preparedPid;
let out = '';
const hooks = { onOutput: (c) => (out += c), onExit: () => {} };
const p = await b.run(process.argv[2], { path: '/bin/hoststate', args: [] }, hooks);
console.log(JSON.stringify({ prepared, ran: p.pid, status: await p.exited, out }));
`,
  );
  chmodSync(script, 0o644);
  const r = spawnSync('setpriv', [...NOBODY, process.execPath, '--import', 'tsx', script, dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
  });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    prepared: number;
    ran: number;
    status: number;
    out: string;
  };
  assert.ok(res.prepared, 'a sandbox was prepared');
  assert.equal(res.ran, res.prepared, 'the program ran in it');
  assert.equal(res.status, 0, res.out);
  assert.deepEqual(
    res.out.split('\n').filter((l) => /^(inherited|writable) /.test(l)),
    [],
  );
  assert.match(res.out, /^uid 0 euid 0 uid_map\s+0\s+65534\s+1$/m, 'root inside, nobody outside');
});
