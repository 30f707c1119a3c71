//! The one way the engine opens a file of an image or instance for reading. Such a file may be
//! hostile: a FIFO would block the open (and with it a Node thread) forever, /dev/zero or a symlink
//! to it would be read until memory runs out. So the open never blocks (O_NONBLOCK), never follows
//! a symlink in the last component (O_NOFOLLOW), and what it opened must be a regular file (fstat)
//! before a byte is read; whole reads are bounded.

use crate::error::{err, Error, Kind, Result};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

// Linux open(2) flags (asm-generic values differ from x86's for O_NOFOLLOW and O_DIRECTORY).
pub const O_NONBLOCK: i32 = 0o4000;
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub const O_NOFOLLOW: i32 = 0o400000;
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
pub const O_NOFOLLOW: i32 = 0o100000;
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub const O_DIRECTORY: i32 = 0o200000;
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
pub const O_DIRECTORY: i32 = 0o40000;
pub const ELOOP: i32 = 40;
pub const EAGAIN: i32 = 11;
pub const EINTR: i32 = 4;
pub const ENOENT: i32 = 2;
pub const ENOTDIR: i32 = 20;

/// What the fix is when an image file is not what it should be.
const FIX: &str = "remove it and rebuild the image (occlum-studio build, or fs pack)";

/// The name of a non-regular file type, for messages.
pub fn kind_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file (not a link, FIFO, device, socket or
/// directory); `role` says what the file is for the message ("the image's metadata").
pub fn open_regular(path: &Path, role: &str) -> Result<File> {
    let shown = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK | O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(ELOOP) {
                if let Some(note) = crate::checkout::link_note(path) {
                    return Error::new(Kind::Missing, format!("{}: {} is {}", shown, role, note));
                }
                Error::new(
                    Kind::Format,
                    format!(
                        "{}: {} is a symbolic link; image files are never links: {}",
                        shown, role, FIX
                    ),
                )
            } else {
                Error::io(e, &shown.to_string())
            }
        })?;
    let ft = f.metadata().map_err(|e| Error::io(e, &shown.to_string()))?.file_type();
    if !ft.is_file() {
        return err(
            Kind::Format,
            format!("{}: {} is {}, not a regular file: {}", shown, role, kind_name(&ft), FIX),
        );
    }
    Ok(f)
}

/// The whole content of a regular file of at most `max` bytes (see open_regular).
pub fn read_regular(path: &Path, role: &str, max: u64) -> Result<Vec<u8>> {
    let f = open_regular(path, role)?;
    let len = f
        .metadata()
        .map_err(|e| Error::io(e, &path.display().to_string()))?
        .len();
    let too_big = |n: u64| {
        Error::new(
            Kind::Format,
            format!(
                "{}: {} is {} bytes, more than the {} it can be: {}",
                path.display(),
                role,
                n,
                max,
                FIX
            ),
        )
    };
    if len > max {
        return Err(too_big(len));
    }
    let mut out = Vec::with_capacity(len as usize);
    // `take`: the file may grow while it is read.
    f.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(e, &path.display().to_string()))?;
    if out.len() as u64 > max {
        return Err(too_big(out.len() as u64));
    }
    Ok(out)
}

/// A small text file of the image (a MAC, a journal, the pack state); None when absent or not a
/// regular file of at most `max` bytes (callers treat it as missing).
pub fn read_text(path: &Path, max: u64) -> Option<String> {
    String::from_utf8(read_regular(path, "", max).ok()?).ok()
}

/// Checks that `fd`, opened by a path of a source tree, is the entry at `expected` (the tree's
/// real path joined with the entry's path in it): a directory of the tree swapped for a symbolic
/// link while it is read (a program writing image/ through its `/host` view while the dev loop
/// builds) makes the open reach a file elsewhere, whose path the kernel then reports instead.
pub fn check_reached(fd: std::os::fd::RawFd, shown: &Path, expected: &Path) -> Result<()> {
    let at = std::fs::read_link(format!("/proc/self/fd/{}", fd)).map_err(|e| Error::io(e, "/proc/self/fd"))?;
    if at == expected {
        return Ok(());
    }
    err(
        Kind::Format,
        format!(
            "{}: reached through a symbolic link (a directory on the way was replaced while the source was read); \
             nothing is read through it: build again once the source stays still",
            shown.display()
        ),
    )
}

/// The real path of a source tree's root, for `check_reached`.
pub fn real_root(root: &Path) -> Result<std::path::PathBuf> {
    std::fs::canonicalize(root).map_err(|e| Error::io(e, &root.display().to_string()))
}

/// `expected` for an entry at image path `path` ("/a/b", or "/") below `real_root`.
pub fn below(real_root: &Path, path: &str) -> std::path::PathBuf {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        real_root.to_path_buf()
    } else {
        real_root.join(rel)
    }
}
