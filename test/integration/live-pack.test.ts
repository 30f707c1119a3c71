// The live packer behind `fs pack --watch` on a real tree with the real watcher and engine: a
// watcher error makes the next pack walk at once; stop() waits for the pack in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivePacker, type LivePackEvent } from '../../src/core/watch/live-pack.ts';
import type { Watcher } from '../../src/core/watch/watcher.ts';

test(
  'LivePacker: watcher error -> walking pack now; edits hinted; stop() lets the pack in flight finish',
  { timeout: 120_000 },
  async () => {
    const d = mkdtempSync(join(tmpdir(), 'live-pack-'));
    const src = join(d, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/hosts'), '127.0.0.1 localhost\n');
    const events: LivePackEvent[] = [];
    let wake: (() => void) | null = null;
    const packer = new LivePacker({
      src,
      outRoot: join(d, 'out/__ROOT'),
      macFile: join(d, 'out/.ROOT_MAC'),
      key: { kind: 'integrity-only' },
      debounceMs: 50,
      onEvent: (e) => {
        events.push(e);
        wake?.();
      },
    });
    const next = async (): Promise<LivePackEvent> => {
      while (events.length === 0) await new Promise<void>((r) => (wake = r));
      return events.shift()!;
    };
    try {
      const first = await packer.start();
      assert.equal(first.type, 'pack');
      assert.equal(await next(), first);
      // The real watcher reports its errors (chokidar's, explained) through this event.
      const watcher = (packer as unknown as { watcher: Watcher }).watcher;
      watcher.emit('error', new Error('file watcher: simulated overflow'));
      const we = await next();
      assert.equal(we.type, 'watch-error');
      const walk = await next();
      assert.ok(walk.type === 'pack' && !walk.hinted && walk.unhinted === 'watcher error', JSON.stringify(walk));

      writeFileSync(join(src, 'etc/hosts'), '10.0.0.1 edited\n');
      const edit = await next();
      assert.ok(edit.type === 'pack' && edit.hinted && edit.result.filesPacked === 1, JSON.stringify(edit));
      assert.deepEqual(edit.paths, ['etc/hosts']);

      // stop() asked right when a change set starts a pack: it resolves only after that pack's event.
      let stopped: Promise<void> | null = null;
      watcher.once('changes', () => {
        stopped = packer.stop();
      });
      writeFileSync(join(src, 'big'), Buffer.alloc(8 << 20, 7));
      while (!stopped) await new Promise((r) => setTimeout(r, 20));
      let eventsAtStop = -1;
      await (stopped as Promise<void>).then(() => (eventsAtStop = events.length));
      assert.equal(eventsAtStop, 1);
      const last = events[0]!;
      assert.ok(last.type === 'pack' && last.paths.includes('big'), JSON.stringify(last));
    } finally {
      await packer.stop();
      rmSync(d, { recursive: true, force: true });
    }
  },
);
