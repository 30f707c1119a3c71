// Hostile strings from user data never reach the terminal raw (issue 11, defect 3): config keys
// and values, file names in an image, symlink targets and log records holding escape sequences
// and every control character, through the real CLI. Human output shows them escaped; JSON
// output keeps them exactly (JSON.stringify escapes controls).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const TITLE = '\x1b]0;owned\x07';
/** Every C0 control but NUL (not allowed in names) and LF (line separator), DEL, C1 and bidi controls. */
const CONTROLS = [
  ...Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).filter((c) => c !== '\n'),
  '\x7f',
  '\x9b',
  '\u202e',
  // The Arabic letter mark (a bidi control) and a tag character (invisible text, U+E0041).
  '\u061c',
  '\u{e0041}',
];

/** Nothing that acts on a terminal or hides text: no C0 control but newline, no DEL, no C1, no bidi control, no tag. */
function assertInert(out: string, what: string): void {
  const bad = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u202a-\u202e\u2066-\u2069]|\udb40[\udc00-\udc7f]/.exec(out);
  assert.equal(
    bad,
    null,
    `${what}: raw ${JSON.stringify(bad?.[0])} at ${bad?.index} in ${JSON.stringify(out.slice(0, 400))}`,
  );
}

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

test('check: a key and a value holding ESC ] 0 ; … BEL and every control are shown escaped', () => {
  const dir = tmp('hostile-check-');
  const hostile = `k${TITLE}${CONTROLS.join('')}`;
  // As JSON escapes (a valid file) and as raw bytes (serde rejects them; the error quotes them).
  const escaped = JSON.stringify({
    resource_limits: { [hostile]: hostile },
    [hostile]: 1,
    env: { default: [`A=${hostile}`] },
  });
  const raw = `{"resource_limits": {"${hostile.replace(/["\\]/g, '')}": 1}, "x${TITLE}": "${TITLE}\r\x0b\x0c"}`;
  for (const [name, text] of [
    ['escaped.json', escaped],
    ['raw.json', raw],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = runCli(['check', file]);
    assert.equal(r.status, 1, r.stderr);
    assertInert(r.stdout, `check ${name} stdout`);
    assertInert(r.stderr, `check ${name} stderr`);
    assert.match(r.stdout, /\\e\]0;owned\\x07/, 'the sequence is shown, escaped');
  }
  const json = runCli(['check', join(dir, 'escaped.json'), '--json']);
  const keys = (JSON.parse(json.stdout) as { diagnostics: { path: (string | number)[] }[] }).diagnostics.flatMap(
    (d) => d.path,
  );
  assert.ok(keys.includes(hostile), 'JSON output keeps the key exactly');
});

