// The dev loop with a bom (host backend, real files): the settings name the bom; editing the C
// source outside the instance runs the prebuild, the bom copy brings the new program into image/,
// the build and the rerun follow; with keepRun the program's files in run/ survive the rebuild.
// A bom error stops the build at the bom stage with the entry's place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newInstance } from '../../src/core/instance/init.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BuildRecord } from '../../src/core/watch/types.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';

const program = (version: string) => `#include <stdio.h>
int main(void) {
  int runs = 0;
  FILE *f = fopen("/root/runs", "r");
  if (f) { if (fscanf(f, "%d", &runs) != 1) runs = 0; fclose(f); }
  runs++;
  f = fopen("/root/runs", "w");
  if (f) { fprintf(f, "%d\\n", runs); fclose(f); }
  printf("${version} runs=%d\\n", runs);
  return 0;
}
`;

/** Resolves when `cond` holds after one of the emitter's events (checked right away too). */
function until(
  on: (listener: () => void) => () => void,
  cond: () => boolean,
  what: string,
  detail?: () => string,
  ms = 60_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ''}`));
    }, ms);
    const off = on(() => {
      if (!cond()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

test(
  "a C source named by a bom's build: edit → prebuild → bom copy → build → rerun; keepRun keeps run/",
  { skip: !hasMuslGcc() && 'needs musl-gcc' },
  async () => {
    const ws = mkdtempSync(join(tmpdir(), 'bom-watch-'));
    const inst = join(ws, 'occlum_instance');
    newInstance(inst);
    rmSync(join(inst, 'image'), { recursive: true });
    writeFileSync(join(ws, 'hello.c'), program('v1'));
    writeFileSync(
      join(ws, 'hello.yaml'),
      'includes:\n  - base.yaml\ntargets:\n  - target: /bin\n    copy:\n      - files:\n        - ../hello_world\n',
    );
    writeFileSync(
      join(inst, '.occlum-studio.json'),
      JSON.stringify({
        prebuild: 'musl-gcc -fPIE -pie -o ../hello_world ../hello.c',
        watch: ['../hello.c'],
        bom: ['../hello.yaml'],
        keepRun: true,
        debounceMs: 60,
      }),
    );
    const loop = await DevLoop.open({
      instanceDir: inst,
      backend: new HostWatchBackend(),
      settings: loadSettings(inst),
      persistent: false,
    });
    const q = loop.queue;
    const builds: BuildRecord[] = [];
    let output = '';
    q.on('build-end', (r) => builds.push(r));
    q.on('run-output', ({ chunk }) => (output += chunk));
    // The loop's other events, in order, for a timeout's report.
    const events: string[] = [];
    q.on('run-start', (r) => events.push(`run-start ${JSON.stringify(r)}`));
    q.on('run-exit', (r) => events.push(`run-exit ${JSON.stringify(r)}`));
    q.on('run-stop', (r) => events.push(`run-stop ${JSON.stringify(r)}`));
    q.on('error', (e) => events.push(`error ${String((e as Error)?.message ?? e)}`));
    q.on('build-start', (r) => events.push(`build-start ${r.id} ${r.trigger}`));
    // What a timeout reports: each build's trigger, outcome and output, and the programs' output.
    const detail = () =>
      builds
        .map((b) => `build ${b.trigger} ${b.outcome}: ${b.output.map((l) => `[${l.stream}] ${l.text}`).join('\n  ')}`)
        .concat(`run output: ${JSON.stringify(output)}`, `events:\n  ${events.join('\n  ')}`)
        .join('\n');
    const onQueue = (ev: 'build-end' | 'run-output') => (l: () => void) => {
      q.on(ev, l);
      return () => q.off(ev, l);
    };
    try {
      q.buildNow('initial');
      await until(onQueue('build-end'), () => builds.length === 1, 'the first build', detail);
      assert.equal(builds[0]!.outcome, 'ok', builds[0]!.output.map((l) => l.text).join('\n'));
      const bomLines = builds[0]!.output.filter((l) => l.stream === 'bom').map((l) => l.text);
      assert.ok(
        bomLines.some((l) => /create \/bin\/hello_world <- .*\/hello_world \(files\)/.test(l)),
        bomLines.join('\n'),
      );
      assert.ok(
        bomLines.some((l) => /libraries of .*hello_world: \/lib\/ld-musl-x86_64\.so\.1/.test(l)),
        bomLines.join('\n'),
      );
      await q.run({ path: '/bin/hello_world', args: [] });
      await until(onQueue('run-output'), () => output.includes('v1 runs=1'), 'the first run', detail);

      writeFileSync(join(ws, 'hello.c'), program('v2'));
      await until(
        onQueue('run-output'),
        () => output.includes('v2 runs=2'),
        'the rerun of the new program, run/ kept',
        detail,
      );
      const rebuilt = builds.find((b) => b.trigger === 'change' && b.outcome === 'ok')!;
      assert.ok(rebuilt.prebuildRan);
      assert.ok(rebuilt.output.some((l) => l.stream === 'bom' && /update \/bin\/hello_world/.test(l.text)));

      // A broken bom stops the build at the bom stage, naming the place; the last good build stays.
      const before = builds.length;
      writeFileSync(
        join(ws, 'hello.yaml'),
        'targets:\n  - target: /bin\n    copy:\n      - file:\n        - ../hello_world\n',
      );
      await until(
        onQueue('build-end'),
        () => builds.length > before && builds.at(-1)!.outcome !== 'running',
        'the failed build',
        detail,
      );
      const failed = builds.at(-1)!;
      assert.equal(failed.outcome, 'failed');
      assert.equal(failed.cause?.stage, 'bom');
      assert.match(
        failed.cause!.message,
        /hello\.yaml:4:9: error: .*neither "from", "dirs" nor "files".*did you mean "files"/,
      );
    } finally {
      await loop.close();
      rmSync(ws, { recursive: true, force: true });
    }
  },
);
