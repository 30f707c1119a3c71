// `occlum-studio run <path> [args…]`: `occlum run` through the chosen backend (host sandbox or the
// installed Occlum). Options only before the program path; the program's stdio is this terminal;
// exit status as `occlum run` gives it (127 could not launch, 128+n signal n).
import { UsageError, type Command, sayErr } from './command.ts';
import { holdSignals, logSink, reportBackendError } from './runtime-output.ts';
import { backendFlag, openCommandBackend, refuseFlags } from './backend-choice.ts';
import { INSTANCE_OPTION, instanceDir, parseProgramCommand } from './args.ts';
import { OutputHints, withForkHint } from '../core/logs/index.ts';

const OPTIONS = {
  ...INSTANCE_OPTION,
  backend: { type: 'string' },
  'log-file': { type: 'string' },
  'allow-fork': { type: 'boolean', default: false },
  'full-verify': { type: 'boolean', default: false },
} as const;

export const command: Command = {
  name: 'run',
  summary:
    'Run a program of the built image like `occlum run`, through the chosen backend (--backend occlum|host; default: occlum when installed). Host: entry-point and path checks, verified build, env.default + env.untrusted only, fork() denied (--allow-fork turns that off); runtime log records (OCCLUM_LOG_LEVEL) go to stderr or --log-file. Occlum: `occlum run` in the instance directory, its LibOS log on stderr.',
  usage:
    'occlum-studio run [-C DIR] [--backend occlum|host] [--log-file f] [--allow-fork] [--full-verify] <path> [args…]',
  options: OPTIONS,
  instance: 'option',
  programAfter: 'first-argument',
  async run(argv) {
    const a = parseProgramCommand(argv, OPTIONS);
    if (!a.path)
      throw new UsageError(
        'at least one argument must be provided: the program path inside the image, e.g. /bin/hello',
      );
    const dir = instanceDir(a.values.instance, undefined);
    const logFile = a.values['log-file'];
    // A stderr that is not a terminal passes through here (a pipe either way), so what the program
    // says there ("fork: Function not implemented") can end in a hint. A terminal stays the
    // program's own (shells need it), and stdout is never relayed (`… | head` must reach it).
    const watched = { stdout: false, stderr: !process.stderr.isTTY };
    const said = new OutputHints();
    let relay = true;
    process.stderr.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      relay = false; // the reader went away: the program's messages go nowhere, as they would
    });
    const { backend, choice } = openCommandBackend(dir, backendFlag(a.values.backend), {
      events: {
        log: logSink(logFile),
        output: (_stream, chunk) => {
          if (relay) process.stderr.write(chunk);
          said.push(chunk.toString());
        },
      },
    });
    if (choice.kind === 'occlum') {
      refuseFlags(choice, [
        {
          flag: '--log-file',
          given: logFile !== undefined,
          why: '`occlum run` gets this terminal and prints its LibOS log lines on stderr itself; redirect stderr instead (2>file)',
        },
        {
          flag: '--allow-fork',
          given: a.values['allow-fork'],
          why: 'Occlum has no fork() (programs use posix_spawn); the flag only relaxes the host sandbox',
        },
        {
          flag: '--full-verify',
          given: a.values['full-verify'],
          why: 'the enclave verifies the image itself when it mounts it; use `occlum-studio fs verify` to check it without running',
        },
      ]);
    }
    const release = holdSignals();
    try {
      const exit = await backend.run(a.path, a.args, {
        denyFork: !a.values['allow-fork'],
        fullVerify: a.values['full-verify'],
        stdio: watched,
      });
      // Fork attempts the sandbox counted come first, whatever stderr is (a terminal is never read).
      for (const h of withForkHint(said.end(), exit.forks, a.path)) sayErr(`hint: ${h.message}: ${h.suggestion}`);
      // The host backend throws for launch failures; occlum's own launcher prints little, so the
      // studio adds what it knows (the path problem, or the boot error it read).
      if (choice.kind === 'occlum' && (exit.status === 127 || /^Occlum failed to boot/.test(exit.meaning))) {
        sayErr(`occlum-studio: ${exit.meaning}`);
      }
      return exit.status;
    } catch (err) {
      return reportBackendError(err);
    } finally {
      release();
    }
  },
};
