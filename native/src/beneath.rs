//! Writing below a directory that others may change meanwhile (extract's destination). Every path
//! is walked from a directory file descriptor, one component at a time, with
//! openat(O_DIRECTORY | O_NOFOLLOW): a component swapped for a symlink (or anything but a
//! directory) stops the walk with an error, and what is created is created in the directory that
//! was opened, whatever is renamed afterwards. So no race can redirect a write outside it. The
//! caller holds the destination's descriptor (opened once, at the start).

use crate::error::{err, Error, Kind, Result};
use crate::safe_file::{ELOOP, ENOTDIR, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK};
use std::ffi::{c_char, c_int, CString};

extern "C" {
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: u32) -> c_int;
    fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int;
    fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn fchmod(fd: c_int, mode: u32) -> c_int;
    fn fchown(fd: c_int, uid: u32, gid: u32) -> c_int;
    fn futimens(fd: c_int, times: *const Timespec) -> c_int;
    fn renameat(olddirfd: c_int, old: *const c_char, newdirfd: c_int, new: *const c_char) -> c_int;
    fn close(fd: c_int) -> c_int;
}

#[repr(C)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

const O_RDONLY: c_int = 0;
const O_WRONLY: c_int = 1;
const O_CREAT: c_int = 0o100;
const O_EXCL: c_int = 0o200;
const O_CLOEXEC: c_int = 0o2000000;
const EEXIST: i32 = 17;

/// An owned descriptor, closed on drop.
struct Fd(c_int);
impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            unsafe { close(self.0) };
        }
    }
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(Kind::Usage, format!("{:?}: a path with a NUL byte", s)))
}

fn os_err(what: &str) -> Error {
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(ELOOP) | Some(ENOTDIR) => Error::new(
            Kind::Format,
            format!("{}: is a symbolic link or not a directory any more (was it replaced meanwhile?); nothing is written through it", what),
        ),
        Some(EEXIST) => Error::new(Kind::Usage, format!("{}: already exists; extract does not overwrite", what)),
        _ => Error::io(e, what),
    }
}

/// The components of a relative path; refuses anything that could leave the directory.
fn components(rel: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = rel.split('/').collect();
    if rel.is_empty() || parts.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
        return err(
            Kind::Usage,
            format!("{:?}: not a plain relative path (empty, '.' or '..' components)", rel),
        );
    }
    Ok(parts)
}

