// What the fork watch adds to a run's sandbox launch (docs/security.md, "Fork attempts"): the
// same program launched alternately with bwrap's denying filter (the launch before the watch)
// and with the fork shim and the addon's watch (what `run` does now), each to its end. Cold
// launches through the stager, as `run` does; the baseline is measured in this run.
import { spawn } from 'node:child_process';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { RuntimeLog } from '../../src/core/backend/host/log.ts';
import { prepareProgram, watchForks } from '../../src/core/backend/host/program.ts';
import { runLaunch, type Launch } from '../../src/core/sandbox/launch.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { median, report } from './helpers.ts';

const RUNS = 40;

function toEnd(l: Launch): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(l.file, l.args, { env: l.env, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.resume();
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`exit ${code}`))));
  });
}

const dir = makeInstance(['hello']);
const built = await new HostBackend(dir).build();
if (!built.ok) throw new Error(built.errors.join('\n'));
const log = new RuntimeLog('off', undefined);
const before: number[] = [];
const watched: number[] = [];
for (let i = 0; i < RUNS + 3; i++) {
  const prep = await prepareProgram(dir, '/bin/hello', [], {}, log, true);
  const plain = await toEnd(runLaunch(prep.spec));
  // The watch's own set-up and end (directory, socket, thread; join, removal) count too.
  const t0 = performance.now();
  const { spec, watch } = watchForks(prep, log);
  if (!watch) throw new Error('no fork watch here (native addon or fork shim missing)');
  await toEnd(runLaunch(spec));
  watch.take();
  const t = performance.now() - t0;
  if (i < 3) continue; // warm-up
  before.push(plain);
  watched.push(t);
}
const base = { name: 'launch with bwrap --seccomp (before)', value: median(before) };
report('launch with the fork shim and watch (now), to the program’s end', median(watched), 'ms', base);
report('  added per run (median of paired differences)', median(watched.map((w, i) => w - before[i]!)), 'ms');
