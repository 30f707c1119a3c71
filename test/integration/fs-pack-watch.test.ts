// `occlum-studio fs pack --watch --json` run as users run it (built CLI, a child process) on a copy
// of the real instance's image/: one NDJSON line per pack; after each edit, add, delete and rename
// the image verifies and equals the source; a socket or FIFO gives an error line and the watch
// goes on (the next pack walks); SIGINT stops it with exit 0. Lines are awaited, never timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { newInstance } from '../../src/core/instance/init.ts';

interface Line {
  trigger?: 'initial' | 'change';
  hinted?: boolean;
  unhinted?: string;
  paths?: string[];
  pathCount?: number;
  rootMac?: string;
  filesPacked?: number;
  filesReused?: number;
  ms?: number;
  error?: string;
  code?: string;
  stopped?: boolean;
}

const WAIT_MS = 90_000;

/** Reads NDJSON lines from a child's stdout; `next` waits for the next line matching a predicate. */
function lineReader(stream: NodeJS.ReadableStream) {
  const lines: Line[] = [];
  let buf = '';
  let wake: (() => void) | null = null;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Line);
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  stream.on('end', () => wake?.());
  let seen = 0;
  return {
    all: lines,
    async next(what: string, pred: (l: Line) => boolean = () => true): Promise<Line> {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        while (seen < lines.length) {
          const l = lines[seen++]!;
          if (pred(l)) return l;
        }
        if (Date.now() > deadline)
          throw new Error(`no line for "${what}" within ${WAIT_MS} ms; lines: ${JSON.stringify(lines)}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 1000);
        });
      }
    },
  };
}

/** Starts `fs pack SRC --watch --json` into d/mount. */
function startWatch(src: string, d: string) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'fs',
      'pack',
      src,
      '--watch',
      '--json',
      '--out',
      join(d, 'mount/__ROOT'),
      '--mac-file',
      join(d, 'mount/.ROOT_MAC'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  const io = {
    child,
    stderr: '',
    out: lineReader(child.stdout!),
    exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))),
  };
  child.stderr!.on('data', (c: Buffer) => (io.stderr += c.toString()));
  return io;
}

test(
  'fs pack --watch --json: edit, add, delete, rename, socket and FIFO errors, SIGINT',
  { timeout: 600_000 },
  async () => {
    ensureBuilt();
    const d = mkdtempSync(join(tmpdir(), 'fs-pack-watch-'));
    const src = join(d, 'image');
    const root = join(d, 'mount/__ROOT');
    // A fresh instance's image/ (our own case), with a program-sized file to delete later.
    newInstance(join(d, 'inst'));
    renameSync(join(d, 'inst', 'image'), src);
    writeFileSync(join(src, 'bin/hello.wasm'), Buffer.alloc(300_000, 1));
    mkdirSync(join(src, 'usr/share/data'), { recursive: true });
    mkdirSync(join(src, 'opt'));
    for (let i = 0; i < 24; i++) writeFileSync(join(src, `usr/share/data/${i}.txt`), `file ${i}\n`.repeat(i + 1));
    const w = startWatch(src, d);
    const { child, out, exited } = w;
    const packs = (l: Line) => l.rootMac !== undefined;
    /** Waits for pack lines until every path in `expect` has been named, then checks the image. */
    const settled = async (what: string, expect: string[]): Promise<Line[]> => {
      const got: Line[] = [];
      const named = new Set<string>();
      while (!expect.every((p) => named.has(p))) {
        const l = await out.next(what, packs);
        got.push(l);
        for (const p of l.paths ?? []) named.add(p);
      }
      const verify = runCli(['fs', 'verify', '-C', root, '--json']);
      assert.equal(verify.status, 0, `${what}: ${verify.stdout}${verify.stderr}`);
      assert.equal(JSON.parse(verify.stdout).rootMac, got.at(-1)!.rootMac, what);
      const diff = runCli(['fs', 'diff', '-C', root, src, '--json']);
      assert.equal(JSON.parse(diff.stdout).identical, true, `${what}: ${diff.stdout}`);
      return got;
    };
    const cat = (p: string) => runCli(['fs', 'cat', '-C', root, p]);
    try {
      const first = await out.next('initial pack');
      assert.equal(first.trigger, 'initial', JSON.stringify(first) + w.stderr);
      assert.equal(first.hinted, false);
      assert.ok(first.filesPacked! > 20);
      assert.equal(readFileSync(join(d, 'mount/.ROOT_MAC'), 'utf8'), first.rootMac);

      // An edit: one inode file rewritten, through the hint, under a new root MAC.
      writeFileSync(join(src, 'etc/hosts'), '10.1.2.3 watched\n');
      const [edit] = await settled('edit', ['etc/hosts']);
      assert.equal(edit!.trigger, 'change');
      assert.equal(edit!.hinted, true);
      assert.equal(edit!.filesPacked, 1);
      assert.notEqual(edit!.rootMac, first.rootMac);
      assert.equal(cat('/etc/hosts').stdout, '10.1.2.3 watched\n');

      // A file in a new directory.
      mkdirSync(join(src, 'opt/app/conf'), { recursive: true });
      writeFileSync(join(src, 'opt/app/conf/app.json'), '{"port": 8080}\n');
      await settled('add in a new directory', ['opt/app']);
      assert.equal(cat('/opt/app/conf/app.json').stdout, '{"port": 8080}\n');

      // A delete.
      unlinkSync(join(src, 'bin/hello.wasm'));
      await settled('delete', ['bin/hello.wasm']);
      assert.equal(cat('/bin/hello.wasm').status, 2);

      // A rename across directories, and a directory rename.
      renameSync(join(src, 'etc/hosts'), join(src, 'opt/app/hosts'));
      await settled('file rename', ['etc/hosts', 'opt/app/hosts']);
      assert.equal(cat('/opt/app/hosts').stdout, '10.1.2.3 watched\n');
      renameSync(join(src, 'opt/app'), join(src, 'opt/service'));
      await settled('directory rename', ['opt/app', 'opt/service']);
      assert.equal(cat('/opt/service/conf/app.json').stdout, '{"port": 8080}\n');
      assert.equal(cat('/opt/app/hosts').status, 2);

      // A socket: an error line, the watch goes on; once it is gone the next pack walks the tree.
      const server = createServer();
      await new Promise<void>((r) => server.listen(join(src, 'bin/app.sock'), r));
      const sockErr = await out.next('socket error', (l) => l.error !== undefined);
      assert.match(sockErr.error!, /app\.sock: is a socket/);
      assert.equal(sockErr.code, 'EUNSUPPORTED');
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(join(src, 'bin/app.sock'), { force: true });
      writeFileSync(join(src, 'bin/after-socket'), 'x\n');
      const [walk] = await settled('after the socket', ['bin/after-socket']);
      assert.equal(walk!.hinted, false);
      assert.equal(walk!.unhinted, 'previous pack failed');

      // A FIFO (unsupported like a socket); as non-root, also a file the packer cannot read.
      assert.equal(spawnSync('mkfifo', [join(src, 'fifo')]).status, 0);
      const fifoErr = await out.next('FIFO error', (l) => l.error !== undefined);
      assert.match(fifoErr.error!, /fifo: is a FIFO/);
      unlinkSync(join(src, 'fifo'));
      await settled('after the FIFO', ['fifo']);
      if (process.getuid?.() !== 0) {
        writeFileSync(join(src, 'secret'), 'no\n');
        chmodSync(join(src, 'secret'), 0);
        const readErr = await out.next('unreadable file', (l) => l.error !== undefined);
        assert.match(readErr.error!, /secret/);
        unlinkSync(join(src, 'secret'));
        await settled('after the unreadable file', ['secret']);
      }

      // A hinted edit again once things are healthy.
      writeFileSync(join(src, 'bin/after-socket'), 'y\n');
      const [again] = await settled('edit after errors', ['bin/after-socket']);
      assert.equal(again!.hinted, true);
      assert.equal(again!.filesPacked, 1);

      child.kill('SIGINT');
      assert.equal(await exited, 0, w.stderr);
      const last = out.all.at(-1)!;
      assert.equal(last.stopped, true);
      assert.equal(w.stderr, '');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test('fs pack --watch through a symlinked source directory watches its target', { timeout: 300_000 }, async () => {
  ensureBuilt();
  const d = mkdtempSync(join(tmpdir(), 'fs-pack-watch-link-'));
  mkdirSync(join(d, 'real'));
  writeFileSync(join(d, 'real/a'), 'a\n');
  symlinkSync('real', join(d, 'src'));
  const w = startWatch(join(d, 'src'), d);
  try {
    const first = await w.out.next('initial pack');
    assert.equal(first.filesPacked, 2, JSON.stringify(first) + w.stderr);
    writeFileSync(join(d, 'src/a'), 'edited\n');
    const edit = await w.out.next('edit through the link', (l) => l.paths?.includes('a') ?? false);
    assert.equal(edit.filesPacked, 1);
    assert.equal(runCli(['fs', 'cat', '-C', join(d, 'mount/__ROOT'), '/a']).stdout, 'edited\n');
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr);
  } finally {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    rmSync(d, { recursive: true, force: true });
  }
});

test('fs pack --watch stops with exit 0 when its reader goes away (| head)', { timeout: 300_000 }, async () => {
  ensureBuilt();
  const d = mkdtempSync(join(tmpdir(), 'fs-pack-watch-pipe-'));
  mkdirSync(join(d, 'src'));
  writeFileSync(join(d, 'src/a'), 'a\n');
  const w = startWatch(join(d, 'src'), d);
  try {
    await w.out.next('initial pack');
    w.child.stdout!.destroy();
    writeFileSync(join(d, 'src/a'), 'edited\n');
    assert.equal(await w.exited, 0, w.stderr);
    assert.equal(w.stderr, '');
    // The pack that found no reader still went through.
    assert.equal(runCli(['fs', 'cat', '-C', join(d, 'mount/__ROOT'), '/a']).stdout, 'edited\n');
  } finally {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    rmSync(d, { recursive: true, force: true });
  }
});

test('fs pack --watch: usage errors (--full, output inside the source, other subcommands)', () => {
  const d = mkdtempSync(join(tmpdir(), 'fs-pack-watch-usage-'));
  try {
    mkdirSync(join(d, 'src'));
    writeFileSync(join(d, 'src/a'), 'a');
    const full = runCli(['fs', 'pack', join(d, 'src'), '--watch', '--full', '--out', join(d, 'out')]);
    assert.equal(full.status, 2);
    assert.match(full.stderr, /--watch .* --full/);
    const inside = runCli(['fs', 'pack', join(d, 'src'), '--watch', '--out', join(d, 'src/out')]);
    assert.equal(inside.status, 2);
    assert.match(inside.stderr, /--out .*src\/out lies inside the watched source/);
    const ls = runCli(['fs', 'ls', '--watch']);
    assert.equal(ls.status, 2);
    // A destination that is not an image: refused before watching, exit 1.
    mkdirSync(join(d, 'junk'));
    writeFileSync(join(d, 'junk/keep'), 'x');
    const junk = runCli([
      'fs',
      'pack',
      join(d, 'src'),
      '--watch',
      '--out',
      join(d, 'junk'),
      '--mac-file',
      join(d, 'MAC'),
    ]);
    assert.equal(junk.status, 1);
    assert.match(junk.stderr, /junk/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
