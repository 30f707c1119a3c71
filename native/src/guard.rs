//! Inotify watches on every inode of a verified build (the host backend's image layer, secure
//! image and config files), so that a process which verified the build, or built it, can later
//! tell what may have changed since by reading the kernel's queue instead of stat'ing every file
//! (src/core/backend/host/guard.ts says what is trusted and why).
//!
//! Every file and directory gets its own watch (an inode mark): a write through a hard link in
//! another directory, a new hard link (link count: IN_ATTRIB) or a chmod is reported whatever path
//! was used. Events are queued by the kernel in the modifying system call, before it returns, so
//! draining the queue synchronously sees every change completed before the drain started.
//!
//! Output of `tree`/`paths`: the stat_tree format (six NUL-terminated fields per entry) taken
//! after the watch was added, so a change after the stat is reported and one before it shows in
//! the stat. `drain`: per event four fields: the watch's tag, its path, the child name (empty for
//! the watched inode itself), the mask in decimal; tag `!` for a queue overflow.

use crate::error::{Error, Kind, Result};
use crate::safe_file::{EAGAIN, EINTR};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

extern "C" {
    fn inotify_init1(flags: c_int) -> c_int;
    fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int;
    fn read(fd: c_int, buf: *mut u8, n: usize) -> isize;
    fn close(fd: c_int) -> c_int;
}

const IN_MODIFY: u32 = 0x2;
const IN_ATTRIB: u32 = 0x4;
const IN_CLOSE_WRITE: u32 = 0x8;
const IN_OPEN: u32 = 0x20;
const IN_MOVED_FROM: u32 = 0x40;
const IN_MOVED_TO: u32 = 0x80;
const IN_CREATE: u32 = 0x100;
const IN_DELETE: u32 = 0x200;
const IN_DELETE_SELF: u32 = 0x400;
const IN_MOVE_SELF: u32 = 0x800;
const IN_Q_OVERFLOW: u32 = 0x4000;
const IN_IGNORED: u32 = 0x8000;
const IN_DONT_FOLLOW: u32 = 0x0200_0000;
const IN_NONBLOCK: c_int = 0o4000;
const IN_CLOEXEC: c_int = 0o2_000_000;

/// A file: anything that can change its content, attributes or links, and opens (a writer that
/// maps the file shared and writes through the mapping makes no other event).
const FILE_MASK: u32 = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_OPEN | IN_DELETE_SELF | IN_MOVE_SELF;
/// A directory: its entries and its own attributes (its files have their own watches).
const DIR_MASK: u32 = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

struct Guard {
    fd: c_int,
    /// watch descriptor → (tag, path) of the inode it was added for.
    wds: HashMap<c_int, (String, Vec<u8>)>,
    /// Read-only descriptors kept for `lease`, by host path: probing again through the same
    /// descriptor makes no new IN_OPEN event (opening it again would, forever).
    held: HashMap<String, std::fs::File>,
    /// The most watches it may hold (its share of the user's inotify watches).
    max_watches: usize,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this guard; closing it removes every watch.
        unsafe { close(self.fd) };
    }
}

fn guards() -> &'static Mutex<(u32, HashMap<u32, Guard>)> {
    static G: OnceLock<Mutex<(u32, HashMap<u32, Guard>)>> = OnceLock::new();
    G.get_or_init(|| Mutex::new((0, HashMap::new())))
}

fn with<T>(id: &str, f: impl FnOnce(&mut Guard) -> Result<T>) -> Result<T> {
    let id: u32 = id
        .parse()
        .map_err(|_| Error::new(Kind::Usage, "guard id must be a number"))?;
    let mut g = guards().lock().unwrap_or_else(|p| p.into_inner());
    match g.1.get_mut(&id) {
        Some(guard) => f(guard),
        None => Err(Error::new(Kind::Usage, format!("no guard {}", id))),
    }
}

pub fn open(max_watches: usize) -> Result<u32> {
    // SAFETY: plain system call.
    let fd = unsafe { inotify_init1(IN_NONBLOCK | IN_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io(std::io::Error::last_os_error(), "inotify_init1"));
    }
    let mut g = guards().lock().unwrap_or_else(|p| p.into_inner());
    g.0 += 1;
    let id = g.0;
    g.1.insert(
        id,
        Guard {
            fd,
            wds: HashMap::new(),
            held: HashMap::new(),
            max_watches,
        },
    );
    Ok(id)
}

