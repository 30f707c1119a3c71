// Reads one section of an ELF64 file by name (the `.builtin_config` section into which Occlum's
// makefile patches the MAC of the protected LibOS config with objcopy).
import { readFileSync } from 'node:fs';

export function readElfSection(path: string, name: string): Buffer | null {
  const b = readFileSync(path);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return null;
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: b.readUInt32LE(o),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
    };
  };
  if (shoff === 0 || shstrndx >= shnum || shoff + shnum * shentsize > b.length) return null;
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const end = b.indexOf(0, strtab.offset + s.name);
    if (b.toString('latin1', strtab.offset + s.name, end) === name) return b.subarray(s.offset, s.offset + s.size);
  }
  return null;
}
