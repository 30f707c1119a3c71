//! The go channel of a sandbox prepared in a terminal (docs/dev-loop.md, "Prepared sandbox"): the
//! Run pane starts the stager in the tab's pty (node-pty), so its stdin is the terminal and the
//! go comes on a pipe of its own. Node cannot make a bare pipe, hence this. The read end is made
//! inheritable for the pty spawn that follows in the same synchronous step (node-pty forks and
//! execs without closing descriptors); the caller closes its copy right after. The write end
//! stays close-on-exec: only this process can send the go, and its death is end of file.
//!
//! Also `cloexec`: node-pty leaves each terminal's master descriptor inheritable, so every later
//! child (another tab's sandbox launch included) would get it and could read and type into that
//! tab; the studio marks each one close-on-exec right after the spawn.

use crate::error::{Error, Result};
use std::ffi::c_int;

extern "C" {
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
}

const O_CLOEXEC: c_int = 0o2000000;
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;

/// (read end, inheritable; write end, close-on-exec).
pub fn go_pipe() -> Result<(i32, i32)> {
    let mut fds = [0 as c_int; 2];
    if unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        return Err(Error::io(std::io::Error::last_os_error(), "cannot create the go pipe"));
    }
    if unsafe { fcntl(fds[0], F_SETFD, 0 as c_int) } != 0 {
        let e = std::io::Error::last_os_error();
        unsafe {
            close(fds[0]);
            close(fds[1]);
        }
        return Err(Error::io(e, "cannot pass the go pipe"));
    }
    Ok((fds[0], fds[1]))
}

/// Marks `fd` close-on-exec.
pub fn cloexec(fd: i32) -> Result<()> {
    if unsafe { fcntl(fd, F_SETFD, FD_CLOEXEC) } != 0 {
        return Err(Error::io(
            std::io::Error::last_os_error(),
            "cannot mark a descriptor close-on-exec",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const F_GETFD: c_int = 1;

    #[test]
    fn read_end_inheritable_write_end_not_and_cloexec_marks() {
        let (r, w) = go_pipe().unwrap();
        assert_eq!(
            unsafe { fcntl(r, F_GETFD) } & FD_CLOEXEC,
            0,
            "the read end goes to the pty spawn"
        );
        assert_eq!(
            unsafe { fcntl(w, F_GETFD) } & FD_CLOEXEC,
            FD_CLOEXEC,
            "the write end stays here"
        );
        cloexec(r).unwrap();
        assert_eq!(unsafe { fcntl(r, F_GETFD) } & FD_CLOEXEC, FD_CLOEXEC);
        unsafe {
            close(r);
            close(w);
        }
    }
}
