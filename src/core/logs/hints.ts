// Records whose message is known to mean "change this in Occlum.json" (spec section 3.3,
// docs/resource_config_guide.md, maintainer answers in Occlum issues) → a hint with the JSON
// path of the field, so the UI can jump to it in the Config pane.
import { parseLog } from './parser.ts';
import type { LogRecord } from './types.ts';

export interface LogHint {
  /** Short statement of what the message means. */
  message: string;
  /** Path of the Occlum.json field to change, or null when the fix is outside the config. */
  configPath: (string | number)[] | null;
  suggestion: string;
}

interface Rule {
  test(r: LogRecord, all: string): boolean;
  hint: LogHint;
}

const has = (s: string, ...needles: string[]) => needles.some((n) => s.includes(n));
const hasErrno = (r: LogRecord, name: string) =>
  r.errno?.name === name || (r.causes ?? []).some((c) => c.errno?.name === name);

const MAP_SYSCALL = /^M(?:re)?map\d?$/;
// `<type> does not support <op>` (ENOSYS): a file type without that operation (fs/file.rs), not
// a missing syscall. Linux fails some of these too (lseek on a pipe: ESPIPE).
const FILE_OP_UNSUPPORTED = /\bdoes not support \w+/;
const PROGRAM_MISSING = /^ENOENT \(#2, [^)]*\): (?:cannot find the file|EntryNotFound)$/;

const RULES: Rule[] = [
  {
    // mmap and mremap both take from the user space.
    test: (r, all) =>
      (MAP_SYSCALL.test(r.syscall ?? '') && hasErrno(r, 'ENOMEM')) || /\[[·_]*M(?:re)?map\d?\].*ENOMEM/.test(all),
    hint: {
      message: 'mmap ran out of user-space memory',
      configPath: ['resource_limits', 'user_space_size'],
      // Up to 0.24 each process had its own mmap area (resource guide of those versions).
      suggestion: 'raise resource_limits.user_space_size or _max_size (≤ 0.24: process.default_mmap_size) and rebuild',
    },
  },
  {
    // EINVAL for what Occlum's VM does not do (vm/process_vm.rs, vm_util.rs): flags outside its
    // MMapFlags (MAP_32BIT, MAP_HUGE_*), mremap flags, mremap of part of a shared file mapping.
    test: (r, all) =>
      (MAP_SYSCALL.test(r.syscall ?? '') || /\[[·_]*M(?:re)?map\d?\]/.test(all)) &&
      hasErrno(r, 'EINVAL') &&
      has(all, 'unknown mmap flags', 'unsupported flags', 'Known limitation'),
    hint: {
      message: 'Occlum does not support this use of mmap/mremap (an unknown flag such as MAP_32BIT or MAP_HUGE_*)',
      configPath: null,
      suggestion: 'no Occlum.json field changes this: the program (or an option of its runtime) has to avoid that flag',
    },
  },
  {
    test: (_r, all) => all.includes('New brk address is too high'),
    hint: {
      message: 'the process heap (brk) is full',
      configPath: ['process', 'default_heap_size'],
      suggestion: 'raise process.default_heap_size and rebuild',
    },
  },
  {
    test: (_r, all) =>
      has(
        all,
        'run out of reserved memory',
        'failed to create process VM',
        "can't allocate free chunks",
        "Can't find a free chunk for this allocation",
        "can't allocate a chunk in global list",
      ),
    hint: {
      message: 'not enough user-space memory to create the process',
      configPath: ['resource_limits', 'user_space_size'],
      suggestion: 'raise resource_limits.user_space_size (or user_space_max_size) and rebuild',
    },
  },
  {
    // Since 0.29.5 the LibOS's allocation-failure hook panics (entry.rs), so the bare line —
    // what it printed before — may also be a Rust program's own (its user space full).
    test: (r, all) => /memory allocation of \d+ bytes failed/.test(all) && r.location !== undefined,
    hint: {
      message: 'the LibOS kernel heap is exhausted',
      configPath: ['resource_limits', 'kernel_space_heap_size'],
      suggestion: 'raise resource_limits.kernel_space_heap_size (or kernel_space_heap_max_size) and rebuild',
    },
  },
  {
    test: (r, all) => /memory allocation of \d+ bytes failed/.test(all) && r.location === undefined,
    hint: {
      message: 'the LibOS kernel heap is exhausted (Occlum ≤ 0.29.4; later, a Rust program’s own)',
      configPath: ['resource_limits', 'kernel_space_heap_size'],
      suggestion:
        'raise resource_limits.kernel_space_heap_size and rebuild; on Occlum ≥ 0.29.5 this bare line is a Rust program’s: raise user_space_size',
    },
  },
  {
    test: (_r, all) =>
      all.includes('SGX protected file I/O error') && has(all, 'Cannot allocate memory', 'ENOMEM', 'os error: 12'),
    hint: {
      message: 'the secure file system ran out of kernel heap',
      configPath: ['resource_limits', 'kernel_space_heap_size'],
      suggestion: 'raise resource_limits.kernel_space_heap_size and rebuild',
    },
  },
  {
    // The resource guide's form (§6) has no code: "Failed to enter the enclave to execute a LibOS
    // thread (host tid = N): Unknown SGX error", answered with "enlarge max_num_of_threads".
    test: (r, all) =>
      r.sgx?.code === 0x1003 ||
      all.includes('Out of TCS') ||
      (r.sgx === undefined && all.includes('Failed to enter the enclave') && all.includes('Unknown SGX error')),
    hint: {
      message: 'no free TCS: more threads than max_num_of_threads',
      configPath: ['resource_limits', 'max_num_of_threads'],
      suggestion: 'raise resource_limits.max_num_of_threads and rebuild',
    },
  },
  {
    // SGX_ERROR_NO_DEVICE, and sgx_urts saying why before it (`[get_driver_type …] Failed to open
    // Intel SGX device.`). Maintainer answer in occlum/occlum#1621: the device, or SGX_MODE=SIM.
    test: (r, all) =>
      r.sgx?.code === 0x2006 || all.includes('Invalid SGX device') || all.includes('Failed to open Intel SGX device'),
    hint: {
      message: 'no usable SGX device for a hardware-mode enclave',
      configPath: null,
      suggestion:
        'no SGX: `occlum build --sgx-mode SIM`; with SGX: enable it in the BIOS and pass the device to the ' +
        'container (--device /dev/sgx_enclave --device /dev/sgx_provision, or /dev/isgx with the old driver)',
    },
  },
  {
    // SGX_ERROR_MODE_INCOMPATIBLE: pal_error.c has no text for it ("Unknown SGX error").
    test: (r) => r.sgx?.code === 0x200e,
    hint: {
      message: "the enclave was built for another SGX mode than the runtime's (SIM vs HW)",
      configPath: null,
      suggestion:
        'build with the mode you run in (`occlum build --sgx-mode SIM` or HW); a program using the PAL API must load that mode’s libraries',
    },
  },
  {
    // HW mode needs user-space FSGSBASE (PAL's pal_check_fsgsbase.c); maintainer answers in
    // occlum/occlum#509, #1048: a newer host kernel or the enable_rdfsbase module.
    test: (r, all) => r.kind === 'pal' && has(all, 'FSGSBASE enablement check failed', 'SIGILL Caught'),
    hint: {
      message: 'the host kernel does not let programs use the FSGSBASE instructions Occlum needs',
      configPath: null,
      suggestion:
        'host kernel ≥ 5.9 (the host’s, not the container’s) or the enable_rdfsbase module (github.com/occlum/enable_rdfsbase)',
    },
  },
  {
    // The initial stack of a new process holds argv, envp and auxv in 1/256 of its stack (at
    // least 4 KiB): process/do_spawn/mod.rs, init_stack.rs.
    test: (_r, all) => all.includes('No enough space in buffer'),
    hint: {
      message: "the arguments and environment do not fit in the new process's initial stack",
      configPath: ['process', 'default_stack_size'],
      suggestion:
        'raise process.default_stack_size (argv and envp get 1/256 of it) or pass fewer or shorter arguments and variables',
    },
  },
  {
    // occlum_pal_init resolves the instance directory it is given (pal_api.c): rune's
    // ENCLAVE_RUNTIME_ARGS, an embedding program's occlum_pal_attr_t.instance_dir.
    test: (r) => r.kind === 'pal' && /^realpath returns E/.test(r.message),
    hint: {
      message: 'the Occlum instance directory given to the PAL does not exist or cannot be reached',
      configPath: null,
      suggestion:
        'pass the path of the built instance (the directory with Occlum.json and build/), absolute or relative to ' +
        'the working directory (rune: ENCLAVE_RUNTIME_ARGS / enclave.runtime.args)',
    },
  },
  {
    test: (r) => r.sgx?.code === 0x1009,
    hint: {
      message: 'enclave stack overrun in the LibOS kernel',
      configPath: ['resource_limits', 'kernel_space_stack_size'],
      suggestion: 'raise resource_limits.kernel_space_stack_size and rebuild',
    },
  },
  {
    test: (r, all) => r.sgx?.code === 0x2009 || all.includes('Invalid enclave metadata'),
    hint: {
      message: 'sgx rejected the enclave metadata',
      configPath: ['resource_limits', 'kernel_space_stack_size'],
      suggestion:
        'reported fixed by lowering resource_limits.kernel_space_stack_size (e.g. 16MB → 8MB); check the sizes in resource_limits',
    },
  },
  {
    test: (_r, all) => all.includes('program path is NOT a valid entry point'),
    hint: {
      message: 'the program is outside every entry_points prefix',
      configPath: ['entry_points'],
      suggestion:
        'run it by its path inside the image (e.g. /bin/app, not the host path) or add its directory to entry_points',
    },
  },
  {
    test: (_r, all) => has(all, 'program path must be absolute', 'entry point must be an absolute path'),
    hint: {
      message: 'program paths and entry points must be absolute',
      configPath: ['entry_points'],
      suggestion: 'use an absolute path inside the image, e.g. `occlum run /bin/app`, and absolute entry_points',
    },
  },
  {
    test: (_r, all) => all.includes('program path cannot contain any parent component'),
    hint: {
      message: 'program paths cannot contain ..',
      configPath: null,
      suggestion: 'run the program by its absolute path inside the image without `..`, e.g. `occlum run /bin/app`',
    },
  },
  {
    // The program itself is not in the image (spec §5.1; occlum/occlum#1335, #1698): at boot the
    // LibOS says `cannot find the file` (≤ 0.30) or `EntryNotFound` (0.31). Under `cannot load
    // ld.so` the same words are about the loader (its own hint).
    test: (r, all) =>
      (r.kind === 'boot-failure' || r.message.startsWith('failed to execute a process')) &&
      PROGRAM_MISSING.test(r.message) &&
      !all.includes('cannot load ld.so'),
    hint: {
      message: 'the program is not in the image at that path',
      configPath: null,
      suggestion:
        'paths are the ones inside the image (image/bin/app runs as /bin/app, not by its host path); ' +
        'copy the program into image/ (or add it to the bom) and rebuild',
    },
  },
  {
    test: (r, all) => hasErrno(r, 'ENOEXEC') || all.includes('unknown executable file format'),
    hint: {
      message: 'the file is not a position-independent ELF executable',
      configPath: null,
      suggestion:
        'rebuild the program as PIE with the Occlum toolchain (occlum-gcc, or -fPIC -pie); static non-PIE binaries cannot run',
    },
  },
  {
    test: (_r, all) => all.includes('cannot load ld.so'),
    hint: {
      message: "the program's dynamic loader is missing from the image",
      configPath: null,
      suggestion:
        'copy the loader named in PT_INTERP (e.g. /lib/ld-musl-x86_64.so.1) and the libraries into image/ (copy_bom does this), then rebuild',
    },
  },
  {
    test: (_r, all) => all.includes('Enclave has no privilege to get run in the release mode'),
    hint: {
      message: 'a release enclave needs a signing key the platform accepts for production',
      configPath: ['metadata', 'debuggable'],
      suggestion: 'for development set metadata.debuggable to true (or sign with a production-whitelisted key)',
    },
  },
  {
    test: (_r, all) => all.includes('cannot find the interpreter segment'),
    hint: {
      message: 'the executable has no dynamic loader (static or static-pie)',
      configPath: null,
      suggestion: 'build it as a dynamically linked PIE with the Occlum toolchain (occlum-gcc)',
    },
  },
  {
    test: (_r, all) => all.includes('file is not executable') || all.includes('it is not a regular file'),
    hint: {
      message: 'the program in the image is not an executable regular file',
      configPath: null,
      suggestion: 'copy the file into image/ with its execute bit (chmod +x) and rebuild',
    },
  },
  {
    // Logged by the LibOS for a syscall it lacks (`Unimplemented or unknown syscall`) or a use of
    // one it does not support; the PAL's ENOSYS is the host kernel's, not this.
    test: (r, all) => r.kind !== 'pal' && hasErrno(r, 'ENOSYS') && !FILE_OP_UNSUPPORTED.test(all),
    hint: {
      message: 'Occlum does not implement this system call (or this use of it)',
      configPath: null,
      suggestion:
        'the program has to do without it: look for a build option or a fallback that avoids the call ' +
        "(fork → posix_spawn); see Occlum's list of supported syscalls",
    },
  },
  {
    test: (r, all) => r.kind !== 'pal' && hasErrno(r, 'ENOSYS') && FILE_OP_UNSUPPORTED.test(all),
    hint: {
      message: "this kind of file (pipe, socket, stdio …) lacks the operation in Occlum's LibOS",
      configPath: null,
      suggestion:
        'often harmless: Linux refuses some of these too (lseek on a pipe) and programs fall back; ' +
        'look further only if the program fails right after it',
    },
  },
  {
    test: (_r, all) => all.includes('FATAL: kernel too old'),
    hint: {
      message: "the program uses the host's glibc, which Occlum cannot run",
      configPath: null,
      suggestion: "link against Occlum's glibc (/opt/occlum/glibc/lib, copied by copy_bom) instead of the host's",
    },
  },
];

/**
 * Program output (not Occlum's records) that means a Linux feature Occlum lacks. Only fork is
 * common enough to match on: shells and servers print it as "fork: Function not implemented".
 */
export const FORK_OUTPUT_HINT: LogHint = {
  message: 'the program called fork(), which Occlum does not have',
  configPath: null,
  suggestion:
    'spawn child processes with posix_spawn (or vfork + exec), as programs built for Occlum do; ' +
    'on the host backend, `run --allow-fork` lets you explore what else the program needs',
};

const PROGRAM_RULES: Rule[] = [
  {
    test: (_r, all) => /\b(v?fork|[Cc]annot fork|clone)\b.*(Function not implemented|ENOSYS)/.test(all),
    hint: FORK_OUTPUT_HINT,
  },
  {
    // The dynamic loader inside the enclave: musl's `Error loading shared library X: … (needed by
    // P)`, glibc's `error while loading shared libraries: X: cannot open shared object file`.
    test: (_r, all) =>
      all.includes('rror loading shared librar') ||
      (all.includes('error while loading shared libraries') && all.includes('cannot open shared object file')),
    hint: {
      message: 'a shared library the program needs is not in the image',
      configPath: null,
      suggestion:
        'add it to the bom (copy_bom copies dependencies with autodep) or copy it into image/lib ' +
        '(musl) or image/opt/occlum/glibc/lib (glibc), then rebuild',
    },
  },
  {
    // Runtimes that reserve their memory up front say in their own words that a mmap failed: the
    // JVM with the template's 300MB ("Could not reserve enough space for code cache (245760K)"),
    // CPython and numpy with an allocation ("MemoryError", "_ArrayMemoryError: Unable to allocate").
    test: (_r, all) =>
      /Could not reserve enough space for |Could not allocate metaspace|insufficient memory for the Java Runtime/.test(
        all,
      ) || /^(?:[\w.]+\.)?_?\w*MemoryError\b/.test(all),
    hint: {
      message: "the program's runtime could not get memory: the user space is smaller than it needs",
      configPath: ['resource_limits', 'user_space_size'],
      suggestion: 'raise resource_limits.user_space_size (`occlum-studio size` measures what it needs) and rebuild',
    },
  },
  {
    // More runtimes out of mmap: C++ `new` (maintainer answers in occlum/occlum#1180, #1511), Go's
    // heap, the dynamic loader mapping a library (glibc).
    test: (_r, all) =>
      /instance of 'std::bad_alloc'|^fatal error: out of memory$|failed to map segment from shared object/.test(all),
    hint: {
      message: 'the program could not map memory: the user space is smaller than it needs',
      configPath: ['resource_limits', 'user_space_size'],
      suggestion: 'raise resource_limits.user_space_size (`occlum-studio size` measures what it needs) and rebuild',
    },
  },
  {
    // pthread_create says EAGAIN when the new thread's stack cannot be mapped (glibc turns that
    // ENOMEM into EAGAIN, musl always returns EAGAIN); Occlum has no thread rlimit, and a missing
    // TCS kills the run instead (Out of TCS). The JVM's words for the same.
    test: (_r, all) =>
      /pthread_create\b.*(?:Resource temporarily unavailable|EAGAIN)|unable to create (?:new )?native thread/.test(all),
    hint: {
      message: 'a thread could not be created: its stack did not fit in the user space',
      configPath: ['resource_limits', 'user_space_size'],
      suggestion:
        'raise resource_limits.user_space_size, or start fewer threads (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS); ' +
        'every thread also needs one of resource_limits.max_num_of_threads',
    },
  },
  {
    test: (_r, all) => all.startsWith('Error relocating ') && all.includes('symbol not found'),
    hint: {
      message: 'a library in the image lacks a symbol the program needs: it was built for another libc or version',
      configPath: null,
      suggestion:
        'copy the libraries the program was linked with (glibc programs: /opt/occlum/glibc/lib; ' +
        'occlum-gcc programs: musl builds of every library), then rebuild',
    },
  },
];

/** Hints for a record (usually zero or one). */
export function hintsFor(r: LogRecord): LogHint[] {
  if (r.level === null) return PROGRAM_RULES.filter((rule) => rule.test(r, r.text)).map((rule) => rule.hint);
  if (r.level === 'info' || r.level === 'debug' || r.level === 'trace') {
    // brk growth is a WARN; everything else in the table is an error. Raw lines can still carry
    // an enclave's text when a program echoes it, so only Occlum's own records get hints.
    return [];
  }
  const out: LogHint[] = [];
  for (const rule of RULES) if (rule.test(r, r.text)) out.push(rule.hint);
  return out;
}

const PROGRAM_HINTS = new Set(PROGRAM_RULES.map((rule) => rule.hint));

/**
 * Hints from Occlum's own records before those guessed from a program's words: a program's
 * `pthread_create … Resource temporarily unavailable` next to the run's `Out of TCS` is about
 * the threads, which the record says for sure (order otherwise kept).
 */
export function occlumHintsFirst(hints: LogHint[]): LogHint[] {
  return [...hints.filter((h) => !PROGRAM_HINTS.has(h)), ...hints.filter((h) => PROGRAM_HINTS.has(h))];
}

/** Hints of every record in a text (a program's terminal output, runtime records), once each. */
export function hintsForText(text: string): LogHint[] {
  const out: LogHint[] = [];
  for (const r of parseLog(text)) for (const h of hintsFor(r)) if (!out.includes(h)) out.push(h);
  return occlumHintsFirst(out);
}

/**
 * The hints of an output read chunk by chunk (a program's, with Occlum's records mixed in), line
 * by line, so that a message early in a long output is not lost to a tail buffer.
 */
export class OutputHints {
  private partial = '';
  readonly hints: LogHint[] = [];

  push(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!.slice(-4096);
    for (const line of lines) this.scan(line);
  }

  /** The last line, when the output did not end with a newline. */
  end(): LogHint[] {
    if (this.partial) this.scan(this.partial);
    this.partial = '';
    return occlumHintsFirst(this.hints);
  }

  private scan(line: string): void {
    for (const h of hintsForText(line)) if (!this.hints.includes(h)) this.hints.push(h);
  }
}
