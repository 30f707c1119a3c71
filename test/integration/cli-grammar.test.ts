// One command-line grammar (README "Command line"), rule by rule, through the built CLI and over
// every command: `help CMD` = `CMD --help`, -V/--version, "unknown command" with the nearest name,
// strict options, `-C DIR` meaning the instance everywhere (positionally too where the instance is
// the main argument), the exit statuses 0/1/2, and the supported Occlum versions stated once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';
import { ABOUT, commands } from '../../src/commands/registry.ts';
import type { Command } from '../../src/commands/command.ts';
import { SUPPORTED_OCCLUM } from '../../src/core/config/versions.ts';

const all: Command[] = [];
const cleanup: string[] = [];
let inst = '';
let tmp = '';

before(async () => {
  for (const load of Object.values(commands)) all.push((await load()).command);
  inst = makeInstance(['hello']);
  cleanup.push(dirname(inst));
  assert.equal(runCli(['build', '--backend', 'host', '-C', inst]).status, 0);
  tmp = mkdtempSync(join(tmpdir(), 'cli-grammar-'));
  cleanup.push(tmp);
});
after(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

const HOST = { env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }; // no Occlum on PATH: the host backend
const programOf = (c: Command) => (c.programAfter === 'first-argument' ? ['/bin/hello'] : []);

test('help CMD, CMD --help and CMD -h print the same help of every command, exit 0', () => {
  const general = runCli(['help']);
  assert.equal(general.status, 0);
  assert.equal(general.stdout, runCli(['--help']).stdout);
  // Every command, with what it is for: a newcomer's --help says more than the names.
  const lines = general.stdout.split('\n');
  const width = Math.max(...Object.keys(ABOUT).map((n) => n.length));
  for (const [name, about] of Object.entries(ABOUT))
    assert.ok(lines.includes(`  ${name.padEnd(width)}  ${about}`), name);
  assert.equal(Object.keys(ABOUT).length, all.length);
  for (const c of all) {
    const h = runCli(['help', c.name]);
    assert.equal(h.status, 0, c.name);
    assert.match(h.stdout, new RegExp(`^usage: occlum-studio ${c.name}\\b`), c.name);
    assert.ok(h.stdout.includes(c.summary), c.name);
    assert.equal(runCli([c.name, '--help']).stdout, h.stdout, `${c.name} --help`);
    // After an option that takes a value, --help is still the studio's, not the option's value's.
    if (c.instance) assert.equal(runCli([c.name, '-C', inst, '--help']).stdout, h.stdout, `${c.name} -C DIR --help`);
  }
  assert.equal(runCli(['check', '-h']).stdout, runCli(['help', 'check']).stdout, '-h');
  // A program's own --help is the program's.
  const prog = runCli(['run', '--backend', 'host', '-C', inst, '/bin/hello', '--help'], HOST);
  assert.equal(prog.stdout, 'Hello from /bin/hello\narg: --help\n');
});

test('-V and --version print the version and the supported Occlum versions, exit 0', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['-V', '--version']) {
    const r = runCli([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `occlum-studio ${pkg.version} (Occlum.json rules: ${SUPPORTED_OCCLUM})\n`);
  }
});

test('an unknown command says "unknown command" with the nearest one, exit 2', () => {
  for (const c of all) {
    for (const args of c.name === 'run' ? [[`${c.name}x`], ['help', `${c.name}x`]] : [[`${c.name}x`]]) {
      const r = runCli(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`unknown command "${c.name}x"; the nearest is "${c.name}"`), args.join(' '));
    }
  }
  assert.match(runCli(['stauts']).stderr, /the nearest is "status"/, 'a transposition');
  const hostile = runCli(['\x1b]0;owned\x07stat']);
  assert.match(hostile.stderr, /unknown command "\\e\]0;owned\\x07stat"/, 'shown, not acted on');
  const far = runCli(['frobnicate', 'x']);
  assert.equal(far.status, 2);
  assert.match(far.stderr, /unknown command "frobnicate"; the nearest is "\w+"/);
});

test('every command refuses an unknown option or a missing option value as a usage error, exit 2', () => {
  for (const c of all) {
    const r = runCli([c.name, '--no-such-option', ...programOf(c)], { input: '' });
    assert.equal(r.status, 2, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, /^occlum-studio: unknown option --no-such-option\nusage: occlum-studio /, c.name);
    if (c.instance) {
      const v = runCli([c.name, '-C']);
      assert.equal(v.status, 2, c.name);
      assert.match(v.stderr, /option --instance needs a value/, c.name);
    }
  }
});

test('every command that works on an instance takes -C DIR; a missing DIR is an input error, exit 2', () => {
  const creates = new Set(['init', 'new', 'demo']); // their DIR may not exist yet
  const onInstance = all.filter((c) => c.instance);
  assert.deepEqual(onInstance.map((c) => c.name).sort(), [
    'build',
    'check',
    'demo',
    'exec',
    'fs',
    'init',
    'new',
    'run',
    'size',
    'start',
    'status',
    'stop',
    'watch',
  ]);
  for (const c of onInstance) {
    assert.match(c.usage, /-C DIR/, `${c.name} usage names -C DIR`);
    if (creates.has(c.name)) continue;
    const sub = c.name === 'fs' ? ['ls'] : [];
    const r = runCli([c.name, ...sub, '-C', '/nonexistent/inst', ...programOf(c)], HOST);
    assert.equal(r.status, 2, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, /\/nonexistent\/inst: no such directory \(given with -C\)/, c.name);
  }
  const tui = runCli(['-C', '/nonexistent/inst']);
  assert.equal(tui.status, 2);
  assert.match(tui.stderr, /\/nonexistent\/inst: no such directory \(given with -C\)/);
});

