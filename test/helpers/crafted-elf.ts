// Hand-made ELF64 files for hostile-input tests: a header, program headers and the segments a
// reader follows (PT_INTERP, PT_NOTE, PT_DYNAMIC with its string table), with whatever sizes
// and offsets a test wants, however absurd.

export interface CraftedSegment {
  type: number;
  /** File offset and size as the program header claims them (the data may be elsewhere). */
  offset: number;
  filesz: number;
  vaddr?: number;
}

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;

/** An ET_DYN x86-64 ELF of `size` bytes whose program headers are `segs`; `data` is written at its offsets. */
export function craftElf(segs: CraftedSegment[], data: [number, Buffer][], size = 4096): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // 64-bit
  buf[5] = 1; // little-endian
  buf[6] = 1;
  buf.writeUInt16LE(3, 16); // ET_DYN
  buf.writeUInt16LE(62, 18); // x86-64
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(64n, 32); // e_phoff
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(segs.length, 56);
  segs.forEach((s, i) => {
    const at = 64 + i * 56;
    buf.writeUInt32LE(s.type, at);
    buf.writeBigUInt64LE(BigInt(s.offset), at + 8);
    buf.writeBigUInt64LE(BigInt(s.vaddr ?? s.offset), at + 16);
    buf.writeBigUInt64LE(BigInt(s.filesz), at + 32);
    buf.writeBigUInt64LE(BigInt(s.filesz), at + 40);
  });
  for (const [off, bytes] of data) bytes.copy(buf, off);
  return buf;
}

/** An ELF whose PT_INTERP names `interp`. */
export function elfWithInterp(interp: string): Buffer {
  const text = Buffer.from(`${interp}\0`);
  return craftElf([{ type: PT_INTERP, offset: 1024, filesz: text.length }], [[1024, text]]);
}
