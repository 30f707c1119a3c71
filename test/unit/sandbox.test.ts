// Sandbox pieces without launching: the seccomp program, mount plan, env, limits, exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, seccompProgram } from '../../src/core/sandbox/seccomp.ts';
import { evaluate } from '../helpers/seccomp-eval.ts';
import { planMounts, missingMountPoints, MountError, type LayerDirs } from '../../src/core/sandbox/mounts.ts';
import { programEnv } from '../../src/core/sandbox/env.ts';
import { rlimitsFor, prlimitArgs } from '../../src/core/sandbox/rlimits.ts';
import { readRuntimeConfig, RuntimeConfigError } from '../../src/core/sandbox/runtime-config.ts';
import {
  bwrapArgs,
  execLaunch,
  NO_SCOPE_WARNING,
  occlumExitStatus,
  PROC_READ_ONLY,
  runLaunch,
} from '../../src/core/sandbox/launch.ts';
import { stagePlan } from '../../src/core/sandbox/stage.ts';
import { SANDBOX_UID } from '../../src/core/sandbox/identity.ts';
import { isRunCgroupName } from '../../src/core/sandbox/cgroup.ts';
import { occlumJsonTemplateText, OCCLUM_JSON_TEMPLATE } from '../../src/core/instance/template.ts';

function layers(root: string): LayerDirs {
  const l = {
    lower: join(root, 'lower'),
    upper: join(root, 'upper'),
    work: join(root, 'work'),
    merged: join(root, 'm'),
    ramfs: join(root, 'ramfs'),
    sefs: join(root, 'sefs'),
  };
  for (const d of Object.values(l)) mkdirSync(d, { recursive: true });
  return l;
}

test('seccomp program: 8-byte sock_filter records, jumps stay in range and end in returns', () => {
  const prog = seccompProgram({ denyFork: true });
  const buf = assemble(prog);
  assert.equal(buf.length, prog.length * 8);
  prog.forEach((ins, i) => {
    if ((ins.code & 0x07) === 0x05) {
      assert.ok(i + 1 + ins.jt < prog.length && i + 1 + ins.jf < prog.length, `jump at ${i} out of range`);
    }
  });
  assert.equal(prog.at(-1)!.code, 0x06);
  assert.equal(prog.at(-1)!.k, 0x00050000 | 38); // ERRNO(ENOSYS)
});

test('seccomp programs: every one refuses TIOCSTI, TIOCLINUX, tracing, keyrings and other ABIs; --allow-fork forks', () => {
  const [X86_64, I386, ALLOW, EPERM, ENOSYS] = [0xc000003e, 0x40000003, 0x7fff0000, 0x50001, 0x50026];
  for (const policy of [{ denyFork: true }, { denyFork: true, notify: true }, { denyFork: false }]) {
    const prog = seccompProgram(policy);
    const what = JSON.stringify(policy);
    assert.equal(evaluate(prog, X86_64, 16, [1, 0x5412]), EPERM, `TIOCSTI ${what}`);
    assert.equal(evaluate(prog, X86_64, 16, [1, 0x541c]), EPERM, `TIOCLINUX ${what}`);
    assert.equal(evaluate(prog, X86_64, 16, [1, 0x5413]), ALLOW, `TIOCGWINSZ ${what}`);
    assert.equal(evaluate(prog, I386, 54, [1, 0x5412]), ENOSYS, `i386 ioctl ${what}`);
    assert.equal(evaluate(prog, X86_64, 0x40000000 | 514, [1, 0x5412]), ENOSYS, `x32 ioctl ${what}`);
    for (const nr of [101, 310, 311, 248, 249, 250]) assert.equal(evaluate(prog, X86_64, nr), ENOSYS, `${nr} ${what}`);
  }
  assert.equal(evaluate(seccompProgram({ denyFork: false }), X86_64, 57), ALLOW);
  assert.equal(evaluate(seccompProgram({ denyFork: true }), X86_64, 57), ENOSYS);
});

test('template config: overlay root, auto /proc and /dev, hostfs of the instance with build/ and run/ masked', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const cfg = readRuntimeConfig(occlumJsonTemplateText());
  const plan = planMounts(cfg, inst, layers(join(inst, 'run/host')));
  const kinds = plan.mounts.map((m) => `${m.kind} ${m.target}`);
  assert.deepEqual(kinds, ['proc /proc', 'dev /dev', 'bind /host', 'mask /host/build', 'mask /host/run']);
});

