// Run state: programs started from the Run pane, one tab each (a `run`, or an `exec` into the
// running server), each a PtySession (core/pty) rendered by the pane from snapshots. Sessions
// are mutable objects kept outside zustand; the state carries what views need plus a `version`
// that changes when the focused screen changes (already throttled by the session).
//
// What to launch comes from a Launcher: by default the instance's backend (host or occlum)
// checks the program and hands back a command line; tests inject their own.
import { basename } from 'node:path';
import type { StateCreator } from 'zustand/vanilla';
import {
  PtySession,
  ptyUnavailable,
  type PendingTerminal,
  type PtyCommand,
  type PtySize,
} from '../core/pty/session.ts';
import type { WarmTerminal } from '../core/backend/host/warm.ts';
import type { ScreenSnapshot } from '../core/pty/screen.ts';
import { decodeExecError, explainExit, type ExitExplanation } from '../core/pty/exit-status.ts';
import { parseCommandLine, CommandLineError, formatWords } from '../core/pty/command-line.ts';
import { addToHistory, loadHistory, saveHistory, type HistoryEntry } from '../core/pty/history.ts';
import { entryCandidates } from '../core/pty/candidates.ts';
import { errorMessage } from '../core/errors.ts';
import { translateInput } from '../core/pty/input.ts';
import { BackendError, type BackendEvents } from '../core/backend/types.ts';
import type { ForkAttempts } from '../core/sandbox/fork-watch.ts';
import { openBackend } from '../core/backend/select.ts';
import { hintsForText, OutputHints, withForkHint, type LogHint } from '../core/logs/index.ts';
import type { SliceHooks, StudioState, StudioStore } from './index.ts';
import { refreshInstanceStatus } from './instance-status.ts';

export type RunKind = 'run' | 'exec';

export interface LaunchRequest {
  instanceDir: string;
  kind: RunKind;
  path: string;
  args: string[];
  size: PtySize;
  /** Extra environment for the program (e.g. OCCLUM_LOG_LEVEL chosen in the Logs pane). */
  env: Record<string, string>;
  /** A run's sandbox started ahead (host backend) to start the program in, when still usable. */
  prepared?: WarmTerminal;
}

/** A checked command line, plus the backend's bookkeeping hooks around the process. */
export interface LaunchPlan extends PtyCommand {
  started?(pid: number): void;
  /** Given the launcher process's raw end, returns the status as Occlum reports it. */
  finish?(code: number | null, signal: number | null): { status: number; forks?: ForkAttempts } | void;
  /** Runtime log lines the backend reported for this launch so far (hints at the end). */
  runtimeLines?: string[];
  /**
   * The program goes into the prepared sandbox's terminal instead of a new one: adopt `terminal`,
   * then `start()` sends the go; `cancel()` ends it unused.
   */
  prepared?: { terminal: PendingTerminal; start(): Promise<void>; cancel(): void };
}

/** Turns "run this program" into a command line; throws (BackendError) when it is refused. */
export type Launcher = (req: LaunchRequest) => Promise<LaunchPlan>;

export type TabState = 'starting' | 'running' | 'exited' | 'refused';

/** How a tab's program was launched (docs/run-pane.md, "Prepared sandbox"). */
export interface LaunchInfo {
  /** In a sandbox prepared ahead (its go sent), or set up after the request (cold). */
  kind: 'prepared' | 'cold';
  /** Why cold: no sandbox was prepared, or the prepared one could not be used. */
  why: string | null;
  /** From the launch request (the old program ended) to the program's first output, once it came. */
  firstOutputMs: number | null;
}

export interface RunTab {
  id: number;
  kind: RunKind;
  path: string;
  args: string[];
  /** Tab label: program basename and arguments. */
  title: string;
  state: TabState;
  /** Why the launch was refused (the backend's message and Occlum's lines), when refused. */
  error: string[] | null;
  exit: ExitExplanation | null;
  /** Extra detail decoded from the output (occlum exec's `Error: <status>` line). */
  exitNote: string | null;
  /** Hints (core/logs) for what the program's output and runtime log said before a failed exit. */
  hints: LogHint[];
  /** Signal the user sent with kill (k), if any. */
  signalSent: 'SIGTERM' | 'SIGKILL' | null;
  /** How the program was launched, once it was. */
  launch: LaunchInfo | null;
  /** Lines scrolled back from the live screen (0 = following the program). */
  offset: number;
  startedAt: number;
  endedAt: number | null;
}

