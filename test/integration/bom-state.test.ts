// A fresh `bom copy` checks the saved state of the last copy (src/core/bom/state.ts) instead of
// planning again, and must give what a full copy gives: each change of a source, a copy in the
// root, a bom, an include lookup or a variable is seen; a state that is corrupt, truncated, forged
// or another copy's is not used; a dry run writes none. The built CLI, real files, a real cache dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

/** A source changed this recently is not trusted by a state (SRC_RACY_MS in state-copy.ts). */
const RACY_MS = 1000;

interface Ws {
  dir: string;
  cache: string;
  image: string;
}

/** An instance dir with a bom copying a small tree (`dirs`) and a file, its own cache dir. */
function workspace(bom?: string): Ws {
  const dir = mkdtempSync(join(tmpdir(), 'bom-state-'));
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(dir, `tree/d${d}`), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `tree/d${d}/f${i}.py`), `print(${d}, ${i})\n`);
  }
  writeFileSync(join(dir, 'app.txt'), 'app\n');
  mkdirSync(join(dir, 'inst'));
  writeFileSync(
    join(dir, 'app.yaml'),
    bom ??
      'targets:\n  - target: /opt/py\n    copy:\n      - dirs: [../tree/]\n  - target: /bin\n' +
        '    copy:\n      - files: [{name: ../app.txt, autodep: false}]\n',
  );
  return { dir, cache: join(dir, 'cache'), image: join(dir, 'inst/image') };
}

// Every workspace is made first and then waited on once, so that their files are older than the
// window in which a state does not trust a source's times.
const spaces = Array.from({ length: 13 }, () => workspace());
const envBom = workspace('targets:\n  - target: /opt/app\n    copy:\n      - dirs: ["${APP_DIR}/"]\n');
mkdirSync(join(envBom.dir, 'other'));
writeFileSync(join(envBom.dir, 'other/o.txt'), 'other\n');
const incBom = workspace('includes: [part.yaml]\ntargets:\n  - target: /bin\n    copy:\n      - files: [../app.txt]\n');
mkdirSync(join(incBom.dir, 'incdir'));
writeFileSync(join(incBom.dir, 'incdir/part.yaml'), 'targets:\n  - target: /etc\n    mkdirs: [one]\n');
// 600 files: a state long enough to hold sync lines (SYNC_EVERY in state.ts) past its middle.
const big = workspace();
for (let d = 0; d < 3; d++) for (let i = 5; i < 200; i++) writeFileSync(join(big.dir, `tree/d${d}/f${i}.py`), `${i}\n`);
const ready = new Promise((r) => setTimeout(r, RACY_MS + 200));
let next = 0;
async function fresh(): Promise<Ws> {
  await ready;
  return spaces[next++]!;
}

interface Copy {
  ok: boolean;
  counts: { create: number; update: number; attrs: number; same: number };
  strays: string[];
  actions: { inner: string; action: string }[];
  state: { used: boolean; note: string } | null;
}

function copy(ws: Ws, extra: string[] = [], env: Record<string, string> = {}): Copy {
  const r = runCli(['bom', 'copy', '-f', '../app.yaml', '--root', 'image', '--json', ...extra], {
    cwd: join(ws.dir, 'inst'),
    env: { XDG_CACHE_HOME: ws.cache, ...env },
  });
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return JSON.parse(r.stdout) as Copy;
}

const stateFiles = (ws: Ws) => {
  const dir = join(ws.cache, 'occlum-studio/bom-state');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.state'))
        .map((f) => join(dir, f))
    : [];
};

/** The first copy (full, saves a state) and a second one, which must use it and change nothing. */
function settled(ws: Ws, env: Record<string, string> = {}): void {
  const first = copy(ws, [], env);
  assert.equal(first.ok, true);
  assert.equal(first.state?.used, false);
  assert.match(first.state!.note, /saved a new one/);
  const second = copy(ws, [], env);
  assert.equal(second.state?.used, true, second.state?.note);
  assert.deepEqual(second.counts, { create: 0, update: 0, attrs: 0, same: first.counts.create + first.counts.same });
}

