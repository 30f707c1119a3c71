// `occlum-studio size [-C dir] [--json] [--apply] <path> [args…]`: runs the program on the host
// backend with generous limits, measures the whole process tree and recommends every sizing
// field of Occlum.json for the targeted Occlum version; --apply writes them (format-preserving).
import { HostBackend } from '../core/backend/host/index.ts';
import { loadConfigFile, saveConfigFile } from '../core/config/index.ts';
import {
  applyRecommendation,
  formatField,
  formatMeasurement,
  recommend,
  sizeProgram,
  SizingStopped,
  targetVersion,
  DEFAULT_INTERVAL_MS,
} from '../core/sizing/index.ts';
import { sanitizeForTerminal } from '../core/text/sanitize.ts';
import { formatSize } from '../core/config/sizes.ts';
import { formatWords } from '../core/pty/command-line.ts';
import { InputError, printJson, UsageError, type Command } from './command.ts';
import { logSink, reportBackendError } from './runtime-output.ts';
import { INSTANCE_OPTION, instanceDir, parseProgramCommand } from './args.ts';
import { instancePaths } from '../core/instance/layout.ts';
import { forkAttemptHint } from '../core/logs/index.ts';

const OPTIONS = {
  ...INSTANCE_OPTION,
  json: { type: 'boolean', default: false },
  apply: { type: 'boolean', default: false },
  'occlum-version': { type: 'string' },
  interval: { type: 'string' },
  'log-file': { type: 'string' },
} as const;

