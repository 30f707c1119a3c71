// Classic-BPF seccomp filter, hand-assembled, for bwrap --seccomp FD. It makes the sandbox
// refuse what Occlum cannot do: fork() and clone() without CLONE_VM/CLONE_VFORK fail with
// ENOSYS (Occlum has no fork: its syscall table answers "unsupported"), while vfork,
// posix_spawn (clone with CLONE_VM|CLONE_VFORK) and threads (CLONE_VM) keep working. clone3
// returns ENOSYS so C libraries fall back to clone, where the flags can be inspected (clone3
// passes them in memory, out of a classic filter's reach).
//
// With `notify` (a run launched by the native stager), fork and fork-like clone get
// SECCOMP_RET_USER_NOTIF instead: the fork shim installs this program inside the sandbox and
// hands its listener to the studio's fork watch, which answers ENOSYS and counts the attempts
// (native/src/fork_watch.rs); with the listener gone the kernel answers ENOSYS itself. clone3
// and the x32 ABI still get ERRNO: glibc tries clone3 for every thread, which is no fork. The
// program may not make a listener of its own (EBUSY, the kernel's answer while the watch's
// lives): seccomp hands a call to the newest filter's listener, so one answering "continue"
// would let its forks through once the watch's listener is gone.

// struct seccomp_data offsets
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16;
const OFF_ARG1_LO = 24;

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const NR_CLONE = 56;
const NR_FORK = 57;
const NR_CLONE3 = 435;
const NR_SECCOMP = 317;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const EBUSY = 16;
const CLONE_VM = 0x100;
const CLONE_VFORK = 0x4000;
export const ENOSYS = 38;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_USER_NOTIF = 0x7fc00000;

// BPF opcodes
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const ld = (off: number): Insn => ({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: off });
const ret = (k: number): Insn => ({ code: BPF_RET_K, jt: 0, jf: 0, k });
const jeq = (k: number, jt: number, jf: number): Insn => ({ code: BPF_JEQ_K, jt, jf, k });
const jge = (k: number, jt: number, jf: number): Insn => ({ code: BPF_JGE_K, jt, jf, k });
const jset = (k: number, jt: number, jf: number): Insn => ({ code: BPF_JSET_K, jt, jf, k });

export interface SeccompPolicy {
  /** Deny fork() and fork-like clone() as Occlum does. */
  denyFork: boolean;
  errno?: number;
  /** Fork attempts go to a user-notification listener (the fork watch) instead of ERRNO. */
  notify?: boolean;
}

/** The program as an array of instructions (exported for tests and docs). */
export function seccompProgram(policy: SeccompPolicy): Insn[] {
  const deny = ret(SECCOMP_RET_ERRNO | ((policy.errno ?? ENOSYS) & 0xffff));
  const allow = ret(SECCOMP_RET_ALLOW);
  if (!policy.denyFork) return [allow];
  // Jump offsets are relative to the next instruction.
  if (!policy.notify) {
    return [
      /* 0 */ ld(OFF_ARCH),
      /* 1 */ jeq(AUDIT_ARCH_X86_64, 0, 8), // other arch: allow (10)
      /* 2 */ ld(OFF_NR),
      /* 3 */ jge(X32_SYSCALL_BIT, 7, 0), // x32 ABI: deny (11)
      /* 4 */ jeq(NR_FORK, 6, 0), // fork: deny (11)
      /* 5 */ jeq(NR_CLONE3, 5, 0), // deny (ENOSYS: libc falls back to clone)
      /* 6 */ jeq(NR_CLONE, 0, 3), // not clone: allow
      /* 7 */ ld(OFF_ARG0_LO), // clone flags (low 32 bits)
      /* 8 */ jset(CLONE_VM, 1, 0), // threads, posix_spawn: allow
      /* 9 */ jset(CLONE_VFORK, 0, 1), // vfork-style: allow; anything else is a fork
      /* 10 */ allow,
      /* 11 */ deny,
    ];
  }
  return [
    /* 0 */ ld(OFF_ARCH),
    /* 1 */ jeq(AUDIT_ARCH_X86_64, 0, 11), // other arch: allow (13)
    /* 2 */ ld(OFF_NR),
    /* 3 */ jge(X32_SYSCALL_BIT, 10, 0), // x32 ABI: deny (14)
    /* 4 */ jeq(NR_FORK, 10, 0), // fork: notify (15)
    /* 5 */ jeq(NR_CLONE3, 8, 0), // deny (14)
    /* 6 */ jeq(NR_CLONE, 0, 3), // not clone: the seccomp check (10)
    /* 7 */ ld(OFF_ARG0_LO),
    /* 8 */ jset(CLONE_VM, 4, 0), // threads, posix_spawn: allow (13)
    /* 9 */ jset(CLONE_VFORK, 3, 5), // vfork-style: allow (13); anything else: notify (15)
    /* 10 */ jeq(NR_SECCOMP, 0, 2), // not seccomp(): allow (13)
    /* 11 */ ld(OFF_ARG1_LO), // its flags
    /* 12 */ jset(SECCOMP_FILTER_FLAG_NEW_LISTENER, 3, 0), // a listener of its own: EBUSY (16)
    /* 13 */ allow,
    /* 14 */ deny,
    /* 15 */ ret(SECCOMP_RET_USER_NOTIF),
    /* 16 */ ret(SECCOMP_RET_ERRNO | EBUSY),
  ];
}

/** Serialises to struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k; little-endian). */
export function assemble(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    buf.writeUInt16LE(ins.code, i * 8);
    buf.writeUInt8(ins.jt, i * 8 + 2);
    buf.writeUInt8(ins.jf, i * 8 + 3);
    buf.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return buf;
}

export function seccompFilter(policy: SeccompPolicy): Buffer {
  return assemble(seccompProgram(policy));
}
