// `occlum-studio exec <path> [args…]`: `occlum exec` into the started server, through the chosen
// backend. Like Occlum, a non-zero program status prints `Error: <raw wait status>` (once: on the
// occlum backend `occlum exec` prints it itself) and exits 1; --exit-status returns the program's
// status instead.
import { appendFileSync } from 'node:fs';
import { UsageError, type Command, sayErr } from './command.ts';
import { holdSignals, logSink, reportBackendError } from './runtime-output.ts';
import { backendFlag, openCommandBackend } from './backend-choice.ts';
import { INSTANCE_OPTION, instanceDir, parseProgramCommand } from './args.ts';
import { readServerLog, serverLogMark } from '../core/backend/occlum/server-log.ts';
import { LogParser } from '../core/logs/index.ts';

/** occlum exec's LibOS log goes to the server's stderr (a file the studio keeps): copy this exec's part. */
function copyServerLog(dir: string, mark: number | null, file: string): void {
  if (mark === null) return;
  const parser = new LogParser();
  const records = [...parser.feed(readServerLog(dir, mark)), ...parser.end()];
  const lines = records.filter((r) => r.level !== null).map((r) => r.text + '\n');
  if (lines.length > 0) appendFileSync(file, lines.join(''));
}

const OPTIONS = {
  ...INSTANCE_OPTION,
  backend: { type: 'string' },
  'log-file': { type: 'string' },
  'allow-fork': { type: 'boolean', default: false },
  'exit-status': { type: 'boolean', default: false },
} as const;

export const command: Command = {
  name: 'exec',
  summary:
    'Run a program in the started server (shares its run layer and ramfs), like `occlum exec`, through the chosen backend (--backend occlum|host; default: occlum when installed).',
  usage:
    'occlum-studio exec [-C DIR] [--backend occlum|host] [--log-file f] [--allow-fork] [--exit-status] <path> [args…]',
  options: OPTIONS,
  instance: 'option',
  programAfter: 'first-argument',
  async run(argv) {
    const a = parseProgramCommand(argv, OPTIONS);
    if (!a.path) throw new UsageError('the program path inside the image is required, e.g. /bin/hello');
    const dir = instanceDir(a.values.instance, undefined);
    const logFile = a.values['log-file'];
    const allowFork = a.values['allow-fork'];
    const exitStatus = a.values['exit-status'];
    const { backend, choice } = openCommandBackend(dir, backendFlag(a.values.backend), {
      events: { log: logSink(logFile) },
    });
    if (choice.kind === 'occlum' && allowFork) {
      throw new UsageError(
        `--allow-fork is not supported by the occlum backend (chosen: ${choice.reason}): Occlum has no fork(); the flag only relaxes the host sandbox`,
      );
    }
    const mark = choice.kind === 'occlum' && logFile ? serverLogMark(dir) : null;
    const release = holdSignals();
    try {
      const exit = await backend.exec(a.path, a.args, { denyFork: !allowFork });
      if (logFile && choice.kind === 'occlum') copyServerLog(dir, mark, logFile);
      if (choice.kind === 'occlum' && exit.status !== 0 && !exit.meaning.includes('(occlum exec printed')) {
        // No `Error: <status>` line came from occlum exec: the reason is the studio's to give.
        sayErr(`occlum-studio: ${exit.meaning}`);
      }
      if (exitStatus || exit.status === 0) return exit.status;
      if (choice.kind === 'host') {
        const raw = exit.status > 128 ? exit.status - 128 : exit.status << 8;
        process.stderr.write(`Error: ${raw}\n`);
      }
      return 1;
    } catch (err) {
      const code = reportBackendError(err);
      // occlum exec exits 1 for every failure, launch failures included.
      return exitStatus ? code : code === 0 ? 0 : 1;
    } finally {
      release();
    }
  },
};