export const command: Command = {
  name: 'size',
  summary:
    'Runs a program of the built image on the host backend (same checks and sandbox as `run`, but no limits from ' +
    'Occlum.json), measures the whole process tree (peak resident and mapped memory, brk heap, main stack, largest ' +
    'mapping, threads at once, processes, open files, run time) and recommends every sizing field of Occlum.json for ' +
    'the targeted Occlum version, flagging values too small (with the error Occlum would give) or wastefully large. ' +
    '--apply writes the recommendation into Occlum.json (format-preserving; rebuild to use it). --interval sets the ' +
    `/proc sampling period in ms (default ${DEFAULT_INTERVAL_MS}; it backs off to 16 times that while nothing changes). ` +
    'Each figure names its source (a cgroup counter, or sampling). Exit status: 0, or 1 when the program failed.',
  usage:
    'occlum-studio size [-C DIR] [--json] [--apply] [--occlum-version V] [--interval ms] [--log-file f] ' +
    '<path> [args…]',
  options: OPTIONS,
  instance: 'option',
  programAfter: 'first-argument',
  async run(argv) {
    const a = parseProgramCommand(argv, OPTIONS);
    const dir = instanceDir(a.values.instance, undefined);
    if (!a.path) throw new UsageError('the program path inside the image is missing, e.g. occlum-studio size /bin/app');
    const json = a.values.json;
    const interval = a.values.interval !== undefined ? Number(a.values.interval) : DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval < 1 || interval > 1000) {
      const given = a.values.interval;
      throw new UsageError(`--interval must be a number of milliseconds from 1 to 1000, not "${given}"`);
    }
    const configFile = instancePaths(dir).config;
    let loaded;
    try {
      loaded = loadConfigFile(configFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new InputError(`${dir} is not an Occlum instance (no Occlum.json): give one with -C DIR`);
      const why = (err as Error).message;
      throw new InputError(`cannot read ${configFile}: ${why}; size needs an Occlum instance (-C dir)`);
    }
    const { version, problems } = targetVersion(loaded.text, dir, a.values['occlum-version']);
    for (const p of problems) process.stderr.write(`occlum-studio: ${sanitizeForTerminal(p)}\n`);
    const backend = new HostBackend(dir, { log: logSink(a.values['log-file']) });
    const { signal, stoppedBy, release } = stopOnSignals();
    let m;
    try {
      // With --json the program's stdout goes to stderr, so stdout holds only the report.
      const stdio = ['inherit', json ? process.stderr : 'inherit', 'inherit'] as const;
      m = await sizeProgram(backend, a.path, a.args, loaded.text, version, {
        intervalMs: interval,
        stdio: [...stdio],
        signal,
        onJvmRetry: (failed, status, next) =>
          process.stderr.write(
            `occlum-studio: the JVM failed (status ${status}) with -XX:MaxHeapSize=${formatSize(failed)}, the heap ` +
              `it takes in Occlum under the current config; measuring again with ${formatSize(next)}, the heap ` +
              'the recommended config gives it\n',
          ),
      });
      // Ctrl-C to the terminal's process group reaches the program and the studio at once: its
      // exit (130) may be seen before the studio's own SIGINT handler runs. A status a stop signal
      // gives waits a moment for that signal before it counts as the program's own failure.
      if (!stoppedBy() && STOP_STATUSES.has(m.status)) await new Promise((r) => setTimeout(r, SIGNAL_GRACE_MS));
    } catch (err) {
      if (!(err instanceof SizingStopped)) return reportBackendError(err);
      return stoppedBeforeStart(stoppedBy());
    } finally {
      release();
    }
    if (stoppedBy()) m = { ...m, stoppedBy: stoppedBy() };
    // Ctrl-C during the sandbox's set-up ends the launcher before the program: no figures at all.
    if (m.stoppedBy && m.processes === 0) return stoppedBeforeStart(m.stoppedBy);
    if (m.forks) {
      const h = forkAttemptHint(m.forks, a.path);
      process.stderr.write(`hint: ${sanitizeForTerminal(`${h.message}: ${h.suggestion}`)}\n`);
    }
    const rec = recommend(m, loaded.text, version);
    const failed = m.status !== 0 && !m.stoppedBy;
    let applied = false;
    if (a.values.apply && !failed) {
      const next = applyRecommendation(loaded.text, rec);
      if (next !== loaded.text) {
        saveConfigFile(configFile, next, loaded.disk);
        applied = true;
      }
    }
    if (json) {
      printJson({ measurement: m, recommendation: rec, applied });
    } else {
      const out = [
        `measured ${sanitizeForTerminal(formatWords(m.command))} on the host backend:`,
        ...formatMeasurement(m).map((l) => `  ${l}`),
        `recommended for Occlum ${rec.version}${rec.edmm ? ' (EDMM)' : ''} (! too small, ~ too large, + missing):`,
        ...rec.fields.map((f) => sanitizeForTerminal(formatField(f))),
      ];
      const shown = sanitizeForTerminal(configFile);
      if (applied) out.push(`wrote ${shown}; rebuild (occlum-studio build) for runs to use it`);
      else if (a.values.apply && !failed) out.push('Occlum.json already has these values: nothing written');
      else if (!a.values.apply && rec.fields.some((f) => f.change))
        out.push(`--apply writes these into ${shown} (then rebuild: occlum-studio build)`);
      process.stdout.write(out.join('\n') + '\n');
    }
    if (m.stoppedBy) {
      process.stderr.write(
        `occlum-studio: stopped by ${m.stoppedBy} after ${(m.runMs / 1000).toFixed(1)} s: the figures cover what ` +
          'the program did until then; size a server under the load it will serve\n',
      );
    }
    if (failed) {
      const heap = m.jvmMaxHeap ? ` (but with -XX:MaxHeapSize=${formatSize(m.jvmMaxHeap)}, its heap in Occlum)` : '';
      process.stderr.write(
        `occlum-studio: the program exited with status ${m.status} even without limits${heap}: ` +
          'the figures cover only what it did before that' +
          `${a.values.apply ? '; nothing written' : ''}\n`,
      );
      return 1;
    }
    return 0;
  },
};

function stoppedBeforeStart(by: string | undefined): number {
  process.stderr.write(`occlum-studio: stopped by ${by} before a sample of the program was taken: nothing measured\n`);
  return 1;
}

/**
 * How `size` ends a server: Ctrl-C (SIGINT from the terminal, which also ends the sandbox as it ends
 * `occlum run`), SIGTERM or SIGHUP stop the run (SIGTERM to what is left of the program, SIGKILL
 * after the grace) and the figures up to then are the result.
 */
/** Exit statuses of a program ended by SIGHUP, SIGINT or SIGTERM (128 + the signal). */
const STOP_STATUSES = new Set([129, 130, 143]);
/** How long such an exit waits for the studio's own signal (see above). */
const SIGNAL_GRACE_MS = 200;

function stopOnSignals(): { signal: AbortSignal; stoppedBy: () => NodeJS.Signals | undefined; release: () => void } {
  const stop = new AbortController();
  let by: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    by ??= sig;
    stop.abort();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const quit = () => {}; // SIGQUIT (Ctrl-\\) reaches the program from the terminal, as with run
  for (const sig of signals) process.on(sig, on);
  process.on('SIGQUIT', quit);
  return {
    signal: stop.signal,
    stoppedBy: () => by,
    release: () => {
      for (const sig of signals) process.off(sig, on);
      process.off('SIGQUIT', quit);
    },
  };
}
