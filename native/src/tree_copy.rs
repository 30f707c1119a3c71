//! The file copies of a bom copy (`occlum-studio bom copy`), done here rather than through Node's
//! fs calls: a Python-sized image is 20,000 files, and one thread-pool round trip per open, copy,
//! chmod, utimes and rename costs more than the copying. Each file is copied in the kernel
//! (copy_file_range through std::io::copy, as cp does), its mode and times (nanoseconds) and, as
//! root, its owner are set on the open descriptor, and a changed file is written to a temporary
//! name renamed over the old. Also the attributes and the ELF sniff of every file of a copied
//! directory, and the host build's copy of image/ into its image layer, hashed as it is written.

use crate::beneath;
use crate::crypto::{hex, Sha256};
use crate::error::{Error, Kind, Result};
use crate::ops::js;
use crate::safe_file::{O_NOFOLLOW, O_NONBLOCK};
use std::collections::HashMap;
use std::fs::{File, FileTimes, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{fchown, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

extern "C" {
    fn geteuid() -> u32;
    fn getegid() -> u32;
    fn copy_file_range(fd_in: i32, off_in: *mut i64, fd_out: i32, off_out: *mut i64, len: usize, flags: u32) -> isize;
}

/// Four threads on two cores: small files wait on the disk and the journal, and on a shared
/// machine more threads keep the copy's share of the cores (two measured 1.3–2.5x slower).
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

/// `len` bytes from `from` to `to` in the kernel: one copy_file_range for a whole file (std's
/// io::copy adds two fstat and a final call that returns 0 per file), read/write where the
/// file system cannot (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP).
fn copy_content(from: &mut File, to: &mut File, len: u64) -> std::io::Result<()> {
    let mut left = len;
    while left > 0 {
        let chunk = left.min(1 << 30) as usize;
        let n = unsafe {
            copy_file_range(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                chunk,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(18 | 22 | 38 | 95) => std::io::copy(&mut Read::by_ref(from).take(left), to).map(|_| ()),
                Some(4) => continue, // EINTR
                _ => Err(e),
            };
        }
        if n == 0 {
            break; // the file shrank since its fstat: what is there is copied
        }
        left -= n as u64;
    }
    Ok(())
}

/// Where one file goes: its directory (opened once for all its files) and names in it.
struct Dest<'a> {
    dir: i32,
    /// Whether its mode needs an fchmod after the create (the directory has a default ACL).
    acl: bool,
    name: &'a str,
    /// A temporary name in the same directory, renamed over `name` once complete.
    tmp: Option<&'a str>,
    /// The path below the root, for messages.
    shown: &'a str,
}

/// Copies `src` to its destination with its mode, times and (as root) owner. The destination's
/// directory was opened below the root one component at a time without following links
/// (beneath.rs): a directory of the root swapped for a symlink meanwhile stops that file with an
/// error instead of redirecting it.
fn copy_one(src: &str, d: &Dest, who: &Process) -> Result<String> {
    let io = |e: std::io::Error| Error::io(e, src);
    // A source swapped for a FIFO after the plan's checks must not block a copy thread.
    let mut from = open_nonblocking(src).map_err(io)?;
    let st = from.metadata().map_err(io)?;
    if !st.is_file() {
        return Err(Error::new(Kind::Usage, format!("{src}: not a regular file any more")));
    }
    let mode = st.mode() & 0o7777;
    let write_to = d.tmp.unwrap_or(d.name);
    // Exclusive: a new file's name was free when planned, a temporary name is new. Created with
    // its permission bits: no fchmod where the umask lets them all through (a system call per file).
    let fd = beneath::create_in(d.dir, write_to, mode & 0o777, d.shown)?;
    let mut to = unsafe { File::from_raw_fd(fd) };
    let out = |e: std::io::Error| Error::io(e, d.shown);
    let done = (|| {
        copy_content(&mut from, &mut to, st.len()).map_err(out)?;
        let chown = who.root && (st.uid() != 0 || st.gid() != who.gid);
        if chown {
            fchown(&to, Some(st.uid()), Some(st.gid())).map_err(out)?;
        }
        // After the chown, which clears set-id bits.
        if chown || d.acl || mode & 0o7000 != 0 || who.umask.is_none_or(|u| mode & u != 0) {
            to.set_permissions(Permissions::from_mode(mode)).map_err(out)?;
        }
        to.set_times(
            FileTimes::new()
                .set_accessed(time(st.atime(), st.atime_nsec()))
                .set_modified(time(st.mtime(), st.mtime_nsec())),
        )
        .map_err(out)?;
        if let Some(tmp) = d.tmp {
            beneath::rename_in(d.dir, tmp, d.name, d.shown)?;
        }
        // After the rename, which changes the inode's ctime: its last change by this copy.
        Ok(crate::bom_state::written_identity(&to.metadata().map_err(out)?))
    })();
    if done.is_err() {
        let _ = beneath::unlink_in(d.dir, write_to);
    }
    done
}

/// A job's destination directory (below the root) and names in it.
#[derive(Clone)]
struct Placed<'a> {
    parent: &'a str,
    name: &'a str,
    tmp: Option<&'a str>,
}

