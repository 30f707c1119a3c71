// Minimal ELF reader: just what Occlum's loader looks at (class, type, PT_INTERP), from the
// first bytes of the file. Never throws on malformed input: returns a description instead.
import { closeSync, openSync, readSync } from 'node:fs';

export const ET_EXEC = 2;
export const ET_DYN = 3;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_NOTE = 4;

export type ElfInfo =
  | {
      kind: 'elf';
      class: 32 | 64;
      type: number;
      interp: string | null;
      machine: number;
      /** Has a dynamic section (needs a loader or is a shared library). */
      dynamic?: boolean;
      /** DT_NEEDED names, when the dynamic section could be read. */
      needed?: string[];
      /** Built by Go's toolchain (its build-ID note): Go's own runtime, libc only through cgo. */
      go?: boolean;
    }
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
    const line = head
      .subarray(2, nl === -1 ? head.length : nl)
      .toString('utf8')
      .trim();
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
  let dynamic = false;
  let go = false;
  let needed: string[] | undefined;
  // Real files have 56-byte entries; a forged size would make the table a 268 MB read.
  if (phentsize >= 56 && phentsize <= 256 && phnum > 0 && phnum < 4096) {
    const ph = readAt(path, phoff, phentsize * phnum);
    const loads: Load[] = [];
    let dyn: { off: number; size: number } | null = null;
    for (let i = 0; i + 56 <= ph.length && i / phentsize < phnum; i += phentsize) {
      const t = ph.readUInt32LE(i);
      const off = Number(ph.readBigUInt64LE(i + 8));
      const size = Number(ph.readBigUInt64LE(i + 32));
      if (t === PT_INTERP && interp === null && size > 0 && size < 4096) {
        interp = readAt(path, off, size).toString('latin1').replace(/\0.*$/s, '');
      } else if (t === PT_LOAD) {
        loads.push({ vaddr: Number(ph.readBigUInt64LE(i + 16)), offset: off, filesz: size });
      } else if (t === PT_DYNAMIC) {
        dynamic = true;
        if (size > 0 && size < 1 << 20) dyn = { off, size };
      } else if (t === PT_NOTE && !go && size > 0 && size < 1 << 16) {
        go = hasGoNote(readAt(path, off, size));
      }
    }
    if (dyn) needed = neededOf(path, readAt(path, dyn.off, dyn.size), loads);
  }
  return { kind: 'elf', class: 64, type, interp, machine, dynamic, go, needed };
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** Go's linker writes a note named "Go" of type 4 (its build ID). */
function hasGoNote(notes: Buffer): boolean {
  for (let i = 0; i + 12 <= notes.length;) {
    const namesz = notes.readUInt32LE(i);
    const descsz = notes.readUInt32LE(i + 4);
    const type = notes.readUInt32LE(i + 8);
    const name = notes
      .subarray(i + 12, i + 12 + namesz)
      .toString('latin1')
      .replace(/\0+$/, '');
    if (name === 'Go' && type === 4) return true;
    // Not `(n + 3) & ~3`: 32-bit bitwise wraps a forged size to a step of 0, a loop without end.
    i += 12 + align4(namesz) + align4(descsz);
  }
  return false;
}

/** DT_NEEDED names from a dynamic section; the string table is found through the PT_LOADs. */
type Load = { vaddr: number; offset: number; filesz: number };

/** Bounds for forged dynamic sections: real programs need a few dozen names of a few dozen bytes. */
const MAX_NEEDED = 1024;
const MAX_NAME = 4096;

function neededOf(path: string, dyn: Buffer, loads: Load[]): string[] | undefined {
  const DT_NEEDED = 1;
  const DT_STRTAB = 5;
  const DT_STRSZ = 10;
  const offsets: number[] = [];
  let strtab = -1;
  let strsz = 0;
  for (let i = 0; i + 16 <= dyn.length; i += 16) {
    const tag = Number(dyn.readBigInt64LE(i));
    const val = Number(dyn.readBigUInt64LE(i + 8));
    if (tag === 0) break;
    if (tag === DT_NEEDED && offsets.length < MAX_NEEDED) offsets.push(val);
    else if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = val;
  }
  if (offsets.length === 0) return [];
  const seg = loads.find((l) => strtab >= l.vaddr && strtab < l.vaddr + l.filesz);
  if (!seg || strsz <= 0 || strsz > 1 << 24) return undefined;
  const table = readAt(path, seg.offset + (strtab - seg.vaddr), strsz);
  // Each name is at most a path's length: a forged table without NULs is not copied per entry.
  return offsets.map((o) => {
    const name = table.subarray(o, o + MAX_NAME);
    const end = name.indexOf(0);
    return name.subarray(0, end === -1 ? name.length : end).toString('latin1');
  });
}

export type Libc = 'musl' | 'glibc' | 'unknown' | 'none';

/** Which C library a PT_INTERP names. */
export function libcOf(interp: string | null): Libc {
  if (!interp) return 'none';
  if (/ld-musl/.test(interp)) return 'musl';
  if (/ld-linux/.test(interp)) return 'glibc';
  return 'unknown';
}