export interface RunState {
  tabs: RunTab[];
  /** Id of the focused tab, or null when there is none. */
  active: number | null;
  /** Bumped when the focused tab's screen changes. */
  version: number;
  /** True while keys go to the focused program (the studio listens only for the leave key). */
  forwarding: boolean;
  /** The entry-point picker, when open. */
  picker: { kind: RunKind; candidates: string[]; error: string | null; initial: string } | null;
  history: HistoryEntry[];
  historyProblem: string | null;
  /** Size of the terminal area the pane can give a program. */
  size: PtySize;
  /** An exec server this session started is running (quitting stops it). */
  ownServer: boolean;
  /** Pid of the sandbox prepared for the next run while it waits for its go, else null. */
  preparedPid: number | null;
}

export interface RunSlice {
  run: RunState;
  /** Replace the launcher (tests; a backend-specific one). Null restores the backend launcher. */
  runSetLauncher(launcher: Launcher | null): void;
  /** Starts `path args` in a new tab (or in tab `intoTab`, replacing its ended program). */
  runStart(kind: RunKind, path: string, args: string[], intoTab?: number): Promise<number | null>;
  /** Parses a picker line and starts it; returns the error text for the picker, or null. */
  runStartLine(kind: RunKind, line: string): Promise<string | null>;
  /** Runs the focused tab's command again in the same tab (killing it first if it runs). */
  runRerun(): Promise<void>;
  runFocusTab(step: 1 | -1): void;
  runFocusTabId(id: number): void;
  /** Kills the focused program (TERM; a second call while it still runs sends KILL). */
  runKill(): void;
  /** Closes the focused tab, killing its program. */
  runCloseTab(): void;
  /** Sends raw keystrokes to the focused program (translated for its cursor-key mode). */
  runWrite(data: string): void;
  runResize(size: PtySize): void;
  /** Scrolls the focused tab's view: lines (+ = back in history), or to 'top'/'bottom'. */
  runScroll(delta: number | 'top' | 'bottom'): void;
  runSetForwarding(on: boolean): void;
  /** Opens the picker; `initial` pre-fills its line (e.g. the demo's entry point). */
  runOpenPicker(kind: RunKind, initial?: string): void;
  runClosePicker(): void;
  /** The focused tab's screen, or null when it has no session. */
  runSnapshot(): ScreenSnapshot | null;
  runLoadHistory(instanceDir: string): void;
  /** Starts or stops the instance's exec server (`occlum start` / `occlum stop`), for exec tabs. */
  runServer(action: 'start' | 'stop'): Promise<void>;
  /**
   * Starts the next run's sandbox ahead, in its own terminal, when the dev loop will rerun (watching,
   * auto-rerun on) and none waits yet; the next `run` start uses it (docs/run-pane.md).
   */
  runPrepareNext(): void;
  /** Ends the prepared sandbox unused (auto-rerun off, the loop stopped, quit). */
  runDropPrepared(): Promise<void>;
  /** Kills every program (on quit). */
  runDisposeAll(): void;
  /** On quit: kills every program and stops the exec server if this session started it. */
  runClose(): Promise<void>;
}

const INITIAL: RunState = {
  tabs: [],
  active: null,
  version: 0,
  forwarding: false,
  picker: null,
  history: [],
  historyProblem: null,
  size: { cols: 80, rows: 20 },
  ownServer: false,
  preparedPid: null,
};

/** Bytes of output kept per tab for reading `Error: <status>` after an exec ends. */
const TAIL_BYTES = 4096;

/**
 * A launch refused before anything ran (not built, the server owns the run layer, …) has Occlum's
 * status, but not an exit's meaning: status 1 would read "the program exited with 1, or Occlum
 * failed to boot". 127 (could not launch) is already what happened.
 */
function refusedExit(status: number, kind: RunKind): ExitExplanation {
  const exit = explainExit(status, kind);
  if (status === 127) return exit;
  return { ...exit, detail: 'Nothing ran: the launch was refused before the program started, for the reason above.' };
}

