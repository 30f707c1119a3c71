// `occlum-studio size [-C dir] [--json] [--apply] <path> [args…]`: runs the program on the host
// backend with generous limits, measures the whole process tree and recommends every sizing
// field of Occlum.json for the targeted Occlum version; --apply writes them (format-preserving).
import { join } from 'node:path';
import { HostBackend } from '../core/backend/host/index.ts';
import { loadConfigFile, saveConfigFile } from '../core/config/index.ts';
import {
  applyRecommendation, formatField, formatMeasurement, measureRun, recommend, targetVersion, DEFAULT_INTERVAL_MS,
} from '../core/sizing/index.ts';
import { sanitizeForTerminal } from '../core/text/sanitize.ts';
import { printJson, UsageError, UserError, type Command } from './command.ts';
import { holdSignals, logSink, parseProgramArgs, printedHelp, reportBackendError } from './runtime-output.ts';

export const SIZE_OPTIONS = {
  '--instance': true, '--json': false, '--apply': false, '--occlum-version': true, '--interval': true,
  '--log-file': true,
};

export const command: Command = {
  name: 'size',
  summary:
    'Runs a program of the built image on the host backend (same checks and sandbox as `run`, but no limits from ' +
    'Occlum.json), measures the whole process tree (peak resident and mapped memory, brk heap, main stack, largest ' +
    'mapping, threads at once, processes, open files, run time) and recommends every sizing field of Occlum.json for ' +
    'the targeted Occlum version, flagging values too small (with the error Occlum would give) or wastefully large. ' +
    '--apply writes the recommendation into Occlum.json (format-preserving; rebuild to use it). --interval sets the ' +
    `/proc sampling period in ms (default ${DEFAULT_INTERVAL_MS}). Exit status: 0, or 1 when the program failed.`,
  usage:
    'occlum-studio size [-C|--instance dir] [--json] [--apply] [--occlum-version V] [--interval ms] [--log-file f] ' +
    '<path> [args…]',
  async run(argv) {
    const a = parseProgramArgs(argv, SIZE_OPTIONS);
    if (printedHelp(a, command.usage, command.summary)) return 0;
    if (!a.path) throw new UsageError('the program path inside the image is missing, e.g. occlum-studio size /bin/app');
    const json = a.flags.has('--json');
    const interval = a.values.has('--interval') ? Number(a.values.get('--interval')) : DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval < 1 || interval > 1000) {
      const given = a.values.get('--interval');
      throw new UsageError(`--interval must be a number of milliseconds from 1 to 1000, not "${given}"`);
    }
    const configFile = join(a.instance, 'Occlum.json');
    let loaded;
    try {
      loaded = loadConfigFile(configFile);
    } catch (err) {
      const why = (err as Error).message;
      throw new UserError(`cannot read ${configFile}: ${why}; size needs an Occlum instance (-C dir)`);
    }
    const backend = new HostBackend(a.instance, { log: logSink(a.values.get('--log-file')) });
    const release = holdSignals();
    let m;
    try {
      // With --json the program's stdout goes to stderr, so stdout holds only the report.
      const stdio = ['inherit', json ? process.stderr : 'inherit', 'inherit'] as const;
      m = await measureRun(backend, a.path, a.args, { intervalMs: interval, stdio: [...stdio] });
    } catch (err) {
      return reportBackendError(err);
    } finally {
      release();
    }
    const { version, problems } = targetVersion(loaded.text, a.instance, a.values.get('--occlum-version'));
    for (const p of problems) process.stderr.write(`occlum-studio: ${sanitizeForTerminal(p)}\n`);
    const rec = recommend(m, loaded.text, version);
    const failed = m.status !== 0;
    let applied = false;
    if (a.flags.has('--apply') && !failed) {
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
        `measured ${sanitizeForTerminal(m.command.join(' '))} on the host backend:`,
        ...formatMeasurement(m).map((l) => `  ${l}`),
        `recommended for Occlum ${rec.version}${rec.edmm ? ' (EDMM)' : ''} (! too small, ~ too large, + missing):`,
        ...rec.fields.map((f) => sanitizeForTerminal(formatField(f))),
      ];
      if (applied) out.push(`wrote ${configFile}; rebuild (occlum-studio build) for runs to use it`);
      else if (a.flags.has('--apply') && !failed) out.push('Occlum.json already has these values: nothing written');
      process.stdout.write(out.join('\n') + '\n');
    }
    if (failed) {
      process.stderr.write(
        `occlum-studio: the program exited with status ${m.status} even without limits: ` +
          'the figures cover only what it did before that' +
          `${a.flags.has('--apply') ? '; nothing written' : ''}\n`,
      );
      return 1;
    }
    return 0;
  },
};