/// Who copies: root copies owners; the umask decides which modes need an fchmod.
struct Process {
    root: bool,
    gid: u32,
    /// None when it cannot be read (then every file gets its fchmod).
    umask: Option<u32>,
}

/// This process's umask, read without changing it (umask(2) would, for every thread).
fn current_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// Whether a directory has a default ACL, which takes the umask's place for files created in it.
fn has_default_acl(dir: i32) -> bool {
    extern "C" {
        fn fgetxattr(fd: i32, name: *const std::ffi::c_char, value: *mut u8, size: usize) -> isize;
    }
    unsafe { fgetxattr(dir, c"system.posix_acl_default".as_ptr(), std::ptr::null_mut(), 0) >= 0 }
}

/// `copyFiles`: arg 0 the root's directory descriptor, then triples (source, destination,
/// temporary name in the destination's directory or "" to write in place), relative to the root.
/// Returns `{"errors":[[index, message], ...], "ids":[identity or null, ...]}` (by triple; the
/// identity of each copy as bom_state::written_identity gives it).
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
    let who = Process {
        root,
        gid,
        umask: current_umask(),
    };
    // Each destination directory opened once, before the threads (a Python-sized image is 20,000
    // files in a few hundred directories): one walk per directory instead of one per file.
    let mut dirs: HashMap<&str, std::result::Result<(Option<OwnedFd>, bool), String>> = HashMap::new();
    let mut dests: Vec<std::result::Result<Placed, String>> = Vec::new();
    for i in 0..jobs.len() / 3 {
        let (dest, tmp) = (jobs[3 * i + 1].as_str(), jobs[3 * i + 2].as_str());
        let (parent, name) = dest.rsplit_once('/').unwrap_or(("", dest));
        let tmp = match tmp {
            "" => None,
            t => match t.rsplit_once('/').unwrap_or(("", t)) {
                (p, n) if p == parent => Some(n),
                _ => {
                    dests.push(Err(format!("{t}: a temporary name must be in {dest}'s directory")));
                    continue;
                }
            },
        };
        dirs.entry(parent).or_insert_with(|| {
            let dir = if parent.is_empty() {
                None
            } else {
                Some(beneath::open_dir_fd(root_fd, parent).map_err(|e| e.to_string())?)
            };
            let acl = has_default_acl(dir.as_ref().map_or(root_fd, |d| d.as_raw_fd()));
            Ok((dir, acl))
        });
        dests.push(Ok(Placed { parent, name, tmp }));
    }
    let ids: Vec<std::sync::OnceLock<String>> = (0..dests.len()).map(|_| std::sync::OnceLock::new()).collect();
    let errors = for_each(dests.len(), |i| {
        let Placed { parent, name, tmp } = dests[i].clone()?;
        let (dir, acl) = dirs[parent].as_ref().map_err(|e| e.clone())?;
        let d = Dest {
            dir: dir.as_ref().map_or(root_fd, |d| d.as_raw_fd()),
            acl: *acl,
            name,
            tmp,
            shown: &jobs[3 * i + 1],
        };
        let id = copy_one(&jobs[3 * i], &d, &who).map_err(|e| e.to_string())?;
        let _ = ids[i].set(id);
        Ok(())
    });
    let items: Vec<String> = errors.iter().map(|(i, m)| format!("[{},{}]", i, js(m))).collect();
    let ids: Vec<String> = ids
        .iter()
        .map(|s| s.get().map_or("null".into(), |s| format!("\"{s}\"")))
        .collect();
    Ok(format!(
        "{{\"errors\":[{}],\"ids\":[{}]}}",
        items.join(","),
        ids.join(",")
    ))
}

