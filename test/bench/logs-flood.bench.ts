// Key response of the Logs pane while a program floods 10 MB/s of log lines into it, against the
// same keys with no flood in the same run (goal: keys answered within 50 ms). The real shell (App,
// keymap, store, Logs pane) renders through ink-testing-library; the flood goes through
// appendLogChunk as the Run pane feeds it.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import React from 'react';
import { render } from 'ink-testing-library';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { App } from '../../views/App.tsx';
import { StoreProvider } from '../../views/store-context.tsx';
import { CONFIG_CORPUS } from '../helpers/paths.ts';
import { median, percentile, report } from './helpers.ts';

const RATE = 10 * 1024 * 1024; // bytes per second
// A pipe or pty delivers at most 64 KiB per read, each its own event: so does the flood here.
const TICK_MS = 5;
const MAX_CHUNK = 64 * 1024;
const KEYS = 40;

const dir = mkdtempSync(join(tmpdir(), 'bench-logs-'));
copyFileSync(join(CONFIG_CORPUS, 'occlum', 'etc__template__Occlum.json'), join(dir, 'Occlum.json'));
const store = createStudioStore({ launchDir: dir });
await openInstance(store, dir);
const ui = render(React.createElement(StoreProvider, { store, children: React.createElement(App) }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
ui.stdin.write('5');
await sleep(50);

let seq = 0;
const line = () => {
  const i = seq++;
  return i % 50 === 0
    ? `\x1b[31m[2025-12-26T01:24:09.456Z][ERROR][T${i % 9}][#${i}][····Open][syscall] Error = ENOENT (#2, No such file or directory): EntryNotFound [line = 43, file = src/fs/file.rs]\x1b[0m\n`
    : `\x1b[0m[2025-12-26T01:24:09.456Z][TRACE][T${i % 9}][#${i}][····Read][syscall] Syscall { num = Read, fd = 3, buf = 0x7f0000001000, size = 4096 }\x1b[0m\n`;
};
// Bytes owed are computed from the wall clock, so timer jitter does not lower the rate; the
// lines come from a pre-built block (the generator must not be the bottleneck).
let block = '';
while (block.length < 4 * 1024 * 1024) block += line();
let blockAt = 0;
let floodBytes = 0;
let flooding = false;
let floodStart = 0;
/** One pipe read: up to MAX_CHUNK bytes of whole lines. */
function deliver(owed: number): number {
  let end = block.indexOf('\n', blockAt + Math.min(owed, MAX_CHUNK));
  if (end === -1) end = block.length - 1;
  const chunk = block.slice(blockAt, end + 1);
  blockAt = end + 1 >= block.length ? 0 : end + 1;
  floodBytes += chunk.length;
  store.getState().appendLogChunk('run', Buffer.from(chunk));
  return chunk.length;
}
let delivering = false;
const flood = setInterval(() => {
  if (!flooding || delivering) return;
  // Bytes owed by the wall clock, delivered as separate reads (separate macrotasks, like
  // 'data' events) so other events — keys — can run between them.
  let owed = Math.floor(((performance.now() - floodStart) / 1000) * RATE) - floodBytes;
  const next = () => {
    delivering = flooding && owed > 0;
    if (!delivering) return;
    owed -= deliver(owed);
    setImmediate(next);
  };
  next();
}, TICK_MS);

/** Time from a key press to the store (and so the next frame) reflecting it. */
async function keyLatencies(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const before = store.getState().logs.follow;
    const t0 = performance.now();
    ui.stdin.write('f'); // toggle follow: a state change the pane shows (FOLLOW / paused)
    while (store.getState().logs.follow === before) await new Promise((r) => setImmediate(r));
    const frameWant = store.getState().logs.follow ? 'FOLLOW' : 'paused';
    while (!(ui.lastFrame() ?? '').includes(frameWant)) await new Promise((r) => setImmediate(r));
    out.push(performance.now() - t0);
    await sleep(20 + Math.random() * 30);
  }
  return out;
}

const idle = await keyLatencies(KEYS);
flooding = true;
floodStart = performance.now();
await sleep(1000); // let the flood fill the ring
const t0 = performance.now();
const busy = await keyLatencies(KEYS);
const secs = (performance.now() - t0) / 1000;
flooding = false;
clearInterval(flood);
const mbps = floodBytes / 2 ** 20 / ((performance.now() - floodStart) / 1000);
report('key → frame, no flood (p50)', median(idle), 'ms');
report('key → frame during a 10 MB/s flood (p50)', median(busy), 'ms', { name: 'no flood', value: median(idle) });
report(
  'key → frame during a 10 MB/s flood (p95)',
  percentile(busy, 95),
  'ms',
  { name: 'no flood p95', value: percentile(idle, 95) },
  '< 50 ms',
);
console.log(
  `  flood delivered ${mbps.toFixed(1)} MB/s over ${secs.toFixed(1)} s; ${store.getState().logs.total} records, ring holds ${store.getState().logs.size}`,
);
ui.unmount();
process.exit(0);
