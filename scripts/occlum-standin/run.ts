// Stand-ins for build/bin/occlum-run and occlum_exec_client/server (Occlum's src/run/main.c and
// src/exec): the instance's image runs in occlum-studio's host sandbox with the config the build
// produced. Exit statuses as occlum-run gives them (1 boot failure, 127 launch failure, code &
// 0x7f, 128+n); the exec server holds one sandbox namespace and answers clients on
// run/occlum_exec.sock (JSON lines, not gRPC); `exec` prints `Error: <raw wait status>` and
// exits 1 for any failure, launch errors appear on the server's stderr.
import { sandboxIdentity, stagerPath } from '../../src/core/sandbox/identity.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  execLaunch,
  occlumExitStatus,
  READY_LINE,
  runLaunch,
  serverLaunch,
  type Launch,
} from '../../src/core/sandbox/launch.ts';
import { descendants, namespaceOf } from '../../src/core/backend/host/procs.ts';
import { bootInstance, type Booted } from './boot.ts';
import { checkProgram, sealRunLayer } from './program.ts';
import { fail } from './cli.ts';

const SOCKET = (dir: string) => join(dir, 'run', 'occlum_exec.sock');

function spawnLaunch(l: Launch, stdio: 'inherit' | 'ignore' | ['ignore' | 'pipe', 'pipe', 'inherit']): ChildProcess {
  // setpriv --pdeathsig: the sandbox dies with this process, however it ends (as a normal user; as
  // root the stager's change of uid clears the death signal, see the exec server's holder).
  return spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', l.file, ...l.args], { env: l.env, stdio });
}

/** occlum-run folds the status to 7 bits (spec 1.3.1); exec keeps the app's whole exit code. */
const exitOf = (child: ChildProcess, fold: boolean) =>
  new Promise<number>((res) =>
    child.on('exit', (code, signal) =>
      res(fold ? occlumExitStatus(code, signal) : signal ? occlumExitStatus(null, signal) : (code ?? 1)),
    ),
  );

export async function occlumRun(argv: string[]): Promise<void> {
  const [, path, ...args] = argv; // argv[0]: the path this was invoked as (what pgrep looks for)
  if (!path)
    fail('[ERROR] occlum-run: at least one argument must be provided\nUsage: occlum-run <executable> [<args>]', 1);
  const b = await bootInstance(process.cwd());
  const c = checkProgram(b, path, args, process.env);
  if (!c.ok) fail(c.lines.join('\n'), 127);
  b.log.info('process', `Process created: elf = ${path}, pid = 1`);
  const child = spawnLaunch(runLaunch(c.spec), 'inherit');
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(s, () => child.kill('SIGKILL'));
  const status = await exitOf(child, true);
  b.log.debug('process', `process 1 ended with status ${status}`);
  sealRunLayer(b);
  process.exit(status);
}

// ---- exec server ------------------------------------------------------------------------------

interface Request {
  op: 'status' | 'exec' | 'done' | 'stop';
  path?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  status?: number;
  time?: number;
}

export async function execServer(argv: string[]): Promise<void> {
  const [, flag, dir] = argv;
  if (flag !== '-d' || !dir)
    fail('error: The following required arguments were not provided:\n    -d <instance_dir>', 1);
  process.chdir(dir);
  if (await ask(dir, { op: 'status' }).catch(() => null)) {
    console.log('server stared');
    return;
  }
  rmSync(SOCKET(dir), { force: true });
  const b = await bootInstance(dir);
  // Occlum's enclave dies with its server process, even a SIGKILLed one: the holder reads a pipe
  // only this process writes, and ends at its end of file.
  const holder = spawnLaunch(serverLaunch(b.plan, sandboxIdentity(), stagerPath(), 'stdin'), [
    'pipe',
    'pipe',
    'inherit',
  ]);
  const ready = await new Promise<boolean>((res) => {
    let out = '';
    holder.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(READY_LINE)) res(true);
    });
    holder.on('exit', () => res(false));
  });
  // exec joins the namespaces of PID 1 of the sandbox (unshare's child), as the host backend does.
  const nsInit = ready
    ? descendants([holder.pid!]).find((p) => namespaceOf(p, 'pid') !== namespaceOf(holder.pid!, 'pid'))
    : undefined;
  if (!nsInit) fail('[ERROR] occlum-pal: occlum stand-in: the sandbox of the exec server did not start', 1);
  let next = 2;
  const stop = (code: number) => {
    holder.kill('SIGKILL');
    sealRunLayer(b);
    rmSync(SOCKET(dir), { force: true });
    process.exit(code);
  };
  holder.on('exit', () => stop(1));
  mkdirSync(join(dir, 'run'), { recursive: true });
  const server = createServer((sock) => serve(sock, b, nsInit, () => next++, stop));
  server.listen(SOCKET(dir));
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => stop(0));
}

