//! File system calls of the commit: plain and atomic writes, the directory swap, the destination lock.

use super::*;

pub(super) fn sibling(out_root: &Path, suffix: &str) -> PathBuf {
    let mut p = out_root.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

pub(super) fn write_atomic(path: &Path, data: &[u8], fsync: bool) -> Result<()> {
    let tmp = sibling(path, &format!(".tmp-{}", std::process::id()));
    write_file(&tmp, data, fsync)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(e, &path.display().to_string()))
}

extern "C" {
    fn renameat2(
        olddirfd: i32,
        oldpath: *const std::os::raw::c_char,
        newdirfd: i32,
        newpath: *const std::os::raw::c_char,
        flags: u32,
    ) -> i32;
}
pub(super) const AT_FDCWD: i32 = -100;
pub(super) const RENAME_EXCHANGE: u32 = 2;

pub(super) fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    let r = unsafe { renameat2(AT_FDCWD, ca.as_ptr(), AT_FDCWD, cb.as_ptr(), RENAME_EXCHANGE) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Write `path` whole; returns the identity the file was left with (see `OutId`).
pub(super) fn write_file(path: &Path, data: &[u8], fsync: bool) -> Result<OutId> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(e, &path.display().to_string()))?;
    f.write_all(data)
        .map_err(|e| Error::io(e, &path.display().to_string()))?;
    if fsync {
        f.sync_all().map_err(|e| Error::io(e, &path.display().to_string()))?;
    }
    let m = f.metadata().map_err(|e| Error::io(e, &path.display().to_string()))?;
    Ok(OutId::of(&m))
}

extern "C" {
    fn flock(fd: i32, op: i32) -> i32;
}
pub(super) const LOCK_EX: i32 = 2;

/// Packs into one outRoot wait for each other, across threads and processes: an exclusive flock on
/// `<outRoot>.lock` (kept between packs; released when the returned file is dropped).
pub(super) fn lock_destination(out_root: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    if let Some(parent) = out_root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(e, &parent.display().to_string()))?;
    }
    let path = sibling(out_root, ".lock");
    let shown = path.display().to_string();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(e, &shown))?;
    while unsafe { flock(f.as_raw_fd(), LOCK_EX) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io(e, &shown));
        }
    }
    Ok(f)
}
