//! Whether a file is still open for writing by some process, through a read lease: Linux grants
//! a read lease (fcntl F_SETLEASE F_RDLCK) only on a regular file that no process has open for
//! writing. The dev loop's watcher asks this to release a change set as soon as the saved files
//! are closed instead of waiting out a fixed quiet time. The lease is dropped at once; a writer
//! opening the file meanwhile waits for that drop (microseconds). Its break notice is SIGURG
//! (ignored by default, unused by Node) instead of SIGIO, whose default action ends the process.

use crate::safe_file::{EAGAIN, ELOOP, ENOENT, O_NOFOLLOW, O_NONBLOCK};
use std::ffi::c_int;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

extern "C" {
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
}

const F_SETSIG: c_int = 10;
const F_SETLEASE: c_int = 1024;
const F_RDLCK: c_int = 0;
const F_UNLCK: c_int = 2;
const SIGURG: c_int = 23;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Writing {
    /// Some process has it open for writing (or mapped writable).
    Yes,
    /// Nobody writes it, or it is gone or a symlink (nothing to wait for).
    No,
    /// Cannot tell: not ours to lease (another user's file), not a regular file, a file system
    /// without leases.
    Unknown,
}

pub fn open_for_writing(path: &Path) -> Writing {
    match open_file(path) {
        Ok(f) => lease_probe(&f),
        Err(e) if matches!(e.raw_os_error(), Some(ENOENT) | Some(ELOOP)) => Writing::No,
        Err(_) => Writing::Unknown,
    }
}

fn open_file(path: &Path) -> std::io::Result<File> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(path)
}

/// A descriptor to probe `path` through again and again (None: cannot be opened).
pub fn open_for_probe(path: &Path) -> Option<File> {
    open_file(path).ok()
}

/// Whether the file open as `f` is open for writing (or mapped writable) by some process.
pub fn lease_probe(f: &File) -> Writing {
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Writing::Unknown;
    }
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor the caller owns; the lease ends before this returns.
    unsafe {
        if fcntl(fd, F_SETSIG, SIGURG) != 0 {
            return Writing::Unknown;
        }
        if fcntl(fd, F_SETLEASE, F_RDLCK) == 0 {
            fcntl(fd, F_SETLEASE, F_UNLCK);
            return Writing::No;
        }
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(EAGAIN) => Writing::Yes,
        _ => Writing::Unknown,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_open_for_writing_is_seen_until_closed() {
        let dir = std::env::temp_dir().join(format!("writers-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        let mut w = std::fs::File::create(&p).unwrap();
        w.write_all(b"half").unwrap();
        let open = open_for_writing(&p);
        drop(w);
        let closed = open_for_writing(&p);
        let gone = open_for_writing(&dir.join("missing"));
        let on_dir = open_for_writing(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        // Leases need the file's owner or CAP_LEASE; a test file is ours either way.
        assert_eq!(
            (open, closed, gone, on_dir),
            (Writing::Yes, Writing::No, Writing::No, Writing::Unknown)
        );
    }
}