/// `sniffElf`: for each path, '1' when the file starts with the ELF magic, else '0' (unreadable too).
pub fn sniff_elf(a: &[String]) -> Result<String> {
    let out: Vec<AtomicUsize> = (0..a.len()).map(|_| AtomicUsize::new(0)).collect();
    for_each(a.len(), |i| {
        out[i].store(is_elf(&a[i]) as usize, Ordering::Relaxed);
        Ok(())
    });
    Ok(out
        .iter()
        .map(|b| if b.load(Ordering::Relaxed) == 1 { '1' } else { '0' })
        .collect())
}

/// Whether an opened file starts with the ELF magic (a short or unreadable one does not).
fn is_elf(path: &str) -> bool {
    let mut magic = [0u8; 4];
    open_nonblocking(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| magic == *b"\x7fELF")
}

/// `statFiles`: lstat of each path as `[size, mode, uid, gid, ino, atime s, atime ns, mtime s,
/// mtime ns, "identity"]` (the identity a bom copy's state records, bom_state.rs), or null when
/// it fails (the walk lists the files; this reads their attributes).
pub fn stat_files(a: &[String]) -> Result<String> {
    stat_batch(a, false)
}

/// `scanFiles`: as `statFiles`, each row with a last field: 1 when the file is an ELF file
/// (regular, at least an ELF header long, the magic), else 0 — one pass for the bom copy's walk.
pub fn scan_files(a: &[String]) -> Result<String> {
    stat_batch(a, true)
}

/// A source changed this recently (ms) may change again within the same timestamp (state-copy.ts).
const SRC_RACY_MS: i128 = 1000;

fn stat_batch(a: &[String], elf: bool) -> Result<String> {
    let out: Vec<std::sync::OnceLock<String>> = (0..a.len()).map(|_| std::sync::OnceLock::new()).collect();
    for_each(a.len(), |i| {
        let text = match std::fs::symlink_metadata(&a[i]) {
            Ok(m) => {
                let sniff = if elf {
                    // Shorter than an ELF header: not a program or library.
                    let e = m.is_file() && m.size() >= 64 && is_elf(&a[i]);
                    if e {
                        ",1"
                    } else {
                        ",0"
                    }
                } else {
                    ""
                };
                format!(
                    "[{},{},{},{},{},{},{},{},{},\"{}\"{}]",
                    m.size(),
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.ino(),
                    m.atime(),
                    m.atime_nsec(),
                    m.mtime(),
                    m.mtime_nsec(),
                    crate::bom_state::identity_of(&m, SRC_RACY_MS),
                    sniff
                )
            }
            Err(_) => "null".into(),
        };
        let _ = out[i].set(text);
        Ok(())
    });
    let items: Vec<&str> = out.iter().map(|s| s.get().map_or("null", |s| s.as_str())).collect();
    Ok(format!("[{}]", items.join(",")))
}

/// What `copy_hash_one` wrote: mode, size, SHA-256, and the stat-cache key (inode, ctime in ns)
/// as the file was left, so the build needs no second walk of the layer for its stat cache.
struct Copied {
    mode: u32,
    size: u64,
    sha: [u8; 32],
    ino: u64,
    ctime_ns: i128,
}

