// `occlum-studio exec <path> [args…]`: `occlum exec` into the started server. Like Occlum, a
// non-zero program status prints `Error: <raw wait status>` and exits 1; --exit-status returns
// the program's status instead.
import { UsageError, type Command } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { holdSignals, logSink, parseProgramArgs, reportBackendError } from './runtime-output.ts';

export const command: Command = {
  name: 'exec',
  summary: 'Run a program in the started sandbox (shares its run layer and ramfs), like `occlum exec`.',
  usage: 'occlum-studio exec [-C|--instance dir] [--log-file f] [--allow-fork] [--exit-status] <path> [args…]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--log-file': true, '--allow-fork': false, '--exit-status': false });
    if (!a.path) throw new UsageError('the program path inside the image is required, e.g. /bin/hello');
    const backend = new HostBackend(a.instance, { log: logSink(a.values.get('--log-file')) });
    const release = holdSignals();
    try {
      const exit = await backend.exec(a.path, a.args, { denyFork: !a.flags.has('--allow-fork') });
      if (a.flags.has('--exit-status') || exit.status === 0) return exit.status;
      const raw = exit.status > 128 ? exit.status - 128 : exit.status << 8;
      process.stderr.write(`Error: ${raw}\n`);
      return 1;
    } catch (err) {
      const code = reportBackendError(err);
      // occlum exec exits 1 for every failure, launch failures included.
      return a.flags.has('--exit-status') ? code : code === 0 ? 0 : 1;
    } finally {
      release();
    }
  },
};
