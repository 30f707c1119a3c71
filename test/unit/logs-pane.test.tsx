// The Logs pane inside the real shell (App + keymap + store), driven by keys through
// ink-testing-library: records from a chunked source, follow, level filters and toggles,
// thread filter, search with n/N, inverse filter, program output hidden, next error, hint jump
// to the Config pane, export, and virtualised rendering of a large buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { LOG_SAMPLES, OWN_TEMPLATE, needsCorpus } from '../helpers/paths.ts';
import { renderStudio } from '../helpers/render-studio.tsx';

const TEMPLATE = OWN_TEMPLATE;
const KEY = { enter: '\r', down: '\x1b[B', up: '\x1b[A', esc: '\x1b', ctrlU: '\x15' };
const SAMPLE_FILE = join(LOG_SAMPLES, 'occlum-log-samples.txt');
const SKIP = needsCorpus(SAMPLE_FILE);
const SAMPLES = (SKIP ? '' : readFileSync(SAMPLE_FILE, 'utf8'))
  .split('\n')
  .filter((l) => !l.startsWith('#') && !l.startsWith('=='))
  .join('\n');

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'logs-pane-'));
  copyFileSync(TEMPLATE, join(dir, 'Occlum.json'));
  writeFileSync(join(dir, '.__occlum_status'), 'built');
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const { ui, frame, press } = renderStudio(store);
  const tick = () => new Promise((r) => setTimeout(r, 20));
  const feed = async (text: string, source = 'run') => {
    // Arbitrary chunk boundaries, as a pipe delivers them.
    for (let i = 0; i < text.length; i += 37) store.getState().appendLogChunk(source, text.slice(i, i + 37));
    store.getState().endLogSource(source);
    store.getState().logsSync();
    await tick();
  };
  await press('5');
  return { dir, store, ui, press, feed, frame };
}

test('records appear in follow mode; level filter, exact toggles and program output', { skip: SKIP }, async () => {
  const { store, ui, press, feed, frame } = await setup();
  try {
    assert.match(frame(), /No log records yet/);
    await feed(SAMPLES);
    const s = store.getState().logs;
    assert.ok(s.total >= 40);
    assert.equal(s.follow, true);
    assert.equal(s.cursor, s.matching - 1);
    // The newest record is on screen (follow), and the hint of the boot failure is not (scrolled off).
    assert.match(frame(), /copy_bom::util/);
    assert.match(frame(), /FOLLOW/);
    await press('-', '-', '-'); // trace → info... → warn
    assert.equal(store.getState().logs.filter.minLevel, 'warn');
    assert.doesNotMatch(frame(), /TRACE|DEBUG|INFO/);
    await press('p'); // hide program output
    assert.equal(store.getState().logs.filter.includeRaw, false);
    assert.doesNotMatch(frame(), /Building new image/);
    await press('!'); // hide errors (exact toggle): only WARN left → none in the samples
    assert.match(frame(), /No record passes the filter/);
    await press('!', 'c');
    assert.equal(store.getState().logs.matching, store.getState().logs.size);
  } finally {
    ui.unmount();
  }
});

test('search highlights and n/N move between matches; inverse filter; thread filter', { skip: SKIP }, async () => {
  const { store, ui, press, feed, frame } = await setup();
  try {
    await feed(SAMPLES);
    await press('/', ...'occlum_ecall', KEY.enter);
    const st = store.getState();
    const first = st.logs.cursor;
    assert.match(st.logsSelected()?.text ?? '', /occlum_ecall_new_process/);
    assert.equal(st.logs.follow, false);
    await press('n');
    const second = store.getState().logs.cursor;
    assert.ok(second > first);
    assert.match(store.getState().logsSelected()?.text ?? '', /occlum_ecall/);
    await press('N');
    assert.equal(store.getState().logs.cursor, first);
    assert.match(frame(), /occlum_ecall_new_process/);
    // Filter to thread 1 of the selected LibOS record.
    await press('g');
    while (store.getState().logsSelected()?.thread !== 1) await press('j');
    await press('t');
    assert.equal(store.getState().logs.filter.thread, 1);
    assert.ok(
      store
        .getState()
        .logsBuffer()
        .slice(0, 1000)
        .every((r) => r.thread === 1),
    );
    assert.match(frame(), /thread T1/);
    await press('t'); // again: clear
    assert.equal(store.getState().logs.filter.thread, null);
    // Inverse text filter.
    await press('F', ...'ENOENT', KEY.enter, 'i');
    const recs = store.getState().logsBuffer().slice(0, 1000);
    assert.ok(recs.length > 0 && recs.every((r) => !r.text.includes('ENOENT')));
    assert.match(frame(), /NOT text "ENOENT"/);
    // A bad regex is reported and the previous filter stays.
    await press('r', 'F', KEY.ctrlU, ...'(oops', KEY.enter);
    assert.match(frame(), /invalid regular expression/);
    assert.equal(store.getState().logs.filter.text, 'ENOENT');
  } finally {
    ui.unmount();
  }
});

