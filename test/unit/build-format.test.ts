// The Build pane's change labels: a file of the instance by its path in the instance, a source
// outside it (a bom's program, a prebuild's input) by its own path, and hostile names inert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeLabel } from '../../views/panes/build/format.ts';
import type { ChangeEntry } from '../../src/core/watch/types.ts';

const entry = (path: string, rel: string, kind: ChangeEntry['kind'] = 'changed'): ChangeEntry => ({
  path,
  rel,
  area: 'source',
  kind,
  isDir: false,
});

test('a change inside the instance shows its path in the instance', () => {
  assert.equal(changeLabel(entry('/w/inst/image/bin/app', 'image/bin/app')), '~image/bin/app');
  assert.equal(changeLabel(entry('/w/inst/..cfg', '..cfg', 'added')), '+..cfg', 'a name starting with two dots');
});

test('a source outside the instance shows its own path, not one climbing out of the instance', () => {
  assert.equal(
    changeLabel(entry('/usr/bin/redis-server', '../../../usr/bin/redis-server', 'added')),
    '+/usr/bin/redis-server',
  );
  assert.equal(changeLabel(entry('/w', '..', 'removed')), '-/w');
});

test('a hostile name is shown inert', () => {
  assert.doesNotMatch(changeLabel(entry('/w/inst/image/\x1b]0;x\x07', 'image/\x1b]0;x\x07')), /[\x1b\x07]/);
});
