// `occlum-studio run <path> [args…]`: `occlum run` on the host backend. Options only before the
// program path; the program's stdio is this terminal; exit status as `occlum run` gives it.
import { UsageError, type Command } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { holdSignals, logSink, parseProgramArgs, reportBackendError } from './runtime-output.ts';

export const RUN_OPTIONS = { '--instance': true, '--log-file': true, '--allow-fork': false, '--full-verify': false };

export const command: Command = {
  name: 'run',
  summary:
    'Run a program of the built image in the sandbox, like `occlum run`: entry-point and path checks, verified build, env.default + env.untrusted only, fork() denied (--allow-fork turns that off). Runtime log records (OCCLUM_LOG_LEVEL) go to stderr or --log-file.',
  usage: 'occlum-studio run [-C|--instance dir] [--log-file f] [--allow-fork] [--full-verify] <path> [args…]',
  async run(argv) {
    const a = parseProgramArgs(argv, RUN_OPTIONS);
    if (!a.path) throw new UsageError('at least one argument must be provided: the program path inside the image, e.g. /bin/hello');
    const backend = new HostBackend(a.instance, { log: logSink(a.values.get('--log-file')) });
    const release = holdSignals();
    try {
      const exit = await backend.run(a.path, a.args, { denyFork: !a.flags.has('--allow-fork'), fullVerify: a.flags.has('--full-verify') });
      return exit.status;
    } catch (err) {
      return reportBackendError(err);
    } finally {
      release();
    }
  },
};
