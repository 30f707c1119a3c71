// `fs pack --watch`: runs the live packer (src/core/watch/live-pack.ts) until SIGINT/SIGTERM and
// prints one line per pack (NDJSON with --json). Errors of one pack are reported and the watch
// goes on; a signal stops it after the pack in flight has finished.
import { jsonForTerminal } from '../core/text/sanitize.ts';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, UserError, say, sayErr } from './command.ts';
import { errorMessage } from '../core/errors.ts';
import { isInside } from '../core/watch/scope.ts';
import { LivePacker, type LivePackEvent } from '../core/watch/live-pack.ts';
import type { KeyMode } from '../core/securefs/types.ts';

export interface PackWatchOptions {
  src: string;
  outRoot: string;
  macFile: string;
  key: KeyMode;
  json: boolean;
}

/** Paths listed in a JSON line at most (pathCount gives the total). */
const JSON_PATHS = 100;
/** Paths named in a text line at most. */
const TEXT_PATHS = 3;

export async function packWatch(o: PackWatchOptions): Promise<number> {
  // The watcher does not follow symlinks, a symlinked source root included: watch its target.
  const given = resolve(o.src);
  const src = realpathSync(given);
  const outRoot = resolve(o.outRoot);
  const macFile = resolve(o.macFile);
  // Output inside the watched tree would trigger its own next pack (and be packed into itself).
  for (const [what, p] of [
    ['--out', outRoot],
    ['--mac-file', macFile],
  ] as const) {
    if (isInside(p, src) || isInside(p, given))
      throw new UsageError(
        `${what} ${p} lies inside the watched source ${given}: put the image outside the source tree`,
      );
  }
  const emit = o.json ? (obj: object) => process.stdout.write(jsonForTerminal(JSON.stringify(obj)) + '\n') : undefined;
  const packer = new LivePacker({
    src,
    outRoot,
    macFile,
    key: o.key,
    onEvent: (e) => (emit ? emit(jsonOf(e, outRoot, macFile)) : printText(e)),
  });

  // Signals are taken over before the first pack: the default action would kill it midway.
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const signalled = new Promise<NodeJS.Signals>((res) => {
    onSignal = (sig) => res(sig); // a second Ctrl-C changes nothing: the pack in flight still finishes
  });
  // A reader that went away (`… | head`) stops the watch like a signal, instead of a crash.
  let readerGone = false;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    readerGone = true;
    onSignal('SIGPIPE');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  const release = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onStdoutError);
  };
  try {
    await packer.start();
  } catch (err) {
    release();
    throw new UserError((err as Error).message);
  }
  if (!emit) sayErr(`watching ${src}, packing into ${outRoot} (Ctrl-C stops)`);
  const sig = await signalled;
  await packer.stop();
  release();
  const unpacked = packer.unpacked;
  if (readerGone) return 0;
  if (emit) emit({ stopped: true, signal: sig, unpacked });
  else process.stderr.write(`stopped (${sig})${unpacked ? `; ${unpacked} changed paths not packed` : ''}\n`);
  return 0;
}

function jsonOf(e: LivePackEvent, outRoot: string, macFile: string): object {
  const at = new Date(e.at).toISOString();
  if (e.type === 'watch-error') return { at, error: e.message, watcher: true };
  const common = {
    at,
    trigger: e.trigger,
    hinted: e.hinted,
    ...(e.unhinted ? { unhinted: e.unhinted } : {}),
    pathCount: e.paths.length,
    paths: e.paths.slice(0, JSON_PATHS),
  };
  if (e.type === 'error') return { ...common, error: e.message, code: e.code };
  const r = e.result;
  return {
    ...common,
    rootMac: r.rootMac,
    filesPacked: r.filesPacked,
    filesReused: r.filesReused,
    bytes: r.bytes,
    ms: r.ms,
    ...(e.trigger === 'initial' ? { outRoot, macFile } : {}),
  };
}

function printText(e: LivePackEvent): void {
  const time = new Date(e.at).toTimeString().slice(0, 8);
  if (e.type === 'watch-error') {
    sayErr(`${time} watcher: ${e.message} (the next pack walks the whole tree)`);
    return;
  }
  const shown =
    e.paths.slice(0, TEXT_PATHS).join(', ') +
    (e.paths.length > TEXT_PATHS ? ` (+${e.paths.length - TEXT_PATHS} more)` : '');
  const how = e.hinted ? shown : `walk (${e.unhinted})${shown ? `: ${shown}` : ''}`;
  if (e.type === 'error') {
    sayErr(`${time} pack failed: ${errorMessage(e)} [${how}]; watching on`);
    return;
  }
  const r = e.result;
  const ms = r.ms < 10 ? r.ms.toFixed(1) : r.ms.toFixed(0);
  say(`${time} ${r.filesPacked} written, ${r.filesReused} reused  root MAC ${r.rootMac}  ${ms} ms  ${how}`);
}