function serve(sock: Socket, b: Booted, holder: number, pid: () => number, stop: (code: number) => void): void {
  let buf = '';
  sock.on('data', (c) => {
    buf += c.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const req = JSON.parse(buf.slice(0, nl)) as Request;
      buf = buf.slice(nl + 1);
      const reply = (r: unknown) => sock.write(JSON.stringify(r) + '\n');
      if (req.op === 'status') reply({ ok: true });
      else if (req.op === 'exec') {
        const c = checkProgram(b, req.path ?? '', req.args ?? [], req.env ?? {});
        if (!c.ok) {
          process.stderr.write(c.lines.join('\n') + '\n'); // the server's stderr, as in Occlum
          reply({ ok: false });
        } else {
          b.log.info('process', `Process created: elf = ${req.path}, pid = ${pid()}`);
          reply({ ok: true, launch: execLaunch(c.spec, holder) });
        }
      } else if (req.op === 'done') {
        b.log.log('trace', 'syscall', `Syscall { num = ExitGroup, exit_status = ${req.status} }`);
        sealRunLayer(b);
        reply({ ok: true });
      } else if (req.op === 'stop') {
        reply({ ok: true });
        // Occlum: SIGTERM to every process, SIGKILL after min(t, 3) s, then the enclave ends.
        setTimeout(() => stop(0), Math.min(req.time ?? 0, 3) * 1000);
      }
    }
  });
  sock.on('error', () => {});
}

/** One request to the server; a server that does not answer within 10 s counts as gone. */
function ask(dir: string, req: Request): Promise<{ ok: boolean; launch?: Launch }> {
  return new Promise((res, rej) => {
    if (!existsSync(SOCKET(dir))) return rej(new Error('no socket'));
    const s = createConnection(SOCKET(dir));
    s.setTimeout(10_000, () => {
      s.destroy();
      rej(new Error('timeout'));
    });
    let buf = '';
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (c) => {
      buf += c.toString('utf8');
      if (buf.includes('\n')) {
        s.end();
        res(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
      }
    });
    s.on('error', rej);
  });
}

// ---- exec client --------------------------------------------------------------------------------

export async function execClient(argv: string[]): Promise<void> {
  const [, cmd, ...rest] = argv;
  const dir = process.cwd();
  const healthy = () =>
    ask(dir, { op: 'status' }).then(
      () => true,
      () => false,
    );
  if (cmd === 'start') {
    if (await healthy()) {
      console.log('server is running.');
      return;
    }
    // As Occlum's client does: the server gets the physical instance path, stdout to /dev/null.
    const server = spawn(join('build', 'bin', 'occlum_exec_server'), ['-d', process.cwd()], {
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    server.unref();
    let alive = true;
    server.on('exit', () => (alive = false));
    for (let i = 0; i < 600 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (await healthy()) {
        console.log('server is running.');
        process.exit(0);
      }
    }
    console.log('start server failed server is not running. It is not able to start.');
    fail('Error: -1', 1);
  }
  if (cmd === 'stop') {
    const t = rest[0] === '-t' ? Number(rest[1]) : 10;
    if (!(await ask(dir, { op: 'stop', time: t }).catch(() => null))) fail('Error: -1', 1);
    console.log('server is stopping.');
    return;
  }
  if (cmd !== 'exec')
    fail(`error: Found argument '${cmd ?? ''}' which wasn't expected, or isn't valid in this context`, 1);
  const [path, ...args] = rest[0] === '--' ? rest.slice(1) : rest;
  const r = await ask(dir, { op: 'exec', path, args, env: process.env }).catch(() => null);
  if (!r) fail('Error: -1', 1);
  if (!r.ok || !r.launch) process.exit(1); // the reason is on the server's stderr
  const child = spawnLaunch(r.launch, 'inherit');
  // Ctrl-C / SIGTERM / SIGQUIT on the client: the process is killed, the client exits 1.
  for (const s of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
    process.on(s, () => {
      child.kill('SIGKILL');
      process.exit(1);
    });
  }
  const status = await exitOf(child, false);
  await ask(dir, { op: 'done', status }).catch(() => null);
  // The raw wait status Occlum's client prints: exit code << 8, or the signal number.
  const raw = status > 128 && status <= 192 ? status - 128 : (status & 0xff) << 8;
  if (raw !== 0) fail(`Error: ${raw}`, 1);
}