test('an unchanged tree: the state is used, every entry is listed as unchanged, as a full copy lists it', async () => {
  const ws = await fresh();
  const full = copy(ws);
  const fromState = copy(ws);
  assert.equal(fromState.state?.used, true, fromState.state?.note);
  const inners = (c: Copy) => c.actions.map((a) => a.inner).sort();
  assert.deepEqual(inners(fromState), inners(full));
  assert.ok(fromState.actions.every((a) => a.action === 'same'));
});

test('a changed source file (same size) is copied again from the state; the next copy changes nothing', async () => {
  const ws = await fresh();
  settled(ws);
  writeFileSync(join(ws.dir, 'tree/d1/f3.py'), 'print(9, 9)\n');
  const r = copy(ws);
  assert.equal(r.state?.used, true, r.state?.note);
  assert.equal(r.counts.update, 1);
  assert.equal(readFileSync(join(ws.image, 'opt/py/d1/f3.py'), 'utf8'), 'print(9, 9)\n');
  assert.deepEqual([copy(ws).counts.update, copy(ws).counts.create], [0, 0]);
});

test('a changed copy in the root (content, mode, removed) is put back as rsync would', async () => {
  const ws = await fresh();
  settled(ws);
  appendFileSync(join(ws.image, 'opt/py/d0/f1.py'), 'tampered\n');
  chmodSync(join(ws.image, 'opt/py/d2/f2.py'), 0o600);
  rmSync(join(ws.image, 'bin/app.txt'));
  const r = copy(ws);
  assert.equal(r.state?.used, true, r.state?.note);
  // The tampered file's dir gets its times back after the rename into it, as in a full copy.
  assert.deepEqual([r.counts.update, r.counts.attrs, r.counts.create], [1, 2, 1]);
  assert.equal(readFileSync(join(ws.image, 'opt/py/d0/f1.py'), 'utf8'), 'print(0, 1)\n');
  assert.equal(
    statSync(join(ws.image, 'opt/py/d2/f2.py')).mode & 0o777,
    statSync(join(ws.dir, 'tree/d2/f2.py')).mode & 0o777,
  );
  assert.equal(readFileSync(join(ws.image, 'bin/app.txt'), 'utf8'), 'app\n');
});

test('a file added to or removed from a `dirs` source: a full copy (added is copied, removed is a stray)', async () => {
  const ws = await fresh();
  settled(ws);
  writeFileSync(join(ws.dir, 'tree/d0/new.py'), 'new\n');
  const added = copy(ws);
  assert.equal(added.state?.used, false);
  assert.match(added.state!.note, /tree\/d0 changed/);
  assert.equal(added.counts.create, 1);
  assert.equal(readFileSync(join(ws.image, 'opt/py/d0/new.py'), 'utf8'), 'new\n');
  rmSync(join(ws.dir, 'tree/d0/new.py'));
  const removed = copy(ws);
  assert.equal(removed.state?.used, false);
  assert.deepEqual(removed.strays, ['/opt/py/d0/new.py']);
  // A stray planted in the root is found with the state too (once tree/d0 is older than the window).
  await new Promise((r) => setTimeout(r, RACY_MS + 100));
  copy(ws);
  assert.equal(copy(ws).state?.used, true);
  writeFileSync(join(ws.image, 'opt/py/d1/planted'), 'x');
  const planted = copy(ws);
  assert.equal(planted.state?.used, true, planted.state?.note);
  assert.deepEqual(planted.strays, ['/opt/py/d0/new.py', '/opt/py/d1/planted']);
});