pub fn close_guard(id: &str) -> Result<()> {
    let id: u32 = id
        .parse()
        .map_err(|_| Error::new(Kind::Usage, "guard id must be a number"))?;
    guards().lock().unwrap_or_else(|p| p.into_inner()).1.remove(&id);
    Ok(())
}

impl Guard {
    fn add(&mut self, host: &Path, tag: &str, rel: &[u8], dir: bool) -> Result<()> {
        let c =
            CString::new(host.as_os_str().as_bytes()).map_err(|_| Error::new(Kind::Usage, "a path with a NUL byte"))?;
        if self.wds.len() >= self.max_watches {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "{}: more than {} inotify watches, the guard's share of the user's",
                    host.display(),
                    self.max_watches
                ),
            ));
        }
        let mask = (if dir { DIR_MASK } else { FILE_MASK }) | IN_DONT_FOLLOW;
        // SAFETY: valid descriptor and NUL-terminated path.
        let wd = unsafe { inotify_add_watch(self.fd, c.as_ptr(), mask) };
        if wd < 0 {
            // ENOSPC: the per-user watch limit (fs.inotify.max_user_watches).
            return Err(Error::io(std::io::Error::last_os_error(), &host.display().to_string()));
        }
        self.wds.insert(wd, (tag.to_string(), rel.to_vec()));
        Ok(())
    }

    /// Watches `root/rel` (after which it is stat'ed) and appends its stat_tree line; a missing
    /// path gives type `x`. Returns whether it is a directory.
    fn watch_one(&mut self, root: &Path, rel: &[u8], tag: &str, out: &mut Vec<u8>) -> Result<bool> {
        let host = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(OsStr::from_bytes(rel))
        };
        let before = match std::fs::symlink_metadata(&host) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.extend_from_slice(rel);
                out.extend_from_slice(b"\x00x\x000\x000\x00-\x00\x00");
                return Ok(false);
            }
            Err(e) => return Err(Error::io(e, &host.display().to_string())),
        };
        let is_dir = before.file_type().is_dir();
        self.add(&host, tag, rel, is_dir)?;
        let md = std::fs::symlink_metadata(&host).map_err(|e| Error::io(e, &host.display().to_string()))?;
        crate::stat_tree::line(rel, &host, &md, out)?;
        Ok(md.file_type().is_dir())
    }

    fn tree(&mut self, root: &Path, rel: &mut Vec<u8>, tag: &str, out: &mut Vec<u8>) -> Result<()> {
        for name in crate::stat_tree::sorted_names(root, rel)? {
            let len = rel.len();
            if len > 0 {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if self.watch_one(root, rel, tag, out)? {
                self.tree(root, rel, tag, out)?;
            }
            rel.truncate(len);
        }
        Ok(())
    }

    fn drain(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            // SAFETY: reads into an owned buffer of the given length.
            let n = unsafe { read(self.fd, buf.as_mut_ptr(), buf.len()) };
            if n < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(EAGAIN) => return Ok(()),
                    Some(EINTR) => continue,
                    _ => return Err(Error::io(std::io::Error::last_os_error(), "inotify read")),
                }
            }
            let n = n as usize;
            let mut at = 0;
            while at + 16 <= n {
                let word = |i: usize| u32::from_ne_bytes(buf[at + i..at + i + 4].try_into().unwrap());
                let (wd, mask, len) = (word(0) as c_int, word(4), word(12) as usize);
                let name = &buf[at + 16..(at + 16 + len).min(n)];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                at += 16 + len;
                if mask & IN_Q_OVERFLOW != 0 {
                    out.extend_from_slice(b"!\0\0\0");
                    let _ = write!(out, "{}\0", mask);
                    continue;
                }
                let Some((tag, path)) = self.wds.get(&wd) else { continue };
                out.extend_from_slice(tag.as_bytes());
                out.push(0);
                out.extend_from_slice(path);
                out.push(0);
                out.extend_from_slice(name);
                out.push(0);
                let _ = write!(out, "{}\0", mask);
                if mask & IN_IGNORED != 0 {
                    self.wds.remove(&wd);
                }
            }
        }
    }
}

/// `tree id tag root`: watches root and everything below it.
pub fn tree(id: &str, tag: &str, root: &Path) -> Result<Vec<u8>> {
    with(id, |g| {
        let mut out = Vec::with_capacity(64 << 10);
        g.watch_one(root, b"", tag, &mut out)?;
        out.clear(); // the root itself is not an entry of the tree
        g.tree(root, &mut Vec::new(), tag, &mut out)?;
        Ok(out)
    })
}