function titleOf(path: string, args: string[]): string {
  const t = formatWords([basename(path) || path, ...args]);
  return t.length > 24 ? t.slice(0, 23) + '…' : t;
}

function backendFor(store: StudioStore, instanceDir: string, env: NodeJS.ProcessEnv, lines?: string[]) {
  const s = store.getState();
  const events: BackendEvents = {
    // Runtime log records (the host's own LibOS-format lines) go to the Logs pane.
    log: (r) => {
      lines?.push(r.line);
      s.appendLogChunk?.('runtime', r.line + '\n');
    },
  };
  return openBackend(instanceDir, { backend: s.backend, events, env }).backend;
}

/** The launcher backed by the instance's backend (host sandbox or the occlum CLI, as chosen by --backend). */
export function backendLauncher(store: StudioStore): Launcher {
  return async (req) => {
    const env = { ...process.env, ...req.env };
    const runtimeLines: string[] = [];
    const backend = backendFor(store, req.instanceDir, env, runtimeLines);
    const opts = { env, logLevel: env.OCCLUM_LOG_LEVEL };
    let prep;
    try {
      prep =
        req.kind === 'run'
          ? await backend.prepareRun(req.path, req.args, { ...opts, warm: req.prepared })
          : await backend.prepareExec(req.path, req.args, opts);
    } finally {
      store.getState().buildRefreshGuard?.(); // its check may have found the build guard off
    }
    const t = prep.terminal;
    return {
      file: prep.file,
      args: prep.args,
      env: prep.env,
      cwd: (prep as { cwd?: string }).cwd,
      started: prep.started,
      finish: (code, signal) => prep.finish(code, signal),
      runtimeLines,
      ...(t ? { prepared: { terminal: t.process, start: t.start, cancel: t.cancel } } : {}),
    };
  };
}