test('next error, hint under the record, enter jumps to the field in the Config pane', { skip: SKIP }, async () => {
  const { store, ui, press, feed, frame } = await setup();
  try {
    await feed(SAMPLES);
    await press('g');
    // Walk the errors until the VM boot failure (hint: user_space_size).
    for (let i = 0; i < 40 && !/failed to create process VM/.test(store.getState().logsSelected()?.text ?? ''); i++)
      await press('e');
    assert.match(store.getState().logsSelected()?.text ?? '', /failed to create process VM/);
    assert.match(frame(), /↳ \[enter: Config resource_limits.user_space_size\] raise resource_limits.user_space_size/);
    assert.match(frame(), /Caused by ENOMEM/);
    await press(KEY.enter);
    assert.equal(store.getState().pane, 'config');
    assert.deepEqual(store.getState().config.selection, ['resource_limits', 'user_space_size']);
  } finally {
    ui.unmount();
  }
});

test('export writes the filtered view; timestamps and wrap toggles; run level', { skip: SKIP }, async () => {
  const { dir, store, ui, press, feed, frame } = await setup();
  try {
    await feed(SAMPLES);
    await press('-', '-', '-', '-', 'p'); // errors only, no program output
    const out = join(dir, 'errors.log');
    await press('x', KEY.ctrlU, ...out, KEY.enter);
    const lines = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith(' '));
    assert.equal(lines.length, store.getState().logs.matching);
    assert.ok(lines.every((l) => /ERROR/.test(l)));
    assert.match(store.getState().flash?.text ?? '', /^exported \d+ records to /);
    await press('s');
    assert.equal(store.getState().logs.timestamps, false);
    assert.doesNotMatch(frame(), /2025-12-26T01:24:09/);
    await press('w');
    assert.equal(store.getState().logs.wrap, true);
    // Long records wrap onto a second line once wrapping is on (rows already on screen too).
    await press('+', '+', '+', '+', 'p', 'g');
    assert.match(
      frame(),
      /lookup_inode: cwd: "\/", path:\n"\/opt\/occlum\/toolchains\/gcc\/x86_64-linux-musl\/lib\/libgcc_s\.so\.1"/,
    );
    await press('L', 'L');
    assert.equal(store.getState().logs.runLevel, 'warn');
    assert.deepEqual(store.getState().logsRunEnv(), { OCCLUM_LOG_LEVEL: 'warn' });
    assert.match(frame(), /OCCLUM_LOG_LEVEL=warn/);
  } finally {
    ui.unmount();
  }
});

test('a flood: only visible rows are rendered, the ring stays bounded, keys still work', async () => {
  const { store, ui, press, frame } = await setup();
  try {
    const line = (i: number) =>
      `[2025-12-26T01:24:09.456Z][TRACE][T${i % 7}][#${i}][····Read][syscall] Retval = 0x${i.toString(16)}\n`;
    let chunk = '';
    for (let i = 0; i < 120_000; i++) {
      chunk += line(i);
      if (chunk.length > 60_000) {
        store.getState().appendLogChunk('run', chunk);
        chunk = '';
      }
    }
    store.getState().appendLogChunk('run', chunk + '[ERROR] occlum-pal: boom (line 1, file src/x.c)\n');
    store.getState().logsSync();
    await press();
    const s = store.getState().logs;
    assert.equal(s.size, 50_000);
    assert.equal(s.total, 120_001);
    assert.match(frame(), /boom/);
    // The frame holds one screen, not 50k rows.
    assert.ok(frame().split('\n').length <= 40);
    await press('E'); // previous error wraps to the only error
    await press('g');
    assert.equal(store.getState().logs.cursor, 0);
    assert.match(frame(), /T1 #70001 Read \[syscall\] Retval = 0x11171/);
  } finally {
    ui.unmount();
  }
});

test('pasted shapes in the pane: a wrapped LibOS line is one row, sgx_urts and PAL records keep their hints', async () => {
  const { store, ui, press, feed, frame } = await setup();
  try {
    await feed(
      '^[[0m[2023-01-02T03:04:05.678Z][DEBUG][T2][#9][···Clone] clone: flags: CLONE_VM | CLO\n' +
        'NE_FS^[[0m^M\n' +
        '[get_driver_type edmm_utility.cpp:116] Failed to open Intel SGX device.\n' +
        '[ERROR] occlum-pal: \tSIGILL Caught ! (line 37, file src/pal_check_fsgsbase.c)\n',
    );
    assert.equal(store.getState().logs.total, 3);
    const f = frame();
    assert.match(f, /clone: flags: CLONE_VM \| CLONE_FS/);
    assert.match(f, /sgx-psw Failed to open Intel SGX device\./);
    assert.match(f, /occlum-pal SIGILL Caught !/);
    assert.match(f, /hint: .*sgx-mode SIM/);
    assert.match(f, /hint: .*enable_rdfsbase/);
    // Errors only: the DEBUG record goes, the two host-side errors stay.
    await press('-', '-', '-', '-');
    assert.doesNotMatch(frame(), /CLONE_VM/);
    assert.match(frame(), /Failed to open Intel SGX device/);
  } finally {
    ui.unmount();
  }
});
