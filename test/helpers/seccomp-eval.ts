// Runs a classic-BPF seccomp program of src/core/sandbox/seccomp.ts on one system call, as the
// kernel would: what the filters' tests check the programs' meaning with.
import type { seccompProgram } from '../../src/core/sandbox/seccomp.ts';

/** The program's return value for call `nr` of `arch` with `args` (low 32 bits of each). */
export function evaluate(
  prog: ReturnType<typeof seccompProgram>,
  arch: number,
  nr: number,
  args: number[] = [],
): number {
  const word = (off: number) => (off === 0 ? nr : off === 4 ? arch : off >= 16 ? (args[(off - 16) / 8] ?? 0) : 0);
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    if (code === 0x06) return k >>> 0;
    if (code === 0x20) a = word(k);
    else {
      const hit = code === 0x15 ? a === k : code === 0x35 ? a >>> 0 >= k >>> 0 : (a & k) !== 0;
      pc += hit ? jt : jf;
    }
  }
  throw new Error('fell off the end');
}