test('fs ls, tree and stat: image file names and link targets with escapes and controls', () => {
  const dir = tmp('hostile-fs-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  const names = [`evil${TITLE}`, 'cr\rvt\x0bff\x0c', `all${CONTROLS.filter((c) => c !== '/').join('')}`, `nl\nname`];
  for (const n of names) writeFileSync(join(src, 'd', n), n);
  symlinkSync(`\x1b[2J\x1b[Htarget${TITLE}`, join(src, 'd', 'link'));
  const out = join(dir, 'out', '__ROOT');
  const pack = runCli(['fs', 'pack', src, '--out', out, '--mac-file', join(dir, 'out', '.ROOT_MAC')]);
  assert.equal(pack.status, 0, pack.stderr);
  for (const args of [['ls', '/d'], ['tree'], ['stat', `/d/evil${TITLE}`], ['stat', '/d/link']]) {
    const r = runCli(['fs', ...args, '-C', out]);
    assert.equal(r.status, 0, `fs ${args[0]}: ${r.stderr}`);
    assertInert(r.stdout, `fs ${args.join(' ')}`);
  }
  const ls = runCli(['fs', 'ls', '/d', '-C', out]);
  const rows = ls.stdout.trimEnd().split('\n');
  assert.equal(rows.length, names.length + 1, 'one row per entry: a CR, VT, FF or newline in a name adds no row');
  assert.ok(rows.some((l) => l.endsWith('evil\\e]0;owned\\x07')));
  assert.ok(rows.some((l) => l.endsWith('nl\\nname')));
  assert.ok(rows.some((l) => l.includes('link -> \\e[2J\\e[Htarget\\e]0;owned\\x07')));
  const json = JSON.parse(runCli(['fs', 'ls', '/d', '-C', out, '--json']).stdout) as { name: string }[];
  assert.deepEqual(json.map((e) => e.name).sort(), [...names, 'link'].sort(), 'JSON keeps the names exactly');
});

test('logs: records with VT, FF, CR, escape sequences and every control print one line each, escaped', () => {
  const dir = tmp('hostile-logs-');
  const file = join(dir, 'occlum.log');
  const lines = [
    `[2024-01-01T00:00:00.000Z][ERROR][T1][#2][·Open·] open ${TITLE}/etc\x0bhosts\x0cfailed`,
    '[2024-01-01T00:00:01.000Z][ WARN][T1][#3][·Read·] progress 10%\rprogress 100%',
    `[2024-01-01T00:00:02.000Z][ INFO][T1][#4][·Write·] ${CONTROLS.join('')} end`,
    `program says ${TITLE}\x1b[2J\x1b[31mred\x9b\u202e`,
  ];
  writeFileSync(file, lines.join('\n') + '\n');
  const r = runCli(['logs', file]);
  assert.equal(r.status, 0, r.stderr);
  assertInert(r.stdout, 'logs');
  assert.equal(r.stdout.trimEnd().split('\n').length, lines.length, 'one output line per record');
  assert.match(r.stdout, /\\x0bhosts\\x0cfailed/);
  const json = runCli(['logs', file, '--json']);
  // JSON escapes C0 and ESC itself; C1 (\x9b is a CSI) and bidi overrides are escaped too, exactly.
  assertInert(json.stdout, 'logs --json');
  const texts = json.stdout
    .trimEnd()
    .split('\n')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  assert.ok(texts[3]?.endsWith('red\x9b\u202e'), 'JSON keeps the text exactly');
});

test('logs --grep: a catastrophic pattern ends (linear fallback); one V8 cannot bound gets a time budget and a clear error', () => {
  const dir = tmp('hostile-grep-');
  const file = join(dir, 'evil.log');
  writeFileSync(file, `${'a'.repeat(34)}!\n${'a'.repeat(5000)}!\nhello\n`);
  const evil = runCli(['logs', file, '--grep', '(a+)+$'], { timeout: 60_000 });
  assert.equal(evil.status, 0, evil.stderr);
  assert.equal(evil.stdout, '', 'no line ends in a');
  const smart = runCli(['logs', file, '--grep', '(H|x)+ELLO']);
  assert.equal(smart.stdout, '', 'an upper-case pattern is case-sensitive');
  assert.match(runCli(['logs', file, '--grep', '(h|x)+ello']).stdout, /hello/, 'a lower-case one is not');
  const look = runCli(['logs', file, '--grep', '(a+)+(?=b)'], { timeout: 60_000 });
  assert.equal(look.status, 2);
  assert.match(
    look.stderr,
    /^occlum-studio: --grep: regular expression \/\(a\+\)\+\(\?=b\)\/ took more than \d+ ms on one log line/,
  );
  assert.doesNotMatch(look.stderr, /\n\s+at /);
});

/**
 * Starts a streaming `--json` command, waits until `done` holds on its parsed lines, stops it
 * with SIGINT and returns its raw stdout and the lines.
 */
async function ndjson(
  args: string[],
  started: (events: Record<string, unknown>[]) => boolean,
  act: () => void,
  done: (events: Record<string, unknown>[]) => boolean,
): Promise<{ raw: string; events: Record<string, unknown>[] }> {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (raw += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const parsed = () =>
    raw
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  try {
    await waitFor(() => started(parsed()), `${args.join(' ')} started (${stderr})`);
    act();
    await waitFor(() => done(parsed()), `${args.join(' ')} saw the change (${raw}; ${stderr})`);
  } finally {
    child.kill('SIGINT');
    await once(child, 'exit');
  }
  return { raw, events: parsed() };
}

test('watch --json and fs pack --watch --json: a file name with C1 controls and bidi overrides stays inert, exact', async () => {
  // JSON.stringify escapes C0 controls and ESC only: a raw U+009B (CSI) or U+202E reached the terminal.
  const name = `a${'\x9b'}31m${'\u202e'}txt.exe${'\u2066'}${TITLE}`;
  const dir = tmp('hostile-watch-');
  const inst = join(dir, 'inst');
  assert.equal(runCli(['new', inst]).status, 0);
  const w = await ndjson(
    ['watch', inst, '--backend', 'host', '--json'],
    (ev) => ev.some((e) => e.event === 'build-end'),
    () => writeFileSync(join(inst, 'image', name), 'x'),
    (ev) => ev.some((e) => e.event === 'change-set'),
  );
  assertInert(w.raw, 'watch --json');
  const set = w.events.find((e) => e.event === 'change-set') as { entries: { path: string }[] };
  assert.deepEqual(
    set.entries.map((e) => e.path),
    [join('image', name)],
    'JSON keeps the name exactly',
  );

  const src = join(dir, 'src');
  mkdirSync(src);
  const p = await ndjson(
    ['fs', 'pack', src, '--watch', '--json', '--out', join(dir, 'out'), '--mac-file', join(dir, 'mac')],
    (ev) => ev.length > 0,
    () => writeFileSync(join(src, name), 'x'),
    (ev) => ev.length > 1,
  );
  assertInert(p.raw, 'fs pack --watch --json');
  assert.deepEqual(p.events[1]!.paths, [name], 'JSON keeps the name exactly');
});
