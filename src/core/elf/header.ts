// Minimal ELF reader: just what Occlum's loader looks at (class, type, PT_INTERP), from the
// first bytes of the file. Never throws on malformed input: returns a description instead.
import { closeSync, openSync, readSync } from 'node:fs';

export const ET_EXEC = 2;
export const ET_DYN = 3;
const PT_INTERP = 3;

export type ElfInfo =
  | { kind: 'elf'; class: 32 | 64; type: number; interp: string | null; machine: number }
  | { kind: 'script'; interpreter: string; args: string; firstLineTooLong: boolean }
  | { kind: 'other' };

/** Reads up to `max` bytes from the start of a file. */
function readHead(path: string, max: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, max, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function readAt(path: string, offset: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function readElfInfo(path: string): ElfInfo {
  const head = readHead(path, 256);
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
    // Occlum reads the first line into a 128-byte buffer (spec 5.1: first line <= 127 bytes).
    const nl = head.indexOf(0x0a);
    const line = head.subarray(2, nl === -1 ? head.length : nl).toString('utf8').trim();
    const sp = line.search(/\s/);
    return {
      kind: 'script',
      interpreter: sp === -1 ? line : line.slice(0, sp),
      args: sp === -1 ? '' : line.slice(sp).trim(),
      firstLineTooLong: nl === -1 ? head.length > 127 : nl > 127,
    };
  }
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return { kind: 'other' };
  const cls = head[4] === 2 ? 64 : head[4] === 1 ? 32 : 0;
  if (cls === 0 || head[5] !== 1) return { kind: 'other' }; // only little-endian ELF runs on x86-64
  const type = head.readUInt16LE(16);
  const machine = head.readUInt16LE(18);
  if (cls === 32) return { kind: 'elf', class: 32, type, interp: null, machine };
  if (head.length < 64) return { kind: 'other' };
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  let interp: string | null = null;
  if (phentsize >= 56 && phnum > 0 && phnum < 4096) {
    const ph = readAt(path, phoff, phentsize * phnum);
    for (let i = 0; i + 56 <= ph.length && i / phentsize < phnum; i += phentsize) {
      if (ph.readUInt32LE(i) !== PT_INTERP) continue;
      const off = Number(ph.readBigUInt64LE(i + 8));
      const size = Number(ph.readBigUInt64LE(i + 32));
      if (size > 0 && size < 4096) interp = readAt(path, off, size).toString('latin1').replace(/\0.*$/s, '');
      break;
    }
  }
  return { kind: 'elf', class: 64, type, interp, machine };
}

export type Libc = 'musl' | 'glibc' | 'unknown' | 'none';

/** Which C library a PT_INTERP names. */
export function libcOf(interp: string | null): Libc {
  if (!interp) return 'none';
  if (/ld-musl/.test(interp)) return 'musl';
  if (/ld-linux/.test(interp)) return 'glibc';
  return 'unknown';
}