/// `paths id tag root rel…`: watches each `root/rel` (not below it).
pub fn paths(id: &str, tag: &str, root: &Path, rels: &[String]) -> Result<Vec<u8>> {
    with(id, |g| {
        let mut out = Vec::new();
        for r in rels {
            g.watch_one(root, r.as_bytes(), tag, &mut out)?;
        }
        Ok(out)
    })
}

/// `lease id path…`: per path whether a process has it open for writing or mapped writable (a
/// read lease is refused then, writers.rs): `y`, `n`, `?` (cannot tell); `N`: no writer, probed
/// through a descriptor held since an earlier call (its own IN_OPEN is already drained: the
/// caller may `release` it). The descriptor opened here is kept.
pub fn lease(id: &str, paths: &[String]) -> Result<String> {
    use crate::writers::{lease_probe, Writing};
    with(id, |g| {
        let mut out = String::new();
        for p in paths {
            let had = g.held.contains_key(p);
            if !had {
                match crate::writers::open_for_probe(Path::new(p)) {
                    Some(f) => {
                        g.held.insert(p.clone(), f);
                    }
                    None => {
                        out.push('?');
                        continue;
                    }
                }
            }
            out.push(match (lease_probe(&g.held[p]), had) {
                (Writing::Yes, _) => 'y',
                (Writing::No, true) => 'N',
                (Writing::No, false) => 'n',
                (Writing::Unknown, _) => '?',
            });
        }
        Ok(out)
    })
}

/// `release id path…`: closes descriptors `lease` kept.
pub fn release(id: &str, paths: &[String]) -> Result<()> {
    with(id, |g| {
        for p in paths {
            g.held.remove(p);
        }
        Ok(())
    })
}

pub fn drain(id: &str) -> Result<Vec<u8>> {
    with(id, |g| {
        let mut out = Vec::new();
        g.drain(&mut out)?;
        Ok(out)
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn events(id: &str) -> Vec<(String, String, String, u32)> {
        let out = drain(id).unwrap();
        let f: Vec<&[u8]> = out.split(|&b| b == 0).collect();
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (0..f.len() / 4)
            .map(|i| {
                (
                    s(f[4 * i]),
                    s(f[4 * i + 1]),
                    s(f[4 * i + 2]),
                    s(f[4 * i + 3]).parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn reports_writes_through_another_link_and_new_entries() {
        let dir = std::env::temp_dir().join(format!("guard-test-{}", std::process::id()));
        let outside = std::env::temp_dir().join(format!("guard-test-out-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(dir.join("d/f"), b"x").unwrap();
        std::fs::hard_link(dir.join("d/f"), outside.join("link")).unwrap();
        let id = open(usize::MAX).unwrap().to_string();
        let listed = tree(&id, "r", &dir).unwrap();
        assert!(listed.starts_with(b"d\0d\0"));
        assert!(events(&id).is_empty());
        std::fs::write(outside.join("link"), b"changed").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter().any(|e| e.0 == "r" && e.1 == "d/f" && e.3 & IN_MODIFY != 0),
            "{:?}",
            ev
        );
        std::fs::write(dir.join("d/new"), b"y").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter().any(|e| e.1 == "d" && e.2 == "new" && e.3 & IN_CREATE != 0),
            "{:?}",
            ev
        );
        let again = paths(&id, "r", &dir, &["d/new".into(), "gone".into()]).unwrap();
        assert!(again.windows(4).any(|w| w == b"gone"));
        close_guard(&id).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn a_probe_through_a_held_descriptor_makes_no_new_event() {
        let dir = std::env::temp_dir().join(format!("guard-lease-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        let id = open(usize::MAX).unwrap().to_string();
        tree(&id, "r", &dir).unwrap();
        let f = dir.join("f").display().to_string();
        assert_eq!(
            lease(&id, std::slice::from_ref(&f)).unwrap(),
            "n",
            "first probe: opened here"
        );
        assert!(events(&id).iter().any(|e| e.1 == "f" && e.3 & IN_OPEN != 0));
        assert_eq!(
            lease(&id, std::slice::from_ref(&f)).unwrap(),
            "N",
            "again, through the held descriptor"
        );
        assert!(events(&id).is_empty());
        let writer = std::fs::OpenOptions::new().write(true).open(dir.join("f")).unwrap();
        assert_eq!(lease(&id, std::slice::from_ref(&f)).unwrap(), "y");
        drop(writer);
        release(&id, &[f]).unwrap();
        close_guard(&id).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
