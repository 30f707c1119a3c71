// The logs store slice without a UI: sources, coalesced updates, the idle flush of a held
// multi-line record, export (atomic, errors reported), the run level and its effective value
// under Occlum.json's metadata, and focusConfigPath for present and absent keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { FRAME_MS, PENDING_FLUSH_MS } from '../../src/store/logs-slice.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storeWith(config: object) {
  const dir = mkdtempSync(join(tmpdir(), 'logs-slice-'));
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(config, null, 2));
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  return { dir, store };
}

test('chunks from two sources become records; updates are coalesced, then published', async () => {
  const { store } = await storeWith({});
  const s = store.getState();
  s.appendLogChunk('run', '[2021-04-19T10:02:40.450Z][TRACE][T1][#1][·····Brk] Retval = 1\n[ERROR] occlum-pal: x');
  s.appendLogChunk('server', Buffer.from('hello from the server\n'));
  assert.equal(store.getState().logs.total, 0, 'not published before a frame');
  await sleep(FRAME_MS + 30);
  assert.equal(store.getState().logs.total, 2);
  s.endLogSource('run'); // the unterminated PAL line is emitted at the end
  s.logsSync();
  const recs = store.getState().logsBuffer().slice(0, 10);
  assert.deepEqual(
    recs.map((r) => [r.source, r.kind]),
    [
      ['run', 'libos'],
      ['server', 'raw'],
      ['run', 'pal'],
    ],
  );
  assert.deepEqual(store.getState().logs.sources, ['run', 'server']);
});

test('a held boot failure is shown after a quiet period even if the stream stays open', async () => {
  const { store } = await storeWith({});
  store
    .getState()
    .appendLogChunk(
      'run',
      'failed to boot up LibOS: ENOENT (#2, No such file or directory): x [line = 1, file = a.rs]\n',
    );
  await sleep(PENDING_FLUSH_MS + FRAME_MS + 60);
  const recs = store.getState().logsBuffer().slice(0, 10);
  assert.deepEqual(
    recs.map((r) => r.kind),
    ['boot-failure'],
  );
});

test('export: atomic write of the filtered view; a bad directory is reported, nothing left behind', async () => {
  const { dir, store } = await storeWith({});
  const s = store.getState();
  s.appendLogChunk(
    'run',
    '[ERROR] occlum-pal: a (line 1, file src/a.c)\nprogram line\n[2021-04-19T10:02:40.450Z][TRACE][T1][#1][·····Brk] Retval = 1\n',
  );
  s.logsSync();
  s.logsStepMinLevel(-1); // trace → debug: hides the trace record
  const file = join(dir, 'out.log');
  assert.equal(s.logsExport(file), 2);
  assert.equal(readFileSync(file, 'utf8'), 'ERROR occlum-pal a (src/a.c:1)\n  --- program line\n');
  assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')));
  assert.equal(s.logsExport(join(dir, 'no', 'such', 'dir', 'x.log')), -1);
  assert.match(store.getState().flash?.text ?? '', /cannot export to .*x\.log: ENOENT/);
});

test('run level: env for the next run, effective level under release metadata', async () => {
  const debug = await storeWith({ metadata: { debuggable: true } });
  debug.store.getState().logsSetRunLevel('trace');
  assert.deepEqual(debug.store.getState().logsRunEnv(), { OCCLUM_LOG_LEVEL: 'trace' });
  assert.equal(debug.store.getState().logsEffectiveRunLevel().level, 'trace');
  const rel = await storeWith({ metadata: { debuggable: false, disable_log: false } });
  rel.store.getState().logsSetRunLevel('debug');
  assert.equal(rel.store.getState().logsEffectiveRunLevel().level, 'error');
  const off = await storeWith({ metadata: { debuggable: false } });
  off.store.getState().logsSetRunLevel('debug');
  assert.equal(off.store.getState().logsEffectiveRunLevel().level, 'off');
  off.store.getState().logsSetRunLevel('off');
  assert.deepEqual(off.store.getState().logsRunEnv(), {});
});

test('focusConfigPath selects the key, or its deepest existing parent with a message', async () => {
  const { store } = await storeWith({ resource_limits: { user_space_size: '300MB' }, process: {} });
  store.getState().focusConfigPath(['resource_limits', 'user_space_size']);
  assert.equal(store.getState().pane, 'config');
  assert.deepEqual(store.getState().config.selection, ['resource_limits', 'user_space_size']);
  store.getState().focusConfigPath(['process', 'default_heap_size']);
  assert.deepEqual(store.getState().config.selection, ['process']);
  assert.match(
    store.getState().flash?.text ?? '',
    /process\.default_heap_size is not set; add default_heap_size under process/,
  );
  store.getState().focusConfigPath(['entry_points']);
  assert.match(store.getState().flash?.text ?? '', /entry_points is not in Occlum.json/);
});

test('loading a missing log file reports it', async () => {
  const { dir, store } = await storeWith({});
  await store.getState().loadLogFile(join(dir, 'missing.log'));
  assert.match(store.getState().flash?.text ?? '', /cannot read log .*missing\.log/);
  assert.ok(!existsSync(join(dir, 'missing.log')));
});
