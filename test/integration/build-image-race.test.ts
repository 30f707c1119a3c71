// A program in the sandbox writes image/ through Occlum's `/host` view of the instance, and the
// dev loop builds while that program still runs (it is stopped only before the new image is
// swapped in). Such a program swaps a directory (or a file) of image/ with a symbolic link to a
// host directory of the studio's user (renameat2 RENAME_EXCHANGE in a loop, as
// test/helpers/rename-exchange.c does here from the host side, where the build sees it the
// same). Whatever the build reads through the link is copied into the next image, where the
// rerun program reads it: the user's files (or, for a root studio, any file). The staged build
// (`build`, and the loop's full builds), its secure image and the loop's in-place build must
// read image/ only: they finish with image/'s own content or stop with an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { CLI, ROOT } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { ensureBuilt } from '../helpers/cli.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const SECRET = 'SECRET-OF-THE-USER';
const FILES = 200;
let d = '';
let racer = '';

before(() => {
  d = mkdtempSync(join(tmpdir(), 'build-race-'));
  if (!hasGcc) return;
  ensureBuilt();
  racer = join(d, 'rename-exchange');
  execFileSync('gcc', ['-O2', '-o', racer, join(ROOT, 'test/helpers/rename-exchange.c')]);
});
after(() => rmSync(d, { recursive: true, force: true }));

/** An instance whose image/x holds files named as the user's secret files in `secret`/. */
function setUp(name: string): { inst: string; image: string; secret: string } {
  const inst = join(d, name);
  const secret = join(d, `${name}-home`);
  const r = spawnSync(process.execPath, [CLI, 'new', inst], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const image = join(inst, 'image');
  mkdirSync(join(image, 'x'));
  mkdirSync(secret);
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(image, 'x', `f${i}`), `image file ${i}\n`);
    writeFileSync(join(secret, `f${i}`), `${SECRET} ${i}\n`);
  }
  // The link the program plants next to x (any name: its target is resolved on the host).
  symlinkSync(secret, join(image, 'xl'));
  symlinkSync(join(secret, 'f0'), join(image, 'fl'));
  return { inst, image, secret };
}

/** Regular files under `dir` whose content holds the secret. */
function leaked(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  const visit = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
    else if (st.isFile() && readFileSync(p).includes(SECRET)) out.push(p);
  };
  visit(dir);
  return out.length > 3 ? [...out.slice(0, 3), `… ${out.length - 3} more`] : out;
}

function race(a: string, b: string, spin: number): ChildProcess {
  return spawn(racer, [a, b, String(spin)], { stdio: 'ignore' });
}

async function stop(p: ChildProcess, image: string): Promise<void> {
  p.kill('SIGKILL');
  await once(p, 'exit');
  // Killed between its two swaps: put x back as the directory.
  if (lstatSync(join(image, 'x')).isSymbolicLink()) {
    renameSync(join(image, 'x'), join(image, '.swap'));
    renameSync(join(image, 'xl'), join(image, 'x'));
    renameSync(join(image, '.swap'), join(image, 'xl'));
  }
  if (lstatSync(join(image, 'x', 'f0')).isSymbolicLink()) {
    renameSync(join(image, 'x', 'f0'), join(image, '.swap'));
    renameSync(join(image, 'fl'), join(image, 'x', 'f0'));
    renameSync(join(image, '.swap'), join(image, 'fl'));
  }
}

test(
  'a staged build (image layer and secure image) never reads through a directory of image/ swapped for a link',
  { skip: !hasGcc && 'needs gcc' },
  async () => {
    const { inst, image } = setUp('staged');
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const swap = race(join(image, 'x'), join(image, 'xl'), [0, 300, 3000][attempt % 3]!);
      const r = spawnSync(process.execPath, [CLI, 'build', '-C', inst, '--backend', 'host'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      await stop(swap, image);
      outcomes.push(r.status === 0 ? 'built' : (r.stderr.trim().split('\n').at(-1) ?? ''));
      assert.deepEqual(leaked(join(inst, 'build')), [], `attempt ${attempt}: ${outcomes.join(' | ')}`);
      for (const o of outcomes.filter((o) => o !== 'built')) assert.match(o, /replaced while the build read it/);
    }
  },
);

test(
  "the dev loop's in-place build never reads through a directory or a file of image/ swapped for a link",
  { skip: !hasGcc && 'needs gcc' },
  async () => {
    const { inst, image } = setUp('inplace');
    const host = new HostBackend(inst);
    assert.equal((await host.build()).ok, true);
    const failures: string[] = [];
    for (let attempt = 0; attempt < 16; attempt++) {
      // An edit the watcher reported (made before the swapping starts), then builds while it swaps.
      const changed = [];
      for (let i = 0; i < FILES; i += 10) {
        writeFileSync(join(image, 'x', `f${i}`), `image file ${i}, edit ${attempt}\n`);
        changed.push(`x/f${i}`);
      }
      const swap =
        attempt % 2 === 0
          ? race(join(image, 'x'), join(image, 'xl'), [0, 300, 3000][attempt % 3]!)
          : race(join(image, 'x', 'f0'), join(image, 'fl'), [0, 300, 3000][attempt % 3]!);
      let r;
      try {
        r = await host.build({ changed });
      } catch (err) {
        r = { ok: false, errors: [(err as Error).message] };
      }
      await stop(swap, image);
      if (!r.ok) failures.push(r.errors.join('; '));
      assert.deepEqual(leaked(join(inst, 'build')), [], `attempt ${attempt}`);
    }
    for (const f of failures) assert.match(f, /replaced while the build read it|reached through a symbolic link/);
  },
);

test(
  "the dev loop's watcher neither walks nor reports a host tree reached through a directory of image/ swapped for a link",
  { skip: !hasGcc && 'needs gcc' },
  async () => {
    const inst = join(d, 'watched');
    const outside = join(d, 'watched-host-tree');
    const r = spawnSync(process.execPath, [CLI, 'new', inst], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const image = join(inst, 'image');
    mkdirSync(join(image, 'x', 'sub'), { recursive: true });
    for (let i = 0; i < 50; i++) {
      mkdirSync(join(outside, `host-dir-${i}`), { recursive: true });
      for (let j = 0; j < 20; j++) writeFileSync(join(outside, `host-dir-${i}`, `host-file-${j}`), '');
    }
    symlinkSync(outside, join(image, 'xl'));
    const child = spawn(process.execPath, [CLI, 'watch', inst, '--backend', 'host', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = once(child, 'exit');
    await waitFor(() => out.includes('"event":"build-end"'), 'the first build');
    const swap = race(join(image, 'x'), join(image, 'xl'), 20_000);
    await new Promise((res) => setTimeout(res, 6000));
    swap.kill('SIGKILL');
    await once(swap, 'exit');
    await new Promise((res) => setTimeout(res, 1000));
    child.kill('SIGINT');
    await exited;
    const reported = out
      .split('\n')
      .filter((l) => l.includes('"event":"change-set"'))
      .flatMap((l) => (JSON.parse(l) as { entries: { path: string }[] }).entries.map((e) => e.path));
    const host = reported.filter((p) => /host-(dir|file)-/.test(p));
    assert.deepEqual(host.slice(0, 5), [], `${host.length} host entries reported as changes of image/`);
  },
);