/// Reads `src` (not through a symlink, on the way or at the end: it must be `expected`, see
/// safe_file::check_reached) into a new file `dest` with permission bits `mode`, hashing what it
/// writes: one read of the content where a copy followed by a hash reads it twice.
fn copy_hash_one(src: &str, expected: &std::path::Path, dest: &str, mode: u32) -> std::io::Result<Copied> {
    let mut from = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(src)
        .map_err(|e| {
            if e.raw_os_error() == Some(crate::safe_file::ELOOP) {
                // The walk saw a regular file: a link swapped in since (see check_reached).
                std::io::Error::other(format!("{}: reached through a symbolic link", src))
            } else {
                e
            }
        })?;
    crate::safe_file::check_reached(from.as_raw_fd(), std::path::Path::new(src), expected)
        .map_err(|e| std::io::Error::other(e.msg))?;
    let st = from.metadata()?;
    if !st.is_file() {
        return Err(std::io::Error::other("not a regular file any more"));
    }
    // The whole of a small file in one read, at most 256 KiB.
    let mut buf = vec![0u8; (st.len() as usize).saturating_add(1).clamp(4096, 256 << 10)];
    // With its permission bits where the umask lets them through (no chmod after, see below).
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .open(dest)?;
    let done = write_hashed(&mut from, &mut to, st.len(), mode, &mut buf);
    if done.is_err() {
        let _ = std::fs::remove_file(dest); // created above: not someone else's
    }
    done
}

/// Two system calls fewer per file than read-to-0 and chmod (of about ten): a Python-sized image
/// is 20,000 files, and a system call is dear in this VM.
fn write_hashed(from: &mut File, to: &mut File, len: u64, mode: u32, buf: &mut [u8]) -> std::io::Result<Copied> {
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
        // A read shorter than asked that reaches the size the file had at open ended at its end:
        // no read to see 0 (a file system that reads short before the end has not reached it).
        if n < buf.len() && total >= len {
            break;
        }
    }
    // The last change of the inode (the last write, or this chmod where the umask or set-id
    // bits kept the mode from the create): its ctime is the one the stat cache records.
    let mut st = to.metadata()?;
    if st.mode() & 0o7777 != mode & 0o7777 {
        to.set_permissions(Permissions::from_mode(mode & 0o7777))?;
        st = to.metadata()?;
    }
    Ok(Copied {
        mode: st.mode() & 0o7777,
        size: st.len(),
        sha: h.finish(),
        ino: st.ino(),
        ctime_ns: i128::from(st.ctime()) * 1_000_000_000 + i128::from(st.ctime_nsec()),
    })
}

/// `copyHashFiles`: args are the sources' root, then triples (source below it, new destination,
/// permission bits in decimal); the host build's image layer. Returns `{"files":[[mode, size, "sha256 hex", "inode:ctime-ns"] or
/// null, ...], "errors":[[index, message], ...]}`; a failed file leaves nothing at its destination.
pub fn copy_hash_files(a: &[String]) -> Result<String> {
    if a.is_empty() || (a.len() - 1) % 3 != 0 {
        return Err(Error::new(
            Kind::Usage,
            "copyHashFiles takes the sources' root, then (source, destination, mode) triples",
        ));
    }
    let root = std::path::Path::new(&a[0]);
    let real = crate::safe_file::real_root(root)?;
    let a = &a[1..];
    let out: Vec<std::sync::OnceLock<String>> = (0..a.len() / 3).map(|_| std::sync::OnceLock::new()).collect();
    let errors = for_each(a.len() / 3, |i| {
        let (src, dest) = (&a[3 * i], &a[3 * i + 1]);
        let mode: u32 = a[3 * i + 2]
            .parse()
            .map_err(|_| format!("bad mode {:?}", a[3 * i + 2]))?;
        let rel = std::path::Path::new(src)
            .strip_prefix(root)
            .map_err(|_| format!("{:?} is not below {:?}", src, root))?;
        match copy_hash_one(src, &real.join(rel), dest, mode) {
            Ok(c) => {
                let _ = out[i].set(format!(
                    "[{},{},\"{}\",\"{}:{}\"]",
                    c.mode,
                    c.size,
                    hex(&c.sha),
                    c.ino,
                    c.ctime_ns
                ));
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    });
    let files: Vec<&str> = out.iter().map(|s| s.get().map_or("null", |s| s.as_str())).collect();
    let items: Vec<String> = errors.iter().map(|(i, m)| format!("[{},{}]", i, js(m))).collect();
    Ok(format!(
        "{{\"files\":[{}],\"errors\":[{}]}}",
        files.join(","),
        items.join(",")
    ))
}