test('ramfs → tmpfs sized by the kernel heap; sefs → persistent dir; temporary; unknown type refused', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const json = JSON.parse(JSON.stringify(OCCLUM_JSON_TEMPLATE));
  json.mount.push(
    { target: '/tmp', type: 'ramfs' },
    { target: '/data', type: 'sefs', source: './data', options: { temporary: true } },
    { target: '/proc', type: 'procfs' },
  );
  const l = layers(join(inst, 'run/host'));
  const plan = planMounts(readRuntimeConfig(JSON.stringify(json)), inst, l);
  const tmpfs = plan.mounts.find((m) => m.kind === 'tmpfs');
  assert.equal(tmpfs && tmpfs.kind === 'tmpfs' && tmpfs.size, 32 * 1024 * 1024);
  assert.deepEqual(plan.temporary, [join(l.sefs, 'data')]);
  assert.equal(plan.mounts.filter((m) => m.kind === 'proc').length, 1, 'user /proc shadows the automatic one');
  assert.deepEqual(missingMountPoints(plan).sort(), ['/data', '/host', '/proc', '/tmp']);
  mkdirSync(join(l.lower, 'tmp'));
  assert.ok(!missingMountPoints(plan).includes('/tmp'));
  json.mount.push({ target: '/x', type: 'nfs' });
  assert.throws(
    () => planMounts(readRuntimeConfig(JSON.stringify(json)), inst, l),
    (e: unknown) => e instanceof MountError && /unsupported file system type "nfs"/.test(e.message),
  );
});

test("root mount rules and hostfs source checks give Occlum's messages", () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const l = layers(join(inst, 'run/host'));
  const json = JSON.parse(JSON.stringify(OCCLUM_JSON_TEMPLATE));
  json.mount[0].options.layers = [json.mount[0].options.layers[1]];
  assert.throws(
    () => planMounts(readRuntimeConfig(JSON.stringify(json)), inst, l),
    (e: unknown) => e instanceof MountError && /image SEFS/.test(e.occlum ?? ''),
  );
  const j2 = JSON.parse(JSON.stringify(OCCLUM_JSON_TEMPLATE));
  j2.mount[1].source = './nope';
  assert.throws(
    () => planMounts(readRuntimeConfig(JSON.stringify(j2)), inst, l),
    (e: unknown) => e instanceof MountError && e.occlum === 'Source is expected for HostFS',
  );
  assert.throws(() => readRuntimeConfig('{ "entry_points": ["bin"] }'), RuntimeConfigError);
  assert.throws(() => readRuntimeConfig('{ // comment\n}'), /strict JSON/);
});

test('environment: env.default, then env.untrusted from the caller overriding, nothing else', () => {
  const r = programEnv(['OCCLUM=yes', 'A=1', 'bad'], ['A', 'EXAMPLE', 'UNSET'], {
    A: '2',
    EXAMPLE: 'x',
    HOME: '/root',
    PATH: '/bin',
  });
  assert.deepEqual(r.env, [
    ['OCCLUM', 'yes'],
    ['A', '2'],
    ['EXAMPLE', 'x'],
  ]);
  assert.deepEqual(r.missing, ['UNSET']);
});

test('rlimits: stack from default_stack_size, address space from user_space_size; soft limits only', () => {
  const r = rlimitsFor(readRuntimeConfig(occlumJsonTemplateText()));
  assert.deepEqual(r, { stack: 4 * 1024 * 1024, as: 300 * 1024 * 1024 });
  assert.deepEqual(prlimitArgs(r), [`--as=${300 * 1024 * 1024}:`, `--stack=${4 * 1024 * 1024}:`]);
});

test('bwrap arguments: cleared env, cwd /, caps dropped, seccomp fd, program last', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const plan = planMounts(readRuntimeConfig(occlumJsonTemplateText()), inst, layers(join(inst, 'run/host')));
  const a = bwrapArgs({
    plan,
    argv: ['/bin/hello', 'x'],
    env: [['OCCLUM', 'yes']],
    rlimits: {},
    seccompFile: '/f',
    identity: { privileged: true, uid: 65533, gid: 65533 },
    stager: null,
  });
  const s = a.join(' ');
  assert.match(s, /--clearenv --setenv OCCLUM yes --chdir \/ --seccomp 9 -- \/bin\/hello x$/);
  assert.match(s, /--cap-drop ALL/);
  assert.ok(!s.includes('--unshare-net'), 'network stays shared (Occlum has networking through OCALLs)');
});

test('exit status as occlum run: & 0x7F for exits, 128+n for signals', () => {
  assert.equal(occlumExitStatus(0, null), 0);
  assert.equal(occlumExitStatus(3, null), 3);
  assert.equal(occlumExitStatus(255, null), 127);
  assert.equal(occlumExitStatus(137, null), 137);
  assert.equal(occlumExitStatus(null, 'SIGKILL'), 137);
  assert.equal(occlumExitStatus(null, 'SIGSEGV'), 139);
});