test('-C DIR means what the positional DIR or running inside DIR means', () => {
  const covered = new Set<string>();
  const both = (name: string, extra: string[] = []) => {
    covered.add(name);
    const x = runCli([name, '-C', inst, ...extra], HOST);
    const y = runCli([name, inst, ...extra], HOST);
    assert.equal(x.status, 0, `${name}: ${x.stderr}`);
    const t = (s: string) => s.replace(/\d+ ms/, 'T');
    assert.deepEqual([y.status, t(y.stdout)], [x.status, t(x.stdout)], name);
  };
  const inside = (name: string, extra: string[] = []) => {
    covered.add(name);
    const x = runCli([name, '-C', inst, ...extra], HOST);
    const y = runCli([name, ...extra], { ...HOST, cwd: inst });
    assert.equal(x.status, 0, `${name}: ${x.stderr}`);
    assert.deepEqual([y.status, y.stdout], [x.status, x.stdout], name);
  };
  both('check');
  both('build', ['--backend', 'host']);
  inside('status', ['--backend', 'host']);
  inside('run', ['--backend', 'host', '/bin/hello']);
  inside('fs', ['ls', '/bin']);
  // size measures a run: the figures differ from run to run, the outcome does not.
  covered.add('size');
  for (const args of [
    ['size', '-C', inst, '/bin/hello'],
    ['size', '/bin/hello'],
  ]) {
    const r = runCli(args, { ...HOST, cwd: args.includes('-C') ? undefined : inst });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  // The server's lifecycle, once with -C DIR and once inside DIR: the same outputs.
  const lifecycle = (withC: boolean) =>
    [['start'], ['exec', '/bin/hello'], ['stop']].map(([name, ...rest]) => {
      covered.add(name!);
      const args = [name!, '--backend', 'host', ...(withC ? ['-C', inst] : []), ...rest];
      const r = runCli(args, { ...HOST, ...(withC ? {} : { cwd: inst }) });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    });
  assert.deepEqual(lifecycle(false), lifecycle(true));
  // The TUI without a terminal prints what check prints, for -C DIR and DIR alike.
  assert.equal(runCli(['-C', inst]).stdout, runCli([inst]).stdout);
  // Commands that create the instance: -C DIR and DIR create it alike.
  for (const name of ['init', 'new', 'demo']) {
    covered.add(name);
    const a = join(tmp, `${name}-a`);
    const b = join(tmp, `${name}-b`);
    if (name === 'init') [a, b].forEach((d) => mkdirSync(d));
    const extra = name === 'demo' ? ['--no-open'] : ['--backend', 'host'];
    const x = runCli([name, '-C', a, ...extra], HOST);
    const y = runCli([name, b, ...extra], HOST);
    assert.equal(x.status, 0, `${name}: ${x.stderr}`);
    assert.equal(
      x.stdout.replaceAll(a, 'DIR').replace(/\d+ ms/, 'T'),
      y.stdout.replaceAll(b, 'DIR').replace(/\d+ ms/, 'T'),
      name,
    );
    assert.ok(existsSync(join(a, 'Occlum.json')) && existsSync(join(b, 'Occlum.json')), name);
  }
  // watch runs until stopped; its -C is checked above, and here that -C and DIR together are refused.
  covered.add('watch');
  for (const c of all.filter((x) => x.instance === 'option-or-positional')) {
    const r = runCli([c.name, '-C', inst, inst]);
    assert.equal(r.status, 2, c.name);
    assert.match(r.stderr, /the instance directory is given twice/, c.name);
  }
  assert.deepEqual(
    [...covered].sort(),
    all
      .filter((c) => c.instance)
      .map((c) => c.name)
      .sort(),
  );
});

test('exit statuses: 0 ok, 1 problems found, 2 usage or input error — the README table', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = /## Exit status\n\n([\s\S]*?)\n\n/.exec(readme)?.[1] ?? '';
  assert.match(table, /^\| 0 \| /m);
  assert.match(table, /^\| 1 \| /m);
  assert.match(table, /^\| 2 \| /m);
  const bad = join(tmp, 'bad.json');
  const problems: [string[], string][] = [
    [['check', join(ROOT, 'fixtures', 'does-not-exist.json')], '2'],
    [['doctor', 'extra'], '2'],
    [['logs', '/nonexistent.log'], '2'],
    [['schema', '--occlum-version', '9.9'], '2'],
    [['fs', 'cat', '-C', inst, '/no/such/file'], '2'],
    [['fs', 'verify', '-C', inst, '--mac', '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff'], '1'],
    [['fs', 'diff', '-C', inst, join(inst, 'image', 'bin')], '1'],
    [['status', '-C', tmp], '2'],
  ];
  // A config with one error (a size Occlum rejects).
  writeFileSync(
    bad,
    readFileSync(join(inst, 'Occlum.json'), 'utf8').replace(/"user_space_size": "[^"]+"/, '"user_space_size": "300mb"'),
  );
  problems.push([['check', bad], '1']);
  for (const [args, want] of problems) {
    const r = runCli(args, HOST);
    assert.equal(String(r.status), want, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('the supported Occlum versions are stated once: the same text in messages, --version and README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(SUPPORTED_OCCLUM), `README states ${SUPPORTED_OCCLUM}`);
  for (const args of [
    ['check', inst, '--occlum-version', '0.9'],
    ['schema', '--occlum-version', '0.40'],
    ['--occlum-version', '2.0', inst],
  ]) {
    const r = runCli(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.ok(r.stderr.includes(`supported are ${SUPPORTED_OCCLUM}`), `${args.join(' ')}: ${r.stderr}`);
  }
});
