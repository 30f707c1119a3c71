//! The fork shim (docs/security.md, "Fork attempts"): bwrap's command in a host-backend run that
//! denies fork, executed as /proc/self/fd/11 so that no path of it exists in the image.
//!
//!   /proc/self/fd/11 PROGRAM [ARG]...
//!
//! It reads the fork filter (classic BPF) from fd 9 and installs it with
//! SECCOMP_FILTER_FLAG_NEW_LISTENER, sends the listener over the unix socket on fd 10 to the
//! studio's fork watch (src/fork_watch.rs), closes fds 9, 10, 11 and the listener, and executes
//! PROGRAM with the argv and environment it was given: the program starts with what bwrap would
//! have given it. Without the filter it refuses to run the program. It is linked statically
//! (the image has no host libc) and has no Rust runtime start-up (`no_main`): std would leave
//! SIGPIPE ignored, which the program would inherit.
#![no_main]

use occlum_studio_native::fork_watch::{send_fd, FILTER_FD, SHIM_FD, SOCKET_FD};
use std::os::raw::{c_char, c_int, c_long, c_ulong, c_void};

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn prctl(option: c_int, arg: c_ulong, ...) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn close(fd: c_int) -> c_int;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    fn strerror(errnum: c_int) -> *const c_char;
    fn strlen(s: *const c_char) -> usize;
    fn __errno_location() -> *mut c_int;
    fn _exit(code: c_int) -> !;
}

const SYS_SECCOMP: c_long = 317;
const SECCOMP_SET_MODE_FILTER: c_long = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: c_long = 1 << 3;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
/// BPF_MAXINSNS instructions of 8 bytes.
const MAX_FILTER: usize = 4096 * 8;

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

/// Raw writes only: the shim's own start-up cost is what every run pays, so it uses no std
/// formatting (the linker then drops most of std).
fn say(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: a write of a live slice to stderr.
        unsafe { write(2, p.as_ptr() as *const c_void, p.len()) };
    }
}

/// "occlum-studio: sandbox: WHAT[ DETAIL]: <errno text>", exit 127 (bwrap's exec failure status).
fn fail(what: &[u8], detail: &[u8]) -> ! {
    // SAFETY: errno and strerror's static string, read at once.
    let err = unsafe {
        let s = strerror(*__errno_location());
        std::slice::from_raw_parts(s as *const u8, strlen(s))
    };
    say(&[b"occlum-studio: sandbox: ", what, detail, b": ", err, b"\n"]);
    unsafe { _exit(127) }
}

/// The whole filter from fd 9 (a file the stager opened) into `buf`, then fd 9 closed.
fn read_filter(buf: &mut [u8; MAX_FILTER + 1]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unused tail of buf.
        let n = unsafe { read(FILTER_FD, buf[got..].as_mut_ptr() as *mut c_void, buf.len() - got) };
        if n < 0 {
            fail(b"cannot read the fork filter", b"");
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    unsafe { close(FILTER_FD) };
    if got == 0 || got > MAX_FILTER || got % 8 != 0 {
        say(&[b"occlum-studio: sandbox: the fork filter on fd 9 is malformed\n"]);
        unsafe { _exit(127) }
    }
    got
}

/// # Safety
/// Called by the C start-up with the process's argv and envp.
#[no_mangle]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    if argc < 2 {
        say(&[b"occlum-studio: sandbox: usage: occlum-studio-forkshim PROGRAM [ARG]...\n"]);
        return 127;
    }
    let mut buf = [0u8; MAX_FILTER + 1];
    let len = read_filter(&mut buf);
    let prog = SockFprog {
        len: (len / 8) as u16,
        filter: buf.as_ptr(),
    };
    if prctl(PR_SET_NO_NEW_PRIVS, 1, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong) != 0 {
        fail(b"cannot set no_new_privs", b"");
    }
    let listener = syscall(
        SYS_SECCOMP,
        SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_NEW_LISTENER,
        &prog as *const SockFprog,
    );
    if listener < 0 {
        fail(b"cannot install the fork filter", b"");
    }
    // Not sent (the studio went away): the listener closes below and the kernel fails every
    // fork with ENOSYS by itself; only the hint is lost.
    send_fd(SOCKET_FD, listener as c_int);
    close(listener as c_int);
    close(SOCKET_FD);
    close(SHIM_FD);
    // argv and envp come from the kernel, NULL-terminated, and are passed on unchanged.
    let program = *argv.add(1);
    execve(program, argv.add(1), envp);
    fail(b"cannot run ", std::ffi::CStr::from_ptr(program).to_bytes())
}
