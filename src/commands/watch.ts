// `occlum-studio watch`: the dev loop without the TUI. Watches the instance, rebuilds on every
// change (one build at a time, bursts coalesced), stops the running program after a good build
// and reruns the `--run` command. Prints the loop's events as text, or as NDJSON with --json.
import { jsonForTerminal } from '../core/text/sanitize.ts';
import { existsSync } from 'node:fs';
import { InputError, UsageError, type Command, sayErr } from './command.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs, splitProgram } from './args.ts';
import { formatPath } from '../core/config/types.ts';
import { BackendChoiceError } from '../core/detect/backend-choice.ts';
import { openWatchBackend } from '../core/watch/select.ts';
import { DevLoop, progressLine } from '../core/watch/loop.ts';
import { SourcesTooBigError } from '../core/watch/scope.ts';
import { WatchBudgetError } from '../core/watch/watcher.ts';
import { loadSettings, SettingsError } from '../core/watch/settings.ts';
import type { BuildRecord, ChangeEntry, GuardNotice, RunCommand } from '../core/watch/types.ts';
import { fullCheckLine } from '../core/backend/host/guard.ts';
import { instancePaths } from '../core/instance/layout.ts';
import { forkAttemptHint } from '../core/logs/index.ts';

const USAGE = 'occlum-studio watch [DIR | -C DIR] [--backend host|occlum] [--json] [--run <path> [args...]]';

const OPTIONS = { ...INSTANCE_OPTION, json: { type: 'boolean', default: false }, backend: { type: 'string' } } as const;