test('a changed bom, a changed include or a new bom earlier in the include path: a full copy', async () => {
  const ws = await fresh();
  settled(ws);
  writeFileSync(join(ws.dir, 'app.yaml'), 'targets:\n  - target: /etc\n    mkdirs: [two]\n');
  const r = copy(ws);
  assert.equal(r.state?.used, false);
  assert.match(r.state!.note, /app\.yaml .*changed/);
  assert.ok(existsSync(join(ws.image, 'etc/two')));

  await ready;
  const inc = incBom;
  const i = ['-i', '../incdir'];
  assert.equal(copy(inc, i).state?.used, false);
  assert.equal(copy(inc, i).state?.used, true);
  writeFileSync(join(inc.dir, 'incdir/part.yaml'), 'targets:\n  - target: /etc\n    mkdirs: [changed]\n');
  assert.equal(copy(inc, i).state?.used, false);
  assert.ok(existsSync(join(inc.image, 'etc/changed')));
  // The bom's own dir comes first in the lookup: a part.yaml there now wins.
  await new Promise((r) => setTimeout(r, RACY_MS + 100));
  copy(inc, i);
  assert.equal(copy(inc, i).state?.used, true);
  writeFileSync(join(inc.dir, 'part.yaml'), 'targets:\n  - target: /etc\n    mkdirs: [nearer]\n');
  const nearer = copy(inc, i);
  assert.equal(nearer.state?.used, false);
  assert.ok(existsSync(join(inc.image, 'etc/nearer')));
});

test('a changed value of a variable the bom uses: a full copy of what it names now', async () => {
  await ready;
  const ws = envBom;
  settled(ws, { APP_DIR: '../tree' });
  const r = copy(ws, [], { APP_DIR: '../other' });
  assert.equal(r.state?.used, false);
  assert.match(r.state!.note, /variable APP_DIR changed/);
  assert.equal(readFileSync(join(ws.image, 'opt/app/o.txt'), 'utf8'), 'other\n');
});

test('a corrupt, truncated or MAC-less state is not used; the copy is still right', async () => {
  const ws = await fresh();
  settled(ws);
  const [file] = stateFiles(ws);
  const good = readFileSync(file!, 'utf8');
  writeFileSync(join(ws.dir, 'tree/d2/f0.py'), 'print(7, 7)\n');
  const cases: [string, string, RegExp][] = [
    ['flipped', good.replace('\tf\tdirs\t', '\tf\tdirs\tx'), /MAC/],
    ['truncated', good.slice(0, good.length / 2), /truncated/],
    ['no mac', good.slice(0, good.lastIndexOf('\nmac ') + 1), /truncated/],
    ['empty', '', /truncated/],
  ];
  for (const [what, text, why] of cases) {
    writeFileSync(file!, text);
    const r = copy(ws);
    assert.equal(r.state?.used, false, what);
    assert.match(r.state!.note, why, what);
    assert.equal(readFileSync(join(ws.image, 'opt/py/d2/f0.py'), 'utf8'), 'print(7, 7)\n', what);
  }
});

test("another root's or another bom's state (a valid MAC) is not used", async () => {
  const a = await fresh();
  const b = await fresh();
  settled(a);
  settled(b);
  const [fa] = stateFiles(a);
  const [fb] = stateFiles(b);
  // One user's cache holds both: b's file replaced by a's (same key file) is of another copy.
  copyFileSync(join(a.cache, 'occlum-studio/bom-state/key'), join(b.cache, 'occlum-studio/bom-state/key'));
  copyFileSync(fa!, fb!);
  const r = copy(b);
  assert.equal(r.state?.used, false);
  assert.match(r.state!.note, /another copy/);
  // Another bom for the same root has a state of its own.
  writeFileSync(join(a.dir, 'other.yaml'), 'targets:\n  - target: /etc\n    mkdirs: [x]\n');
  const other = runCli(['bom', 'copy', '-f', '../other.yaml', '--root', 'image', '--json'], {
    cwd: join(a.dir, 'inst'),
    env: { XDG_CACHE_HOME: a.cache },
  });
  assert.equal(JSON.parse(other.stdout).state.used, false);
  assert.equal(stateFiles(a).length, 2);
});