test('as root the plan is staged: idmapped binds of the layers, run/host and hostfs under STAGE', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const json = JSON.parse(JSON.stringify(OCCLUM_JSON_TEMPLATE));
  json.mount.push({ target: '/tmp', type: 'ramfs' }, { target: '/data', type: 'sefs', source: './data' });
  const l = layers(join(inst, 'run/host'));
  const { plan, stagerArgs } = stagePlan(planMounts(readRuntimeConfig(JSON.stringify(json)), inst, l));
  assert.deepEqual(stagerArgs, [
    `bind:lower=${l.lower}`,
    `bind:run=${join(inst, 'run/host')}`,
    'dir:merged',
    `bind:hostfs0=${realpathSync(inst)}`,
    'dir:ramfs/tmp',
  ]);
  assert.deepEqual(
    [plan.layers.lower, plan.layers.upper, plan.layers.work, plan.layers.merged],
    ['/tmp/lower', '/tmp/run/upper', '/tmp/run/work', '/tmp/merged'],
  );
  const sources = plan.mounts.map((m) => (m.kind === 'bind' ? m.source : m.kind === 'tmpfs' ? m.staging : m.kind));
  assert.deepEqual(sources, ['proc', 'dev', '/tmp/hostfs0', 'mask', 'mask', '/tmp/ramfs/tmp', '/tmp/run/sefs/data']);
});

test('launch commands: as root stage, then drop to the sandbox uid; /proc host state read-only', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const plan = planMounts(readRuntimeConfig(occlumJsonTemplateText()), inst, layers(join(inst, 'run/host')));
  const base = { plan, argv: ['/bin/hello'], env: [], rlimits: {}, seccompFile: '/s.bpf', stager: '/x/stage' };
  const root = runLaunch({ ...base, identity: { privileged: true, uid: SANDBOX_UID, gid: SANDBOX_UID } });
  assert.equal(root.file, '/x/stage');
  const head = ['--now', '65533', '65533', '/tmp', 'stage', `bind:lower=${plan.layers.lower}`];
  assert.deepEqual(root.args.slice(0, 6), head);
  const token = (name: string) => root.args[root.args.indexOf(name) + 1];
  assert.equal(token('seccomp'), '/s.bpf', 'fd 9 is opened once, by the stager as root');
  assert.equal(token('overlay'), 'lowerdir=/tmp/lower,upperdir=/tmp/run/upper,workdir=/tmp/run/work');
  const bwrap = root.args.slice(root.args.indexOf('--') + 1);
  assert.equal(bwrap[0], 'bwrap');
  assert.match(bwrap.join(' '), /--bind \/tmp\/merged \/ /, 'bwrap uses the staged paths');
  const user = runLaunch({ ...base, identity: { privileged: false, uid: 1000, gid: 1000 } });
  assert.deepEqual(user.args.slice(0, 5), ['--now', '1000', '1000', '/tmp', 'seccomp'], 'nothing to stage');
  const shell = runLaunch({ ...base, stager: null, identity: { privileged: false, uid: 1000, gid: 1000 } });
  assert.deepEqual(shell.args.slice(0, 2), ['--user', '--map-root-user'], 'without the stager: unshare');
  assert.match(shell.args.at(-1)!, / 9<'\/s\.bpf'$/);
  const a = bwrapArgs({ ...base, identity: { privileged: false, uid: 1000, gid: 1000 } }).join(' ');
  for (const x of PROC_READ_ONLY) assert.ok(a.includes(`--ro-bind-try /proc/${x} /proc/${x}`), `/proc/${x} read-only`);
  assert.throws(
    () => runLaunch({ ...base, stager: null, identity: { privileged: true, uid: 1, gid: 1 } }),
    /occlum-studio-stage is missing/,
  );
  const exec = execLaunch({ ...base, identity: { privileged: true, uid: SANDBOX_UID, gid: SANDBOX_UID } }, 42);
  assert.equal(exec.file, '/bin/sh');
  assert.match(exec.args[1], /^exec 9<'\/s\.bpf'\nexec 8<'\/x\/stage'\nexec 'nsenter' '-t' '42' '-U' '-m' '-p' '--' /);
});

