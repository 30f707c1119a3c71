// A new watcher taking over from an old one (the dev loop rescoping after a bom names new
// sources): a change written in between, whose event the old watcher never delivered and which
// the new watcher's first scan already holds, is still reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchScope } from '../../src/core/watch/scope.ts';
import { Watcher } from '../../src/core/watch/watcher.ts';
import type { ChangeSet } from '../../src/core/watch/types.ts';
import { waitFor } from '../helpers/wait.ts';

test('a change between two watchers is reported by the new one after adopt()', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'watch-handover-'));
  try {
    mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
    writeFileSync(join(dir, 'image', 'bin', 'app'), 'v1');
    const scope = new WatchScope(dir, []);
    const old = new Watcher({ scope, debounceMs: 30, persistent: false });
    await old.start();
    // Written and handed over synchronously: the old watcher cannot have seen the event yet.
    writeFileSync(join(dir, 'image', 'bin', 'app'), 'v2 longer');
    assert.equal(old.take(), null);
    await old.close();
    const next = new Watcher({ scope, debounceMs: 30, persistent: false });
    const sets: ChangeSet[] = [];
    next.on('changes', (s: ChangeSet) => sets.push(s));
    await next.start();
    next.adopt(old);
    await waitFor(() => sets.length > 0, 'the change set of the new watcher');
    assert.deepEqual(
      sets.flatMap((s) => s.entries.map((e) => `${e.kind} ${e.rel}`)),
      ['changed image/bin/app'],
    );
    await next.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