test('a state with a valid MAC whose changed entry climbs out of the root is refused, nothing written outside', async () => {
  const ws = await fresh();
  settled(ws);
  const [file] = stateFiles(ws);
  const key = readFileSync(join(ws.cache, 'occlum-studio/bom-state/key'));
  const text = readFileSync(file!, 'utf8');
  const body = text.slice(0, text.lastIndexOf('\nmac '));
  // The copy of app.txt: sent to ../../escaped, with a destination that differs from disk.
  const forged = body.replace(/\t\d+\|[^\t]*app\.txt\t[^\t]*\t[^\t]*\t[^\t]*\tf\t/, (m) => {
    const f = m.split('\t');
    f[2] = '0|/../../escaped';
    f[4] = 'e';
    return f.join('\t');
  });
  assert.notEqual(forged, body);
  writeFileSync(file!, `${forged}\nmac ${createHmac('sha256', key).update(forged).digest('hex')}\n`);
  const r = copy(ws);
  assert.equal(r.state?.used, false);
  assert.match(r.state!.note, /malformed/);
  assert.equal(existsSync(join(ws.dir, 'escaped')), false);
  assert.equal(existsSync(join(ws.dir, '..', 'escaped')), false);
});

test('a long state is checked from its middle on (a sync line): changes in both halves are copied; an older version is not used', async () => {
  await ready;
  const ws = big;
  settled(ws);
  const [file] = stateFiles(ws);
  const key = readFileSync(join(ws.cache, 'occlum-studio/bom-state/key'));
  const text = readFileSync(file!, 'utf8');
  const lines = text.slice(0, text.lastIndexOf('\nmac ')).split('\n').slice(1);
  assert.ok(lines.length > 600, `${lines.length}`);
  // Every 256th line has both paths written whole (`0|`), so a thread can start there.
  const whole = lines.flatMap((l, i) => (/^.\t0\|[^\t]*\t0\|/.test(l) ? [i + 1] : []));
  assert.ok(
    [256, 512].every((n) => whole.includes(n)),
    `${whole}`,
  );
  writeFileSync(join(ws.dir, 'tree/d0/f7.py'), 'first half\n');
  writeFileSync(join(ws.dir, 'tree/d2/f190.py'), 'second half\n');
  const r = copy(ws);
  assert.equal(r.state?.used, true, r.state?.note);
  assert.equal(r.counts.update, 2);
  assert.deepEqual(
    r.actions
      .filter((a) => a.action === 'update')
      .map((a) => a.inner)
      .sort(),
    ['/opt/py/d0/f7.py', '/opt/py/d2/f190.py'],
  );
  assert.equal(readFileSync(join(ws.image, 'opt/py/d2/f190.py'), 'utf8'), 'second half\n');
  // The same state as version 1 wrote it (its identities were hashed otherwise): refused as such.
  const now = readFileSync(file!, 'utf8');
  const body = now.slice(0, now.lastIndexOf('\nmac ')).replace(/^\{"v":\d+,/, '{"v":1,');
  writeFileSync(file!, `${body}\nmac ${createHmac('sha256', key).update(body).digest('hex')}\n`);
  const old = copy(ws);
  assert.equal(old.state?.used, false);
  assert.match(old.state!.note, /another version/);
  assert.equal(old.counts.update + old.counts.create, 0);
});

test('--dry-run reads and writes no state (no cache dir at all), and one after a copy leaves it as it was', async () => {
  const ws = await fresh();
  const dry = copy(ws, ['--dry-run']);
  assert.equal(dry.counts.create > 0, true);
  assert.equal(existsSync(ws.cache), false);
  settled(ws);
  const [file] = stateFiles(ws);
  const before = readFileSync(file!);
  const mtime = statSync(file!).mtimeMs;
  writeFileSync(join(ws.dir, 'tree/d0/f0.py'), 'print(5, 5)\n');
  const again = copy(ws, ['--dry-run']);
  assert.equal(again.state?.used, false);
  assert.equal(again.counts.update, 1);
  assert.deepEqual(readFileSync(file!), before);
  assert.equal(statSync(file!).mtimeMs, mtime);
  assert.equal(readFileSync(join(ws.image, 'opt/py/d0/f0.py'), 'utf8'), 'print(0, 0)\n');
});

test('a source that becomes a program, or a tree with a link out of it: planned anew, never from a state', async () => {
  const ws = await fresh();
  settled(ws);
  copyFileSync('/bin/true', join(ws.dir, 'tree/d1/f0.py'));
  const elf = copy(ws);
  assert.equal(elf.state?.used, false);
  assert.match(elf.state!.note, /became an ELF file/);
  const out = await fresh();
  symlinkSync('/etc/hostname', join(out.dir, 'tree/d0/host'));
  const first = copy(out);
  assert.equal(first.ok, true);
  assert.match(first.state!.note, /link leading out of it \(followed\): none saved/);
  assert.equal(stateFiles(out).length, 0);
});

test('the cache keeps the 32 most recently written states; older ones are removed at the next save', () => {
  const ws = workspace();
  const dir = join(ws.cache, 'occlum-studio/bom-state');
  mkdirSync(dir, { recursive: true });
  const old = Array.from({ length: 40 }, (_, i) => join(dir, `old${String(i).padStart(2, '0')}.state`));
  old.forEach((p, i) => {
    writeFileSync(p, 'x\n');
    utimesSync(p, 1_000_000 + i, 1_000_000 + i); // old00 the oldest
  });
  try {
    assert.match(copy(ws).state!.note, /saved a new one/);
    const kept = stateFiles(ws);
    assert.equal(kept.length, 32);
    assert.equal(kept.filter((p) => !old.includes(p)).length, 1, 'this copy’s own state is kept');
    assert.deepEqual(
      old.filter((p) => !existsSync(p)),
      old.slice(0, 9),
      'the nine oldest went',
    );
  } finally {
    rmSync(ws.dir, { recursive: true, force: true });
  }
});

test(
  'a cache dir another user can change is not used: nothing is made or written in it, and the copy is whole',
  { skip: process.getuid?.() === 0 ? false : 'needs root (a directory owned by another user)' },
  async () => {
    const ws = await fresh();
    // Owned by another user (nobody): they could rename what is in it, plant links and FIFOs.
    mkdirSync(ws.cache, { mode: 0o755 });
    chownSync(ws.cache, 65534, 65534);
    const first = copy(ws);
    assert.equal(first.ok, true);
    assert.match(first.state!.note, /^the state dir .* is not private: .*\/cache belongs to uid 65534; no state kept/);
    assert.deepEqual(readdirSync(ws.cache), [], 'nothing made inside their directory');
    assert.equal(copy(ws).state!.used, false);
    // Ours, but below a directory anyone can write (not sticky): anyone can swap ours for theirs.
    rmSync(ws.cache, { recursive: true });
    const open = join(ws.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const c = copy(ws, [], { XDG_CACHE_HOME: join(open, 'cache') });
    assert.match(c.state!.note, /is not private: .*\/open is writable by others \(mode 777\)/);
    assert.deepEqual(readdirSync(open), [], 'nothing made below it');
    // A private one of ours is used, whatever the link it is reached through.
    chmodSync(open, 0o755);
    symlinkSync(open, join(ws.dir, 'via'));
    assert.match(copy(ws, [], { XDG_CACHE_HOME: join(ws.dir, 'via/cache') }).state!.note, /saved a new one/);
    assert.equal(copy(ws, [], { XDG_CACHE_HOME: join(ws.dir, 'via/cache') }).state!.used, true);
    assert.equal(statSync(join(open, 'cache/occlum-studio/bom-state')).mode & 0o777, 0o700);
  },
);
