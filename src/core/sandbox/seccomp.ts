// Classic-BPF seccomp filter, hand-assembled, for bwrap --seccomp FD. It makes the sandbox
// refuse what Occlum cannot do: fork() and clone() without CLONE_VM/CLONE_VFORK fail with
// ENOSYS (Occlum has no fork: its syscall table answers "unsupported"), while vfork,
// posix_spawn (clone with CLONE_VM|CLONE_VFORK) and threads (CLONE_VM) keep working. clone3
// returns ENOSYS so C libraries fall back to clone, where the flags can be inspected (clone3
// passes them in memory, out of a classic filter's reach).
//
// Whatever the fork rule (also with --allow-fork), the program cannot type into its terminal:
// ioctl TIOCSTI (and TIOCLINUX, which pastes on a Linux console) fails with EPERM. Without it, a
// program run from a shell pushes a command line into the shell's input, which the shell runs
// as the user once the run ends. Nor can it trace or write another process (ptrace,
// process_vm_readv/writev: ENOSYS, as in Occlum): PID 1 of its namespace (bwrap's init, a
// server's holder) runs as the same uid without this filter, and its death with its parent is
// what ends the sandbox with the studio; taken over, it could fork, or clear that and outlive
// the studio (/proc/1/mem is closed by a read-only /proc, launch.ts). Nor can it reach the
// kernel keyrings (add_key, request_key, keyctl: ENOSYS, as in Occlum): it inherits the studio's
// session keyring, whose keys (tickets, tokens) the possessor may read. The x32 and i386 ABIs
// (int 0x80) get ENOSYS: Occlum runs x86-64 programs only, and either would reach these calls
// under numbers not checked here.
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
const NR_IOCTL = 16;
const NR_PTRACE = 101;
const NR_PROCESS_VM_READV = 310;
const NR_PROCESS_VM_WRITEV = 311;
const NR_ADD_KEY = 248;
const NR_REQUEST_KEY = 249;
const NR_KEYCTL = 250;
// ioctl's request is an unsigned int: the kernel ignores the upper half of the register, so
// only the low 32 bits are compared.
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const EPERM = 1;
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

/** A conditional jump to labels (`next`: the following instruction); resolved by `link`. */
interface Jump {
  code: number;
  k: number;
  jt: string;
  jf: string;
}
const jeq = (k: number, jt: string, jf = 'next'): Jump => ({ code: BPF_JEQ_K, k, jt, jf });
const jge = (k: number, jt: string, jf = 'next'): Jump => ({ code: BPF_JGE_K, k, jt, jf });
const jset = (k: number, jt: string, jf = 'next'): Jump => ({ code: BPF_JSET_K, k, jt, jf });

/** Instructions, jumps and labels (strings) to instructions with relative offsets (forward only). */
function link(items: (Insn | Jump | string)[]): Insn[] {
  const at = new Map<string, number>();
  const insns: (Insn | Jump)[] = [];
  for (const it of items) {
    if (typeof it === 'string') at.set(it, insns.length);
    else insns.push(it);
  }
  const offset = (label: string, i: number) => {
    if (label === 'next') return 0;
    const to = at.get(label);
    if (to === undefined || to <= i || to - i - 1 > 255) throw new Error(`seccomp: bad jump to ${label} at ${i}`);
    return to - i - 1;
  };
  return insns.map((ins, i) =>
    typeof ins.jt === 'string' ? { ...ins, jt: offset(ins.jt, i), jf: offset((ins as Jump).jf, i) } : (ins as Insn),
  );
}

export interface SeccompPolicy {
  /** Deny fork() and fork-like clone() as Occlum does. */
  denyFork: boolean;
  errno?: number;
  /** Fork attempts go to a user-notification listener (the fork watch) instead of ERRNO. */
  notify?: boolean;
}

/** The program as an array of instructions (exported for tests and docs). */
export function seccompProgram(policy: SeccompPolicy): Insn[] {
  const { denyFork } = policy;
  const notify = denyFork && !!policy.notify;
  const fork = notify ? 'notify' : 'enosys';
  return link([
    ld(OFF_ARCH),
    jeq(AUDIT_ARCH_X86_64, 'next', 'enosys'), // i386 (int 0x80) or another ABI
    ld(OFF_NR),
    jge(X32_SYSCALL_BIT, 'enosys'), // the x32 ABI
    jeq(NR_IOCTL, 'ioctl'),
    jeq(NR_PTRACE, 'enosys'),
    jeq(NR_PROCESS_VM_READV, 'enosys'),
    jeq(NR_PROCESS_VM_WRITEV, 'enosys'),
    jeq(NR_ADD_KEY, 'enosys'),
    jeq(NR_REQUEST_KEY, 'enosys'),
    jeq(NR_KEYCTL, 'enosys'),
    ...(denyFork
      ? [
          jeq(NR_FORK, fork),
          jeq(NR_CLONE3, 'enosys'), // libc falls back to clone
          jeq(NR_CLONE, 'next', notify ? 'seccomp' : 'allow'),
          ld(OFF_ARG0_LO), // clone flags (low 32 bits)
          jset(CLONE_VM, 'allow'), // threads, posix_spawn
          jset(CLONE_VFORK, 'allow', fork), // vfork-style; anything else is a fork
        ]
      : []),
    ...(notify
      ? [
          'seccomp',
          jeq(NR_SECCOMP, 'next', 'allow'),
          ld(OFF_ARG1_LO), // its flags
          jset(SECCOMP_FILTER_FLAG_NEW_LISTENER, 'ebusy', 'allow'), // a listener of its own
        ]
      : []),
    'allow',
    ret(SECCOMP_RET_ALLOW),
    'ioctl',
    ld(OFF_ARG1_LO), // the request
    jeq(TIOCSTI, 'eperm'),
    jeq(TIOCLINUX, 'eperm', 'allow_'),
    // Jumps go forward only: a second allow after the ioctl check.
    'allow_',
    ret(SECCOMP_RET_ALLOW),
    'eperm',
    ret(SECCOMP_RET_ERRNO | EPERM),
    'enosys',
    ret(SECCOMP_RET_ERRNO | ((policy.errno ?? ENOSYS) & 0xffff)),
    ...(notify ? ['notify', ret(SECCOMP_RET_USER_NOTIF), 'ebusy', ret(SECCOMP_RET_ERRNO | EBUSY)] : []),
  ]);
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