test('Landlock: an exec is scoped by the stager inside the namespace; without the stager a warning', () => {
  const inst = mkdtempSync(join(tmpdir(), 'occlum-sb-'));
  const plan = planMounts(readRuntimeConfig(occlumJsonTemplateText()), inst, layers(join(inst, 'run/host')));
  const base = { plan, argv: ['/bin/hello'], env: [], rlimits: {}, seccompFile: '/s.bpf', stager: '/x/stage' };
  const user = { privileged: false, uid: 1000, gid: 1000 };
  // As root: the stager opened by the root shell, run through /proc once nsenter made the
  // process the sandbox uid (a domain before nsenter would forbid it the holder's /proc/<pid>/ns).
  const root = execLaunch({ ...base, identity: { privileged: true, uid: SANDBOX_UID, gid: SANDBOX_UID } }, 42);
  assert.match(root.args[1], /'\/bin\/sh' '-c' 'exec \/proc\/self\/fd\/8 --scope -- '\\''bwrap'\\'' /);
  const exec = execLaunch({ ...base, identity: user }, 42);
  assert.equal(exec.file, 'nsenter');
  assert.match(exec.args.at(-1)!, /^exec '\/x\/stage' --scope ('pin' '12' \S+ '\d+:\d+' )?-- 'bwrap' .* 9<'\/s\.bpf'$/);
  const warning = `echo ${"'" + NO_SCOPE_WARNING.replace(/'/g, "'\\''") + "'"} >&2\n`;
  const bare = execLaunch({ ...base, stager: null, identity: user }, 42);
  assert.ok(bare.args.at(-1)!.startsWith(`${warning}exec 'bwrap' `), bare.args.at(-1));
  const run = runLaunch({ ...base, stager: null, identity: user });
  assert.ok(run.args.at(-1)!.includes(`\n${warning}exec 'bwrap' `), run.args.at(-1));
  assert.match(NO_SCOPE_WARNING, /^occlum-studio: sandbox: warning: no native stager .*abstract unix sockets/);
});

test('a cgroup name read from server.json is used only if the studio could have made it', () => {
  for (const ok of ['occlum-studio-123-4', 'occlum-studio-123-holder']) assert.equal(isRunCgroupName(ok), true, ok);
  for (const bad of ['../../pids', 'occlum-studio-1-2/../../x', 'occlum-studio-1-2/sub', '', 'x', 7, null]) {
    assert.equal(isRunCgroupName(bad), false, String(bad));
  }
});

test('pins of a hostfs view of the instance and its source: bound from the stager descriptors of the inodes checked', () => {
  const inst = realpathSync(mkdtempSync(join(tmpdir(), 'occlum-sb-')));
  writeFileSync(join(inst, 'Occlum.json'), '{}');
  mkdirSync(join(inst, 'image'));
  const plan = planMounts(readRuntimeConfig(occlumJsonTemplateText()), inst, layers(join(inst, 'run/host')));
  const id = (name: string) => {
    const st = statSync(join(inst, name), { bigint: true });
    return `${st.dev}:${st.ino}`;
  };
  const base = { plan, argv: ['/bin/hello'], env: [], rlimits: {}, seccompFile: '/s.bpf', stager: '/x/stage' };
  const user = { privileged: false, uid: 1000, gid: 1000 };
  const a = bwrapArgs({ ...base, identity: user }).join(' ');
  assert.match(a, / --bind-fd 12 \/host .* --ro-bind-fd 13 \/host\/Occlum\.json --bind-fd 14 \/host\/image /);
  const pins = [
    ...['pin', '12', inst, id('')],
    ...['pin', '13', join(inst, 'Occlum.json'), id('Occlum.json')],
    ...['pin', '14', join(inst, 'image'), id('image')],
  ];
  const run = runLaunch({ ...base, identity: user }).args;
  assert.deepEqual(run.slice(run.indexOf('pin'), run.indexOf('pin') + 12), pins, 'the run stager opens them');
  const exec = execLaunch({ ...base, identity: user }, 42).args.at(-1)!;
  assert.ok(exec.startsWith(`exec '/x/stage' --scope ${pins.map((p) => `'${p}'`).join(' ')} -- 'bwrap' `), exec);
  const bare = bwrapArgs({ ...base, stager: null, identity: user }).join(' ');
  assert.match(bare, / --ro-bind \S+\/Occlum\.json \/host\/Occlum\.json --bind \S+\/image \/host\/image /, 'by path');
  // As root the hostfs source is staged (the stager resolves it without links): only the pins.
  const root = { ...base, identity: { privileged: true, uid: SANDBOX_UID, gid: SANDBOX_UID } };
  const r = runLaunch(root).args.join(' ');
  assert.match(r, / --bind \/tmp\/hostfs0 \/host .* --ro-bind-fd 12 \/host\/Occlum\.json --bind-fd 13 \/host\/image /);
  assert.match(r, / pin 12 \/tmp\/hostfs0\/Occlum\.json /);
});