export const command: Command = {
  name: 'watch',
  summary:
    'Watch image/, initfs/, Occlum.json and the sources of .occlum-studio.json; rebuild on every change and rerun the --run command ' +
    '(everything after --run is the program path inside the image and its arguments). Ctrl-C stops the loop and the program.',
  usage: USAGE,
  options: OPTIONS,
  instance: 'option-or-positional',
  programAfter: '--run',
  async run(argv) {
    const { own, program: runArgv } = splitProgram(argv, OPTIONS, '--run');
    const { values, positionals } = parseCommandArgs(own, OPTIONS);
    if (positionals.length > 1)
      throw new UsageError('watch takes at most one instance directory (put the program after --run)');
    let cmd: RunCommand | null = null;
    if (runArgv !== null) {
      const [path, ...args] = runArgv;
      if (!path) throw new UsageError('--run needs the program path inside the image, e.g. --run /bin/hello');
      cmd = { path, args };
    }
    const dir = instanceDir(values.instance, positionals[0]);
    if (!existsSync(instancePaths(dir).config)) {
      throw new InputError(
        `${dir} is not an Occlum instance (no Occlum.json): run \`occlum-studio init\` there, or pass the instance directory`,
      );
    }
    let settings;
    try {
      settings = loadSettings(dir);
    } catch (err) {
      if (err instanceof SettingsError) throw new InputError(`invalid settings: ${err.message}`);
      throw err;
    }
    let picked;
    try {
      picked = openWatchBackend(values.backend);
    } catch (err) {
      if (err instanceof BackendChoiceError) throw new UsageError(err.message);
      throw err;
    }
    const print = values.json ? ndjsonPrinter() : textPrinter();
    // The first build runs the prebuild the user started watch on; a changed one waits for a restart.
    // It starts once the watched state is taken, while the watches are set up (DevLoop.openEarly).
    let loop: DevLoop;
    let watching: Promise<void>;
    try {
      ({ loop, watching } = await DevLoop.openEarly(
        { instanceDir: dir, backend: picked.backend, settings, confirmPrebuild: true },
        (l) => wire(l, print),
      ));
    } catch (err) {
      if (err instanceof SourcesTooBigError) throw new InputError(`invalid settings: ${err.message}`);
      if (err instanceof WatchBudgetError) throw new InputError(err.message);
      throw err;
    }
    print('ready', {
      dir,
      backend: picked.choice.kind,
      settings: settings.settings,
      settingsFile: settings.file,
      run: cmd,
    });
    if (cmd) loop.queue.lastRun = cmd;
    // First build: the program needs an image; when auto-rerun is off, run once after it anyway.
    if (cmd && !loop.queue.settings.autoRerun) {
      const once = (r: BuildRecord) => {
        if (r.outcome !== 'ok') return;
        loop.queue.off('build-end', once);
        void loop.queue.run(cmd);
      };
      loop.queue.on('build-end', once);
    }
    loop.queue.buildNow('initial');

    return await new Promise<number>((resolveExit, rejectExit) => {
      let closing = false;
      // The watches failed to start: past the budget from the start nothing is watched (as a
      // source tree too big: exit 2, the loop closed first); another failure is said and waited out.
      watching.catch((err: Error) => {
        if (!(err instanceof WatchBudgetError)) return print('watch-error', { message: err.message });
        if (closing) return;
        closing = true;
        void loop.close().then(() => rejectExit(new InputError(err.message)));
      });
      const stop = (sig: NodeJS.Signals) => {
        if (closing) return;
        closing = true;
        print('stopping', { signal: sig });
        void loop.close().then(() => resolveExit(0));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      // The watcher stopped itself (past its inotify budget, said as a watch-error): so does watch.
      loop.on('watch-error', (err) => {
        if (!(err instanceof WatchBudgetError) || closing) return;
        closing = true;
        void loop.close().then(() => resolveExit(1));
      });
    });
  },
};

type Printer = (event: string, data: Record<string, unknown>) => void;

function wire(loop: DevLoop, print: Printer): void {
  const q = loop.queue;
  loop.on('change-set', (s) =>
    print('change-set', {
      events: s.events,
      count: s.entries.length,
      entries: s.entries.map(entryJson),
      firstEventAt: s.firstEventAt,
      lastEventAt: s.lastEventAt,
    }),
  );
  loop.on('watch-error', (err) => print('watch-error', { message: err.message }));
  q.on('build-start', (r) =>
    print('build-start', { id: r.id, trigger: r.trigger, count: r.changes.length, at: r.startedAt }),
  );
  q.on('build-output', (r, l) => print('build-output', { id: r.id, stream: l.stream, text: l.text }));
  q.on('build-end', (r) => print('build-end', recordJson(r)));
  q.on('deferred', (entries) => print('deferred', { count: entries.length }));
  q.on('run-start', (e) => print('run-start', { path: e.cmd.path, args: e.cmd.args, at: e.at }));
  q.on('run-output', (e) => print('run-output', { stream: e.stream, text: e.chunk, at: e.at }));
  q.on('run-exit', (e) => {
    const hint = e.forks ? forkAttemptHint(e.forks, e.cmd.path) : null;
    const fork = e.forks ? { forks: e.forks, hint: `${hint!.message}: ${hint!.suggestion}` } : {};
    const launch = e.launch ? { launch: e.launch } : {};
    print('run-exit', { path: e.cmd.path, status: e.status, at: e.at, ...launch, ...fork });
  });
  q.on('run-stop', (e) => print('run-stop', { reason: e.reason }));
  loop.on('progress', (p) =>
    print('progress', {
      stage: p.stage,
      text: progressLine(p),
      ...(p.done !== undefined ? { done: p.done } : {}),
      ...(p.total ? { total: p.total } : {}),
      ...(p.end ? { end: true } : {}),
      at: Date.now(),
    }),
  );
  q.on('settings', (s) => print('settings', { settings: s.settings }));
  // Runs checked in full (the build guard is off), and why: printed when it appears or goes.
  q.on('guard', (n) => print('guard', n ? { fullCheck: true, reason: n.reason, fix: n.fix } : { fullCheck: false }));
  q.on('error', (err) => print('error', { message: err.message }));
}

function entryJson(e: ChangeEntry) {
  return { path: e.rel, kind: e.kind, area: e.area, ...(e.isDir ? { dir: true } : {}) };
}

function recordJson(r: BuildRecord) {
  return {
    id: r.id,
    trigger: r.trigger,
    outcome: r.outcome,
    durationMs: r.durationMs,
    stages: r.stages,
    prebuildRan: r.prebuildRan,
    changes: r.changes.map(entryJson),
    repacked: r.repacked,
    reused: r.reused,
    imageMac: r.imageMac,
    guard: r.guard ? { fullCheck: true, reason: r.guard.reason, fix: r.guard.fix } : null,
    cause: r.cause
      ? { ...r.cause, ...(r.cause.configPath ? { configField: formatPath(r.cause.configPath) } : {}) }
      : null,
  };
}

function ndjsonPrinter(): Printer {
  // File names and program output may hold C1 controls and bidi overrides, which JSON leaves as they are.
  return (event, data) => process.stdout.write(jsonForTerminal(JSON.stringify({ event, ...data })) + '\n');
}

function textPrinter(): Printer {
  const err = (s: string) => sayErr(s);
  let lastCount = 0;
  return (event, d) => {
    switch (event) {
      case 'ready': {
        const s = d.settings as { prebuild: string | null; watch: string[]; autoRerun: boolean };
        err(
          `watching ${d.dir as string} (${d.backend as string} backend)${s.watch.length ? ` and ${s.watch.join(', ')}` : ''}${s.prebuild ? ` (prebuild: ${s.prebuild})` : ''}; Ctrl-C to stop`,
        );
        break;
      }
      case 'change-set': {
        const entries = d.entries as { path: string; kind: string }[];
        const shown = entries
          .slice(0, 3)
          .map((e) => `${e.path} (${e.kind})`)
          .join(', ');
        err(
          `[watch] ${entries.length} change${entries.length === 1 ? '' : 's'}: ${shown}${entries.length > 3 ? `, +${entries.length - 3} more` : ''}`,
        );
        break;
      }
      case 'build-start':
        err(
          `[build #${d.id as number}] started (${d.trigger as string}${(d.count as number) > 0 ? `, ${d.count as number} changed` : ''})`,
        );
        break;
      case 'build-output':
        err(`  | ${d.text as string}`);
        break;
      case 'build-end': {
        const id = `[build #${d.id as number}]`;
        if (d.outcome === 'ok') {
          err(
            `${id} ok in ${d.durationMs as number} ms: ${d.repacked as number} re-packed, ${d.reused as number} reused, image MAC ${(d.imageMac as string | null) ?? '-'}`,
          );
        } else if (d.outcome === 'failed') {
          const c = d.cause as { message: string; hint?: string; configField?: string } | null;
          err(`${id} FAILED in ${d.durationMs as number} ms: ${c?.message ?? 'unknown cause'}`);
          if (c?.configField) err(`  field: Occlum.json ${c.configField}`);
          if (c?.hint) err(`  fix: ${c.hint}`);
          err('  the last good build is kept; the running program was left alone');
        } else if (d.outcome === 'held') {
          const c = d.cause as { message: string; hint?: string };
          err(`${id} held: ${c.message}`);
          if (c.hint) err(`  fix: ${c.hint}`);
        } else err(`${id} ${d.outcome as string}`);
        break;
      }
      case 'deferred':
        err(`[watch] ${d.count as number} changes waiting (auto-build is off)`);
        break;
      case 'run-start':
        err(`[run] ${[d.path as string, ...(d.args as string[])].join(' ')}`);
        break;
      case 'run-output':
        (d.stream === 'stderr' ? process.stderr : process.stdout).write(d.text as string);
        break;
      case 'run-exit':
        err(
          `[run] ${d.path as string} exited with status ${d.status as number}` +
            (d.launch ? ` (${d.launch === 'prepared' ? 'in a prepared sandbox' : 'cold launch'})` : ''),
        );
        if (d.hint) err(`  hint: ${d.hint as string}`);
        break;
      case 'run-stop':
        err(`[run] stopping: ${d.reason as string}`);
        break;
      case 'progress': {
        // Counts at most every 2 s (a log stays readable); a step's end always.
        const now = Date.now();
        if (!d.end && now - lastCount < 2000) break;
        lastCount = d.end ? 0 : now;
        err(`[${d.stage === 'build' ? 'build' : 'watch'}] ${d.text as string}${d.end ? '' : '…'}`);
        break;
      }
      case 'settings':
        err('[watch] settings reloaded');
        break;
      case 'guard':
        if (d.fullCheck) {
          err(`[watch] ${fullCheckLine(d as unknown as GuardNotice)}`);
          err(`  fix: ${d.fix as string}`);
        } else err('[watch] the build guard is on again: runs check only what changed');
        break;
      case 'watch-error':
      case 'error':
        err(`[error] ${d.message as string}`);
        break;
      case 'stopping':
        err('[watch] stopping');
        break;
    }
  };
}
