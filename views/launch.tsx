// Starts the TUI: alternate screen, store, Ink render; restores the terminal on every exit path.
import React from 'react';
import { render } from 'ink';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { closeStudio, createStudioStore, openInstance, type StudioStore } from '../src/store/index.ts';
import { isInstanceDir } from '../src/core/instance/discover.ts';
import { UserError } from '../src/core/errors.ts';
import { BackendChoiceError, chooseBackend } from '../src/core/detect/backend-choice.ts';
import { App } from './App.tsx';
import { StoreProvider } from './store-context.tsx';
import { MOUSE_OFF, MOUSE_ON, mouseFilteredStdin } from './mouse.ts';

export interface LaunchOptions {
  dir: string;
  occlumVersion?: string;
  backend?: string;
  /** A saved log to load into the Logs pane (which then has focus). */
  log?: string;
  /** Mouse reporting (wheel, clicks); off for terminals where it gets in the way of selecting text. */
  mouse?: boolean;
  /** Runs once the instance is open, before the first frame (demo: focus the Run pane). */
  prepare?(store: StudioStore): void;
}

const QUIT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
const osSignals = constants.signals as Record<string, number>;
const ENTER_ALT = '\x1b[?1049h';
const LEAVE_ALT = '\x1b[?1049l\x1b[?25h';

export async function openStudio(opts: LaunchOptions): Promise<number> {
  const dir = resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`${opts.dir}: no such directory (give an instance directory, or none for the current one)`, 2);
  }
  // occlum when an install is found, else host; --backend overrides (an error if occlum is absent).
  let backend: 'host' | 'occlum';
  try {
    backend = chooseBackend(opts.backend).kind;
  } catch (e) {
    if (e instanceof BackendChoiceError) throw new UserError(e.message, /^unknown backend/.test(e.message) ? 2 : 1);
    throw e;
  }
  const store = createStudioStore({
    launchDir: dir,
    backend,
    occlumVersion: opts.occlumVersion,
  });
  if (opts.log !== undefined && !(existsSync(opts.log) && statSync(opts.log).isFile())) {
    throw new UserError(`--log ${opts.log}: no such file (give a saved Occlum log, e.g. the stderr of occlum run)`, 2);
  }
  if (isInstanceDir(dir)) await openInstance(store, dir);
  if (opts.log !== undefined) {
    if (store.getState().instanceDir !== null) store.getState().setPane('logs');
    void store.getState().loadLogFile(resolve(opts.log));
  }
  opts.prepare?.(store);

  const withMouse = opts.mouse !== false && process.env.OCCLUM_STUDIO_MOUSE !== '0';
  const filtered = withMouse ? mouseFilteredStdin(process.stdin) : null;
  let restored = false;
  const restore = () => {
    if (!restored) process.stdout.write((withMouse ? MOUSE_OFF : '') + LEAVE_ALT);
    restored = true;
  };
  // Every way out stops what the studio started (programs, its exec server, builds, watchers)
  // before the process ends; a program left running would outlive the terminal it drew on.
  // A signal unmounts the app, so quitting has one path; its status is 128 + the signal.
  let app: ReturnType<typeof render> | null = null;
  let signalStatus: number | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    signalStatus = 128 + (osSignals[sig] ?? 15);
    if (app) app.unmount();
    else process.exit(signalStatus);
  };
  // `on`, not `once`: Ink's signal-exit re-raises a signal that nobody else listens for, which
  // would kill the process before the programs are stopped.
  for (const sig of QUIT_SIGNALS) process.on(sig, onSignal);
  process.once('exit', restore);

  process.stdout.write(ENTER_ALT + (withMouse ? MOUSE_ON : ''));
  try {
    app = render(
      <StoreProvider store={store}>
        <App />
      </StoreProvider>,
      { exitOnCtrlC: false, patchConsole: true, ...(filtered ? { stdin: filtered.input } : {}) },
    );
    await app.waitUntilExit();
    await closeStudio(store);
  } finally {
    restore();
    filtered?.stop();
    for (const sig of QUIT_SIGNALS) process.off(sig, onSignal);
  }
  // Nothing the studio owns is left; a stray handle (a library's timer) must not keep it alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 300).unref();
  return signalStatus ?? 0;
}