export function createRunSlice(): StateCreator<StudioState, [], [], RunSlice> {
  return (set, get, api) => {
    const sessions = new Map<number, PtySession>();
    const tails = new Map<number, string>();
    // Hints read from all of a run's output as it arrives (a fork message may be long gone from
    // the tail when the program ends, and a program may print it and still exit 0).
    const outputHints = new Map<number, OutputHints>();
    let launcher: Launcher | null = null;
    let nextId = 1;
    // Each launch into a tab gets a number; a launch that finishes after a newer one (double
    // rerun) or after its tab was closed is dropped instead of spawning an orphan.
    let launchSeq = 0;
    // Where node-pty cannot load, the first launch says so (once a session, not every run).
    let pipesNoted = false;
    const tabLaunch = new Map<number, number>();
    let exitHook: (() => void) | null = null;
    // The exec server started from this session (stopped on quit); one found running is left alone.
    let serverStartedHere: string | null = null;
    // The next run's sandbox, started ahead in its own terminal (docs/run-pane.md, "Prepared
    // sandbox"), and why the last attempt made none (the reason a launch was cold).
    let prepared: WarmTerminal | null = null;
    let unprepared: string | null = null;

    const patch = (p: Partial<RunState>) => set({ run: { ...get().run, ...p } });
    const patchTab = (id: number, p: Partial<RunTab>) =>
      patch({ tabs: get().run.tabs.map((t) => (t.id === id ? { ...t, ...p } : t)), version: get().run.version + 1 });
    const focused = () => get().run.tabs.find((t) => t.id === get().run.active) ?? null;
    const bump = () => patch({ version: get().run.version + 1 });

    const setForwarding = (on: boolean) => {
      const t = focused();
      const can = on && t !== null && t.state === 'running' && sessions.has(t.id);
      patch({ forwarding: can });
      get().setCapture(can ? 'terminal' : get().run.picker ? true : false);
      if (can && t) patchTab(t.id, { offset: 0 });
    };

    const persistHistory = (entry: HistoryEntry) => {
      const history = addToHistory(get().run.history, entry);
      patch({ history });
      const dir = get().instanceDir;
      if (!dir) return;
      try {
        saveHistory(dir, history);
      } catch (err) {
        get().setFlash(`could not save the run history: ${errorMessage(err)}`, 'error');
      }
    };

    const ensureExitHook = () => {
      if (exitHook) return;
      exitHook = () => get().runDisposeAll();
      process.once('exit', exitHook);
    };

    const logSource = (tab: RunTab) => `${tab.kind}:${tab.id} ${tab.title}`;

    const dropPrepared = async () => {
      const p = prepared;
      prepared = null;
      if (get().run.preparedPid !== null) patch({ preparedPid: null });
      await p?.dispose();
    };

    // Only while a rerun will come (the Build pane's loop watching, auto-rerun on), and called when
    // nothing else waits for this thread (a program's first output or end): a spawn blocks it for a
    // while, and during a build it would slow the build.
    const prepareNext = () => {
      const dir = get().instanceDir;
      const build = get().build;
      if (!dir || prepared?.usable) return;
      // What the loop reruns: the most recently started tab, and only a `run` starts in a sandbox of its own.
      const last = [...get().run.tabs].sort((a, b) => b.startedAt - a.startedAt)[0];
      if (build?.loop !== 'watching' || !build.autoRerun || last?.kind !== 'run') {
        unprepared = null; // the default reason: none is prepared without a rerun coming
        return;
      }
      void dropPrepared();
      const backend = backendFor(api, dir, process.env);
      const made = backend.prepareTerminal?.(get().run.size) ?? `the ${backend.kind} backend starts every run anew`;
      if (typeof made === 'string') {
        unprepared = `no sandbox could be prepared: ${made}`;
        return;
      }
      prepared = made;
      unprepared = null;
      patch({ preparedPid: made.pid });
      void made.terminal.exited.then(() => {
        if (prepared === made) patch({ preparedPid: null });
      });
    };

    /** The prepared sandbox for a `run` about to start, or why there is none (it is used up either way). */
    const takePrepared = (): { warm?: WarmTerminal; why: string | null } => {
      const p = prepared;
      prepared = null;
      if (get().run.preparedPid !== null) patch({ preparedPid: null });
      // Until this launch's program prints (or ends), the next one finds none.
      const before = unprepared;
      unprepared = 'the prepared sandbox went to the launch before, whose program had not printed yet';
      if (p?.usable) return { warm: p, why: null };
      const why = p
        ? `the prepared sandbox ${p.unusable}`
        : (before ??
          (get().build?.loop === 'watching' && get().build.autoRerun
            ? "no sandbox prepared yet: one is prepared once a run's program has printed, for the next rerun"
            : 'no sandbox prepared: the Build pane prepares one while it watches with auto-rerun on'));
      void p?.dispose();
      return { why };
    };

    const onEnded = (id: number, session: PtySession, plan: LaunchPlan, kind: RunKind) => {
      void session.exited.then((e) => {
        const tab = get().run.tabs.find((t) => t.id === id);
        let status = e.status;
        let forks: ForkAttempts | undefined;
        try {
          const r = plan.finish?.(e.signal ? null : e.exitCode, e.signal);
          if (r && typeof r.status === 'number') status = r.status;
          forks = r?.forks;
        } catch {
          // The backend's bookkeeping failed; the process's own status still stands.
        }
        if (tab) get().endLogSource?.(logSource(tab));
        if (sessions.get(id) !== session) return; // replaced by a rerun meanwhile
        // The program started (a session ran): 127 is a launch failure only if the output says so.
        const exit = explainExit(status, kind, tails.get(id) ?? '');
        const decoded = kind === 'exec' && status !== 0 ? decodeExecError(tails.get(id) ?? '') : null;
        // What the output and the runtime log said (e.g. Out of TCS) → the resource hints.
        const said = `${tails.get(id) ?? ''}\n${(plan.runtimeLines ?? []).join('\n')}`;
        const found = status !== 0 ? hintsForText(said) : [];
        for (const h of outputHints.get(id)?.end() ?? []) if (!found.includes(h)) found.push(h);
        const hints = withForkHint(found, forks, tab?.path ?? '');
        const exitNote = decoded ? `Error: ${decoded.raw} — ${decoded.text}` : null;
        patchTab(id, { state: 'exited', exit, exitNote, hints, endedAt: Date.now() });
        void refreshInstanceStatus(api);
        // Known, not guessed: said wherever the user is looking, not only in the Run pane's footer.
        if (forks?.total) get().setFlash(`hint: ${hints[0]!.message}`, 'info');
        if (get().run.active === id && get().run.forwarding) setForwarding(false);
        if (kind === 'run') prepareNext(); // ended without output, or the next run is due
      });
    };

    const start = async (kind: RunKind, path: string, args: string[], intoTab?: number): Promise<number | null> => {
      const dir = get().instanceDir;
      if (!dir) {
        get().setFlash('open an instance first: the Run pane runs programs of an instance', 'error');
        return null;
      }
      const old = intoTab !== undefined ? sessions.get(intoTab) : undefined;
      if (old) {
        // Wait for the old program to end and its backend bookkeeping to run (the host backend
        // refuses a second run while the first one's lock is held).
        old.dispose();
        await old.exited;
      }
      const id = intoTab ?? nextId++;
      const tab: RunTab = {
        id,
        kind,
        path,
        args,
        title: titleOf(path, args),
        state: 'starting',
        error: null,
        exit: null,
        exitNote: null,
        hints: [],
        signalSent: null,
        launch: null,
        offset: 0,
        startedAt: Date.now(),
        endedAt: null,
      };
      const tabs =
        intoTab !== undefined && get().run.tabs.some((t) => t.id === id)
          ? get().run.tabs.map((t) => (t.id === id ? tab : t))
          : [...get().run.tabs, tab];
      patch({ tabs, active: id, version: get().run.version + 1 });
      sessions.delete(id);
      tails.delete(id);
      outputHints.set(id, new OutputHints());
      const launch = ++launchSeq;
      tabLaunch.set(id, launch);
      const current = () => tabLaunch.get(id) === launch && get().run.tabs.some((t) => t.id === id);

      const size = get().run.size;
      const t0 = performance.now();
      const { warm, why } = kind === 'run' ? takePrepared() : { why: 'exec starts in the running server' };
      let plan: LaunchPlan;
      try {
        const env = get().logsRunEnv?.() ?? {};
        plan = await (launcher ?? backendLauncher(api))({
          instanceDir: dir,
          kind,
          path,
          args,
          size,
          env,
          ...(warm ? { prepared: warm } : {}),
        });
      } catch (err) {
        void warm?.dispose();
        const lines = err instanceof BackendError && err.occlumLines.length > 0 ? err.occlumLines : [];
        const status = err instanceof BackendError ? err.exitCode : 1;
        const message = errorMessage(err);
        if (!current()) return null;
        if (kind === 'run') setImmediate(prepareNext); // no output will come to prepare the next one at
        patchTab(id, {
          state: 'refused',
          error: lines.includes(message) ? lines : [message, ...lines],
          exit: refusedExit(status, kind),
          endedAt: Date.now(),
        });
        return id;
      }
      void warm?.dispose(); // not taken (nothing to do once the backend took it)
      const dropTaken = () => {
        const p = plan.prepared;
        if (!p) return;
        p.cancel();
        p.terminal.kill('SIGKILL');
        void p.terminal.exited.then(() => plan.finish?.(null, 9)); // its cgroup goes with the bookkeeping
      };
      if (!current()) {
        dropTaken();
        return null;
      }
      const refuse = (err: unknown) => {
        patchTab(id, {
          state: 'refused',
          error: [errorMessage(err)],
          exit: explainExit(127, kind),
          endedAt: Date.now(),
        });
        return id;
      };
      let session: PtySession;
      try {
        session = plan.prepared
          ? PtySession.adopt(plan.prepared.terminal, plan, { ...get().run.size })
          : PtySession.spawn(plan, { ...get().run.size });
      } catch (err) {
        if (plan.prepared) dropTaken();
        else plan.finish?.(127, null);
        return refuse(err);
      }
      try {
        plan.started?.(session.pid);
      } catch (err) {
        // The backend could not record the run (a full disk): the program must not run untracked.
        session.kill('SIGKILL');
        session.dispose();
        return refuse(err);
      }
      void refreshInstanceStatus(api);
      sessions.set(id, session);
      if (session.mode === 'pipes' && !pipesNoted) {
        pipesNoted = true;
        get().setFlash(ptyUnavailable(), 'error');
      }
      // Only launched commands are remembered: a refused typo should not come back as a choice.
      persistHistory({ kind, path, args });
      ensureExitHook();
      session.onChange(() => {
        if (get().run.active === id) bump();
      });
      let firstOutput = true;
      session.onData((chunk) => {
        if (firstOutput) {
          firstOutput = false;
          const t = get().run.tabs.find((x) => x.id === id);
          if (t?.launch && sessions.get(id) === session) {
            patchTab(id, { launch: { ...t.launch, firstOutputMs: performance.now() - t0 } });
          }
          prepareNext();
        }
        const tail = (tails.get(id) ?? '') + chunk;
        tails.set(id, tail.length > TAIL_BYTES ? tail.slice(-TAIL_BYTES) : tail);
        outputHints.get(id)?.push(chunk);
        // The pty merges stdout and stderr: the Logs pane gets the program's terminal output
        // (where Occlum's own log lines appear), except full-screen redraws.
        const t = get().run.tabs.find((x) => x.id === id);
        if (t && !session.alternateScreen) get().appendLogChunk?.(logSource(t), chunk);
      });
      const launchInfo: LaunchInfo = plan.prepared
        ? { kind: 'prepared', why: null, firstOutputMs: null }
        : { kind: 'cold', why: warm ? 'the backend did not use the prepared sandbox' : why, firstOutputMs: null };
      patchTab(id, { state: 'running', launch: launchInfo });
      onEnded(id, session, plan, kind);
      // The go, now that the session shows the terminal: the program starts in the prepared sandbox.
      plan.prepared?.start().catch((err: unknown) => {
        session.kill('SIGKILL');
        get().setFlash(`the prepared sandbox could not be started: ${errorMessage(err)}`, 'error');
      });
      return id;
    };

    return {
      run: INITIAL,
      runSetLauncher(l) {
        launcher = l;
      },
      runStart: start,
      async runStartLine(kind, line) {
        let parsed;
        try {
          parsed = parseCommandLine(line);
        } catch (err) {
          if (err instanceof CommandLineError) return err.message;
          throw err;
        }
        if (!parsed.path.startsWith('/')) {
          return `"${parsed.path}" is not an absolute path: Occlum runs programs by their path inside the image, e.g. /bin/${parsed.path}`;
        }
        patch({ picker: null });
        get().setCapture(false);
        const id = await start(kind, parsed.path, parsed.args);
        // A program just launched from the picker gets the keyboard, as in a shell; ctrl+] gives
        // it back to the studio.
        if (id !== null && get().pane === 'run' && get().run.active === id) setForwarding(true);
        return null;
      },
      async runRerun() {
        const t = focused();
        if (!t) {
          get().setFlash('nothing to rerun: start a program first (r)', 'error');
          return;
        }
        await start(t.kind, t.path, t.args, t.id);
      },
      runFocusTab(step) {
        const { tabs, active } = get().run;
        if (tabs.length === 0) return;
        const i = tabs.findIndex((t) => t.id === active);
        const next = tabs[(i + step + tabs.length) % tabs.length];
        patch({ active: next.id, version: get().run.version + 1 });
      },
      runFocusTabId(id) {
        if (get().run.tabs.some((t) => t.id === id)) patch({ active: id, version: get().run.version + 1 });
      },
      runKill() {
        const t = focused();
        const s = t ? sessions.get(t.id) : undefined;
        if (!t || !s || !s.running) {
          get().setFlash('no running program in this tab', 'error');
          return;
        }
        // A second kill while the program is still running escalates to SIGKILL.
        const sig = t.signalSent ? 'SIGKILL' : 'SIGTERM';
        s.kill(sig);
        patchTab(t.id, { signalSent: sig });
      },
      runCloseTab() {
        const t = focused();
        if (!t) return;
        sessions.get(t.id)?.dispose();
        sessions.delete(t.id);
        tails.delete(t.id);
        outputHints.delete(t.id);
        tabLaunch.delete(t.id);
        const { tabs } = get().run;
        const i = tabs.findIndex((x) => x.id === t.id);
        const rest = tabs.filter((x) => x.id !== t.id);
        const next = rest[Math.min(i, rest.length - 1)] ?? null;
        patch({ tabs: rest, active: next?.id ?? null, version: get().run.version + 1 });
        if (get().run.forwarding) setForwarding(false);
      },
      runWrite(data) {
        const t = focused();
        const s = t ? sessions.get(t.id) : undefined;
        if (!s) return;
        if (t && t.offset !== 0) patchTab(t.id, { offset: 0 });
        s.write(translateInput(data, { applicationCursorKeys: s.applicationCursorKeys }));
      },
      runResize(size) {
        const cur = get().run.size;
        if (cur.cols === size.cols && cur.rows === size.rows) return;
        patch({ size });
        for (const s of sessions.values()) s.resize(size);
        bump();
      },
      runScroll(delta) {
        const t = focused();
        const s = t ? sessions.get(t.id) : undefined;
        if (!t || !s) return;
        const max = s.snapshot().scrollback;
        const offset = delta === 'top' ? max : delta === 'bottom' ? 0 : Math.max(0, Math.min(max, t.offset + delta));
        patchTab(t.id, { offset });
      },
      runSetForwarding: setForwarding,
      runOpenPicker(kind, initial = '') {
        const dir = get().instanceDir;
        if (!dir) return;
        patch({ picker: { kind, candidates: entryCandidates(dir), error: null, initial }, forwarding: false });
        get().setCapture(true);
      },
      runClosePicker() {
        patch({ picker: null });
        get().setCapture(false);
      },
      runSnapshot() {
        const t = focused();
        const s = t ? sessions.get(t.id) : undefined;
        if (!t || !s) return null;
        return s.snapshot({ offset: t.offset, paintCursor: get().run.forwarding });
      },
      runLoadHistory(instanceDir) {
        const { entries, problem } = loadHistory(instanceDir);
        patch({ history: entries, historyProblem: problem });
      },
      async runServer(action) {
        const dir = get().instanceDir;
        if (!dir) return;
        const env = { ...process.env, ...(get().logsRunEnv?.() ?? {}) };
        try {
          const backend = backendFor(api, dir, env);
          if (action === 'start') {
            await backend.start({ env, logLevel: env.OCCLUM_LOG_LEVEL });
            serverStartedHere = dir;
          } else {
            await backend.stop();
            serverStartedHere = null;
          }
          patch({ ownServer: serverStartedHere !== null });
          await refreshInstanceStatus(api);
          get().setFlash(
            action === 'start'
              ? 'occlum start: the server is up; x runs programs in it, S stops it'
              : 'occlum stop: the server and every program in it ended',
            'info',
          );
        } catch (err) {
          const lines = err instanceof BackendError ? err.occlumLines : [];
          const msg = errorMessage(err);
          get().setFlash(lines.length && !lines.includes(msg) ? `${msg} (${lines.join(' ')})` : msg, 'error');
        }
      },
      runPrepareNext: prepareNext,
      runDropPrepared: dropPrepared,
      runDisposeAll() {
        void dropPrepared(); // its go pipe closes at once: the stager ends
        for (const s of sessions.values()) s.dispose();
        sessions.clear();
        if (exitHook) process.off('exit', exitHook);
        exitHook = null;
      },
      async runClose() {
        get().runDisposeAll();
        const dir = serverStartedHere;
        serverStartedHere = null;
        patch({ ownServer: false });
        if (dir) await backendFor(api, dir, process.env).stop();
      },
    };
  };
}

/** History loads when an instance opens; quitting with programs or a server of this session running asks first. */
export const runHooks: SliceHooks = {
  onOpen(store: StudioStore, dir: string) {
    store.getState().runLoadHistory(dir);
  },
  unsaved(state: StudioState): string | null {
    const n = state.run.tabs.filter((t) => t.state === 'running' || t.state === 'starting').length;
    const programs = n === 1 ? '1 program running' : `${n} programs running`;
    if (state.run.ownServer) {
      return n === 0
        ? 'the exec server this session started is running (quitting stops it)'
        : `${programs} and the exec server this session started (quitting stops them)`;
    }
    if (n === 0) return null;
    return `${programs} (quitting stops ${n === 1 ? 'it' : 'them'})`;
  },
  close: (store) => store.getState().runClose(),
};