/// Opens the directory `parts` below `base` (each component without following links).
fn open_dir(base: c_int, parts: &[&str]) -> Result<Fd> {
    let mut cur = Fd(-1);
    for (i, p) in parts.iter().enumerate() {
        let at = if i == 0 { base } else { cur.0 };
        let c = cstr(p)?;
        let fd = unsafe { openat(at, c.as_ptr(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) };
        if fd < 0 {
            return Err(os_err(&parts[..=i].join("/")));
        }
        cur = Fd(fd);
    }
    Ok(cur)
}

/// Opens directory `rel` below `base` without following any link (for reading: the bom copy's
/// state check); the descriptor is the caller's.
pub fn open_dir_fd(base: c_int, rel: &str) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut d = open_dir(base, &components(rel)?)?;
    let fd = std::mem::replace(&mut d.0, -1);
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// A read's error: a link or non-directory on the way is named as such (nothing is read through it).
fn read_err(rel: &str, e: Error) -> Error {
    match e.kind {
        Kind::Format => Error::new(
            Kind::Format,
            format!(
                "{}: a symbolic link or not a directory on the way (replaced meanwhile?); nothing is read through it",
                rel
            ),
        ),
        _ => e,
    }
}

/// Opens directory `rel` below `base` for reading its entries (the run layer's view: a program
/// may swap an ancestor for a link meanwhile); the descriptor is the caller's to close.
pub fn open_dir_read(base: c_int, rel: &str) -> Result<c_int> {
    use std::os::fd::IntoRawFd;
    open_dir_fd(base, rel)
        .map(|fd| fd.into_raw_fd())
        .map_err(|e| read_err(rel, e))
}

/// Opens file `rel` below `base` for reading: no link followed on the way or at the end, no
/// blocking on a FIFO. The caller checks with fstat that it is a regular file and closes it.
pub fn open_read(base: c_int, rel: &str) -> Result<c_int> {
    in_parent(base, rel, |dir, name| {
        let fd = unsafe { openat(dir, name.as_ptr(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) };
        if fd < 0 {
            return Err(os_err(rel));
        }
        Ok(fd)
    })
    .map_err(|e| read_err(rel, e))
}

/// Runs `f(parent dirfd, last component)` for `rel` below `base`.
fn in_parent<T>(base: c_int, rel: &str, f: impl FnOnce(c_int, &CString) -> Result<T>) -> Result<T> {
    let parts = components(rel)?;
    let (last, dirs) = parts.split_last().unwrap();
    let parent = if dirs.is_empty() {
        None
    } else {
        Some(open_dir(base, dirs)?)
    };
    f(parent.as_ref().map_or(base, |p| p.0), &cstr(last)?)
}

/// Creates directory `rel` (mode 0700 until chmod_dir) unless it exists as a directory.
pub fn mkdir(base: c_int, rel: &str) -> Result<()> {
    in_parent(base, rel, |dir, name| {
        if unsafe { mkdirat(dir, name.as_ptr(), 0o700) } == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(EEXIST) {
            return Err(os_err(rel));
        }
        // It exists: fine if it is a directory (not a link to one).
        let fd = unsafe { openat(dir, name.as_ptr(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) };
        if fd < 0 {
            return err(Kind::Usage, format!("{}: exists and is not a directory", rel));
        }
        drop(Fd(fd));
        Ok(())
    })
}

/// Creates each directory of `rels` (parents listed before their children) that is not one
/// already, setting `mode` on those it creates (each made 0700 until then). A directory made or
/// opened here is held open for its children: a tree of 200 directories is not walked 200 times.
/// Returns the failures by index.
pub fn mkdirs(base: c_int, rels: &[String], mode: u32) -> Vec<(usize, String)> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    /// Open directories kept at most (the descriptor limit is the process's, shared).
    const HELD: usize = 256;
    let mut held: std::collections::HashMap<String, OwnedFd> = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for (i, rel) in rels.iter().enumerate() {
        let made = (|| -> Result<OwnedFd> {
            let parts = components(rel)?;
            let (last, dirs) = parts.split_last().unwrap();
            let parent_rel = dirs.join("/");
            if !parent_rel.is_empty() && !held.contains_key(&parent_rel) {
                if held.len() >= HELD {
                    held.clear();
                }
                let fd = open_dir_fd(base, &parent_rel)?;
                held.insert(parent_rel.clone(), fd);
            }
            let dir = held.get(&parent_rel).map_or(base, |f| f.as_raw_fd());
            let name = cstr(last)?;
            let created = unsafe { mkdirat(dir, name.as_ptr(), 0o700) } == 0;
            if !created && std::io::Error::last_os_error().raw_os_error() != Some(EEXIST) {
                return Err(os_err(rel));
            }
            // Opened without following a link: an existing link or file is not a directory.
            let fd = unsafe { openat(dir, name.as_ptr(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) };
            if fd < 0 {
                return err(Kind::Usage, format!("{}: exists and is not a directory", rel));
            }
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if created && unsafe { fchmod(fd.as_raw_fd(), mode & 0o7777) } != 0 {
                return Err(os_err(rel));
            }
            Ok(fd)
        })();
        match made {
            Ok(fd) => {
                if held.len() >= HELD {
                    held.clear();
                }
                held.insert(rel.clone(), fd);
            }
            Err(e) => errors.push((i, e.to_string())),
        }
    }
    errors
}

/// Creates file `rel` exclusively (never through a link) for writing; returns its descriptor,
/// which the caller owns and closes.
pub fn create(base: c_int, rel: &str, mode: u32) -> Result<c_int> {
    in_parent(base, rel, |dir, name| create_at(dir, name, mode, rel))
}

/// Opens the directory that holds `rel` below `base` (None: `base` itself) and returns it with
/// `rel`'s last component, for the `*_in` calls: files of one directory then walk it once.
pub fn open_parent(base: c_int, rel: &str) -> Result<(Option<std::os::fd::OwnedFd>, String)> {
    let parts = components(rel)?;
    let (last, dirs) = parts.split_last().unwrap();
    let dir = if dirs.is_empty() {
        None
    } else {
        Some(open_dir_fd(base, &dirs.join("/"))?)
    };
    Ok((dir, last.to_string()))
}

/// `create` of `name` in an opened directory (`shown` names it in errors).
pub fn create_in(dir: c_int, name: &str, mode: u32, shown: &str) -> Result<c_int> {
    create_at(dir, &cstr(name)?, mode, shown)
}

fn create_at(dir: c_int, name: &CString, mode: u32, shown: &str) -> Result<c_int> {
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    let fd = unsafe { openat(dir, name.as_ptr(), flags, mode as std::ffi::c_uint) };
    if fd < 0 {
        return Err(os_err(shown));
    }
    Ok(fd)
}

/// Renames `from` to `to` inside an opened directory (`shown` names the target in errors).
pub fn rename_in(dir: c_int, from: &str, to: &str, shown: &str) -> Result<()> {
    let (from, to) = (cstr(from)?, cstr(to)?);
    if unsafe { renameat(dir, from.as_ptr(), dir, to.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(os_err(shown))
    }
}

/// Removes `name` from an opened directory.
pub fn unlink_in(dir: c_int, name: &str) -> Result<()> {
    let c = cstr(name)?;
    if unsafe { unlinkat(dir, c.as_ptr(), 0) } == 0 {
        Ok(())
    } else {
        Err(os_err(name))
    }
}

pub fn symlink(base: c_int, rel: &str, target: &str) -> Result<()> {
    let t = cstr(target)?;
    in_parent(base, rel, |dir, name| {
        if unsafe { symlinkat(t.as_ptr(), dir, name.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(os_err(rel))
        }
    })
}

pub fn unlink(base: c_int, rel: &str) -> Result<()> {
    in_parent(base, rel, |dir, name| {
        if unsafe { unlinkat(dir, name.as_ptr(), 0) } == 0 {
            Ok(())
        } else {
            Err(os_err(rel))
        }
    })
}

/// Sets the mode of directory `rel` (opened without following links).
pub fn chmod_dir(base: c_int, rel: &str, mode: u32) -> Result<()> {
    let d = open_dir(base, &components(rel)?)?;
    if unsafe { fchmod(d.0, mode & 0o7777) } != 0 {
        return Err(os_err(rel));
    }
    Ok(())
}

/// Sets the mode of file `rel`, opened without following a link at the end (or blocking on a FIFO).
pub fn chmod_file(base: c_int, rel: &str, mode: u32) -> Result<()> {
    in_parent(base, rel, |dir, name| {
        let fd = unsafe { openat(dir, name.as_ptr(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) };
        if fd < 0 {
            return Err(os_err(rel));
        }
        let f = Fd(fd);
        if unsafe { fchmod(f.0, mode & 0o7777) } != 0 {
            return Err(os_err(rel));
        }
        Ok(())
    })
}

/// Owner (when `owner` is given), mode and times of directory `rel` (or of `base` itself when
/// `rel` is empty), set on the opened directory: a directory swapped for a link is refused.
pub fn set_dir_attrs(base: c_int, rel: &str, owner: Option<(u32, u32)>, mode: u32, times: [Timespec; 2]) -> Result<()> {
    let d = if rel.is_empty() {
        None
    } else {
        Some(open_dir(base, &components(rel)?)?)
    };
    let fd = d.as_ref().map_or(base, |d| d.0);
    let shown = if rel.is_empty() { "." } else { rel };
    if let Some((uid, gid)) = owner {
        if unsafe { fchown(fd, uid, gid) } != 0 {
            return Err(os_err(shown));
        }
    }
    if unsafe { fchmod(fd, mode & 0o7777) } != 0 || unsafe { futimens(fd, times.as_ptr()) } != 0 {
        return Err(os_err(shown));
    }
    Ok(())
}
