// When a program exits, the end of its output can still sit in the kernel: a pty buffers up to
// ~64 KB and hands it out 4 KB per read, one event-loop turn each. Whoever closes the stream
// before it is read loses that end, and it is often the program's error message. Two do: libuv
// takes the hang-up of a pty after a short read for its end of file (while the kernel still holds
// data), and node-pty destroys its stream 200 ms after the exit (node-pty #726, #85). Reading
// what is left, synchronously, just before the stream closes loses nothing and waits for nothing.
import { readSync } from 'node:fs';

/** A program left behind that floods its terminal must not hold the studio in this loop. */
const MAX_LEFTOVER = 8 * 1024 * 1024;

/**
 * Reads what the kernel still holds for `fd` without waiting, and hands it to `onBytes`: until it
 * has no more (EAGAIN), the terminal is gone (EIO), the end of a pipe, or MAX_LEFTOVER bytes.
 */
export function readLeftover(fd: number, onBytes: (bytes: Buffer) => void): void {
  const buf = Buffer.alloc(64 * 1024);
  for (let total = 0; total < MAX_LEFTOVER;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch {
      return; // EAGAIN, EIO, EBADF: nothing more to read
    }
    if (n === 0) return;
    onBytes(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
}

/** The file descriptor under a node stream, or null where none is exposed. */
export function streamFd(stream: unknown): number | null {
  const s = stream as { _handle?: { fd?: unknown }; fd?: unknown } | null;
  const fd = s?._handle?.fd ?? s?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * Makes `stream.destroy()` read what is left of `fd` first. A destroy with an error is the
 * stream's own end (EIO: nothing left) and goes through as it is.
 */
export function readLeftoverBeforeDestroy(
  stream: { destroy: (...args: unknown[]) => unknown },
  fd: number,
  onBytes: (bytes: Buffer) => void,
): void {
  const destroy = stream.destroy.bind(stream);
  let drained = false;
  stream.destroy = (...args: unknown[]) => {
    if (args[0] === undefined && !drained) {
      drained = true;
      readLeftover(fd, onBytes);
    }
    return destroy(...args);
  };
}
