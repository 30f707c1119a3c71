// Starts the TUI: alternate screen, store, Ink render; restores the terminal on every exit path.
import React from 'react';
import { render } from 'ink';
import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { createStudioStore, openInstance, type StudioStore } from '../src/store/index.ts';
import { isInstanceDir } from '../src/core/instance/discover.ts';
import { UserError } from '../src/commands/command.ts';
import { BackendChoiceError, chooseBackend } from '../src/core/detect/backend-choice.ts';
import { App } from './App.tsx';
import { StoreProvider } from './store-context.tsx';

export interface LaunchOptions {
  dir: string;
  occlumVersion?: string;
  backend?: string;
  /** A saved log to load into the Logs pane (which then has focus). */
  log?: string;
  /** Runs once the instance is open, before the first frame (demo: focus the Run pane). */
  prepare?(store: StudioStore): void;
}

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

  let restored = false;
  const restore = () => {
    if (!restored) process.stdout.write(LEAVE_ALT);
    restored = true;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGHUP' ? 1 : 2));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.once('exit', restore);

  process.stdout.write(ENTER_ALT);
  try {
    const app = render(
      <StoreProvider store={store}>
        <App />
      </StoreProvider>,
      { exitOnCtrlC: false, patchConsole: true },
    );
    await app.waitUntilExit();
  } finally {
    restore();
  }
  return 0;
}
