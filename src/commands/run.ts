// `occlum-studio run <path> [args…]`: `occlum run` through the chosen backend (host sandbox or the
// installed Occlum). Options only before the program path; the program's stdio is this terminal;
// exit status as `occlum run` gives it (127 could not launch, 128+n signal n).
import { UsageError, type Command } from './command.ts';
import { holdSignals, logSink, parseProgramArgs, printedHelp, reportBackendError } from './runtime-output.ts';
import { backendFlag, openCommandBackend, refuseFlags } from './backend-choice.ts';

export const RUN_OPTIONS = { '--instance': true, '--backend': true, '--log-file': true, '--allow-fork': false, '--full-verify': false };

export const command: Command = {
  name: 'run',
  summary:
    'Run a program of the built image like `occlum run`, through the chosen backend (--backend occlum|host; default: occlum when installed). Host: entry-point and path checks, verified build, env.default + env.untrusted only, fork() denied (--allow-fork turns that off); runtime log records (OCCLUM_LOG_LEVEL) go to stderr or --log-file. Occlum: `occlum run` in the instance directory, its LibOS log on stderr.',
  usage: 'occlum-studio run [-C|--instance dir] [--backend occlum|host] [--log-file f] [--allow-fork] [--full-verify] <path> [args…]',
  async run(argv) {
    const a = parseProgramArgs(argv, RUN_OPTIONS);
    if (printedHelp(a, command.usage, command.summary)) return 0;
    if (!a.path) throw new UsageError('at least one argument must be provided: the program path inside the image, e.g. /bin/hello');
    const logFile = a.values.get('--log-file');
    const { backend, choice } = openCommandBackend(a.instance, backendFlag(a.values.get('--backend')), { events: { log: logSink(logFile) } });
    if (choice.kind === 'occlum') {
      refuseFlags(choice, [
        {
          flag: '--log-file',
          given: logFile !== undefined,
          why: '`occlum run` gets this terminal and prints its LibOS log lines on stderr itself; redirect stderr instead (2>file)',
        },
        { flag: '--allow-fork', given: a.flags.has('--allow-fork'), why: 'Occlum has no fork() (programs use posix_spawn); the flag only relaxes the host sandbox' },
        { flag: '--full-verify', given: a.flags.has('--full-verify'), why: 'the enclave verifies the image itself when it mounts it; use `occlum-studio fs verify` to check it without running' },
      ]);
    }
    const release = holdSignals();
    try {
      const exit = await backend.run(a.path, a.args, { denyFork: !a.flags.has('--allow-fork'), fullVerify: a.flags.has('--full-verify') });
      // The host backend throws for launch failures; occlum's own launcher prints little, so the
      // studio adds what it knows (the path problem, or the boot error it read).
      if (choice.kind === 'occlum' && (exit.status === 127 || /^Occlum failed to boot/.test(exit.meaning))) {
        process.stderr.write(`occlum-studio: ${exit.meaning}\n`);
      }
      return exit.status;
    } catch (err) {
      return reportBackendError(err);
    } finally {
      release();
    }
  },
};
