//! The file copies of a bom copy (`occlum-studio bom copy`), done here rather than through Node's
//! fs calls: a Python-sized image is 20,000 files, and one thread-pool round trip per open, copy,
//! chmod, utimes and rename costs more than the copying. Each file is copied in the kernel
//! (copy_file_range through std::io::copy, as cp does), its mode and times (nanoseconds) and, as
//! root, its owner are set on the open descriptor, and a changed file is written to a temporary
//! name renamed over the old. Also the attributes and the ELF sniff of every file of a copied
//! directory.

use crate::beneath;
use crate::error::{Error, Kind, Result};
use crate::ops::js;
use crate::safe_file::O_NONBLOCK;
use std::fs::{File, FileTimes, OpenOptions, Permissions};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{fchown, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

extern "C" {
    fn geteuid() -> u32;
    fn getegid() -> u32;
}

/// Enough threads to overlap the waits of small files on a few cores, not a flood.
const THREADS: usize = 4;

/// Runs `f` over 0..n on a few threads; returns the (index, message) of every failure, in order.
fn for_each(n: usize, f: impl Fn(usize) -> std::result::Result<(), String> + Sync) -> Vec<(usize, String)> {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS.min(n) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Err(e) = f(i) {
                    errors.lock().unwrap_or_else(|p| p.into_inner()).push((i, e));
                }
            });
        }
    });
    let mut v = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    v.sort_by_key(|e| e.0);
    v
}

fn time(secs: i64, nsec: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nsec as u64)
    }
}

/// Opens for reading without blocking on a FIFO (no effect on a regular file).
fn open_nonblocking(path: &str) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path)
}

/// Copies `src` to `write_to` (then renamed to `dest` when they differ) with its mode, times and
/// (as root) owner. Both are relative to the root's descriptor and created below it one component
/// at a time without following links (beneath.rs): a directory of the root swapped for a symlink
/// while the copy runs stops that file with an error instead of redirecting it.
fn copy_one(root_fd: i32, src: &str, write_to: &str, dest: &str, root: bool, gid: u32) -> Result<()> {
    let io = |e: std::io::Error| Error::io(e, src);
    // A source swapped for a FIFO after the plan's checks must not block a copy thread.
    let mut from = open_nonblocking(src).map_err(io)?;
    let st = from.metadata().map_err(io)?;
    if !st.is_file() {
        return Err(Error::new(Kind::Usage, format!("{src}: not a regular file any more")));
    }
    // Exclusive: a new file's name was free when planned, a temporary name is new.
    let fd = beneath::create(root_fd, write_to, 0o600)?;
    let mut to = unsafe { File::from_raw_fd(fd) };
    let out = |e: std::io::Error| Error::io(e, write_to);
    let done = (|| {
        std::io::copy(&mut from.by_ref().take(st.len()), &mut to).map_err(out)?;
        if root && (st.uid() != 0 || st.gid() != gid) {
            fchown(&to, Some(st.uid()), Some(st.gid())).map_err(out)?;
        }
        // After the chown, which clears set-id bits.
        to.set_permissions(Permissions::from_mode(st.mode() & 0o7777))
            .map_err(out)?;
        to.set_times(
            FileTimes::new()
                .set_accessed(time(st.atime(), st.atime_nsec()))
                .set_modified(time(st.mtime(), st.mtime_nsec())),
        )
        .map_err(out)?;
        drop(to);
        if write_to != dest {
            beneath::rename_sibling(root_fd, write_to, dest)?;
        }
        Ok(())
    })();
    if done.is_err() && write_to != dest {
        let _ = beneath::unlink(root_fd, write_to);
    }
    done
}

/// `copyFiles`: arg 0 the root's directory descriptor, then triples (source, destination,
/// temporary name or "" to write in place), destinations relative to the root.
/// Returns `{"errors":[[index, message], ...]}` (index of the triple).
pub fn copy_files(a: &[String]) -> Result<String> {
    let root_fd: i32 = a
        .first()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::new(Kind::Usage, "copyFiles takes the root's descriptor first"))?;
    let jobs = &a[1..];
    if jobs.len() % 3 != 0 {
        return Err(Error::new(
            Kind::Usage,
            "copyFiles takes (source, destination, temporary) triples",
        ));
    }
    let (root, gid) = unsafe { (geteuid() == 0, getegid()) };
    let errors = for_each(jobs.len() / 3, |i| {
        let (src, dest, tmp) = (&jobs[3 * i], &jobs[3 * i + 1], &jobs[3 * i + 2]);
        let write_to = if tmp.is_empty() { dest } else { tmp };
        copy_one(root_fd, src, write_to, dest, root, gid).map_err(|e| e.to_string())
    });
    let items: Vec<String> = errors.iter().map(|(i, m)| format!("[{},{}]", i, js(m))).collect();
    Ok(format!("{{\"errors\":[{}]}}", items.join(",")))
}

/// `sniffElf`: for each path, '1' when the file starts with the ELF magic, else '0' (unreadable too).
pub fn sniff_elf(a: &[String]) -> Result<String> {
    let out: Vec<AtomicUsize> = (0..a.len()).map(|_| AtomicUsize::new(0)).collect();
    for_each(a.len(), |i| {
        let mut magic = [0u8; 4];
        let elf = open_nonblocking(&a[i])
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|_| magic == *b"\x7fELF");
        out[i].store(elf as usize, Ordering::Relaxed);
        Ok(())
    });
    Ok(out
        .iter()
        .map(|b| if b.load(Ordering::Relaxed) == 1 { '1' } else { '0' })
        .collect())
}

/// `statFiles`: lstat of each path as `[size, mode, uid, gid, ino, atime s, atime ns, mtime s,
/// mtime ns]`, or null when it fails (the walk lists the files; this reads their attributes).
pub fn stat_files(a: &[String]) -> Result<String> {
    let out: Vec<std::sync::OnceLock<String>> = (0..a.len()).map(|_| std::sync::OnceLock::new()).collect();
    for_each(a.len(), |i| {
        let text = match std::fs::symlink_metadata(&a[i]) {
            Ok(m) => format!(
                "[{},{},{},{},{},{},{},{},{}]",
                m.size(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.ino(),
                m.atime(),
                m.atime_nsec(),
                m.mtime(),
                m.mtime_nsec()
            ),
            Err(_) => "null".into(),
        };
        let _ = out[i].set(text);
        Ok(())
    });
    let items: Vec<&str> = out.iter().map(|s| s.get().map_or("null", |s| s.as_str())).collect();
    Ok(format!("[{}]", items.join(",")))
}
