//! Inotify watches on a verified build (the host backend's image layer, secure image and config
//! files), so that a process which verified the build, or built it, can later tell what may have
//! changed since by reading the kernel's queue instead of stat'ing every file
//! (src/core/backend/host/guard.ts says what is trusted and why).
//!
//! The trees (tags `r`, `s`, and `o`: the build before the last, whose files share inodes with
//! this one) get a watch per directory only: the kernel reports an event on a file (write,
//! truncate, chmod, open, close after writing) to the watch of the directory the file was reached
//! through, with the file's name, as it reports creations, removals and renames of entries. A
//! watch per inode took one watch per file, over the user's limit for a large image
//! (fs.inotify.max_user_watches). What a directory watch does not see, and how it is covered:
//!
//! - a file reached through a name outside the watched directories (a hard link elsewhere: its
//!   events go to that directory): after the walks, `links` gives each file with more links than
//!   names found in them a watch of its own (an inode mark sees every path); the config files
//!   (tag `m`: few, read by every check) always have one;
//! - a descriptor opened before the watch through the tree's name: its events go to the parent
//!   of the name it was opened by (looked up at each event), which is watched;
//! - writes through a shared mapping make no event with either kind of watch; the open before
//!   them does (the caller probes opened files for writers, writers.rs).
//!
//! Not seen: a hard link made after the walk from a directory outside the trees, and a write
//! through it (the link's one event goes to the file's own inode only); guard.ts says so.
//! Events are queued by the kernel in the modifying system call, before it returns, so draining
//! the queue synchronously sees every change completed before the drain started.
//!
//! Output of `tree`/`paths`: the stat_tree format (six NUL-terminated fields per entry) taken
//! after the watch was added, so a change after the stat is reported and one before it shows in
//! the stat. `drain`: per event four fields: the watch's tag, its path, the child name (empty for
//! the watched inode itself), the mask in decimal; tag `!` for a queue overflow. An inode watched
//! under several paths gives one record per path.

use crate::error::{Error, Kind, Result};
use crate::safe_file::{EAGAIN, EINTR};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

extern "C" {
    fn inotify_init1(flags: c_int) -> c_int;
    fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int;
    fn read(fd: c_int, buf: *mut u8, n: usize) -> isize;
    fn close(fd: c_int) -> c_int;
    fn statfs(path: *const c_char, buf: *mut u8) -> c_int;
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
const IN_MASK_ADD: u32 = 0x2000_0000;
const IN_ISDIR: u32 = 0x4000_0000;
const IN_NONBLOCK: c_int = 0o4000;
const IN_CLOEXEC: c_int = 0o2_000_000;

/// A file: anything that can change its content, attributes or links, and opens (a writer that
/// maps the file shared and writes through the mapping makes no other event).
const FILE_MASK: u32 = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_OPEN | IN_DELETE_SELF | IN_MOVE_SELF;
/// A directory whose files have watches of their own (the config files'): its entries and its
/// own attributes.
const DIR_MASK: u32 = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
/// A directory of a tree: also what happens to its files (reported here with their names).
const TREE_DIR_MASK: u32 = DIR_MASK | IN_MODIFY | IN_CLOSE_WRITE | IN_OPEN;

/// Tags of the trees, whose files are watched through their directories: the image layer, the
/// secure image, and the build before the last (`o`: its files may share inodes with this one).
fn is_tree(tag: &str) -> bool {
    tag == "r" || tag == "s" || tag == "o"
}

#[derive(Default)]
struct Linked {
    nlink: u64,
    ctime: (i64, i64),
    names: Vec<(String, Vec<u8>, std::path::PathBuf)>,
}

struct Guard {
    fd: c_int,
    /// watch descriptor → (tag, path) of each path the inode was added under.
    wds: HashMap<c_int, Vec<(String, Vec<u8>)>>,
    /// Read-only descriptors kept for `lease`, by host path: probing again through the same
    /// descriptor makes no new IN_OPEN event (opening it again would, forever).
    held: HashMap<String, std::fs::File>,
    /// Files of the trees walked since the last `links` that have more than one link, by inode:
    /// their link count and ctime at the walk, and each name found in a watched directory (tag,
    /// path, host path).
    linked: HashMap<(u64, u64), Linked>,
    /// Names of the build before the last (tag `o`) by inode, as its walk listed them (d_ino,
    /// no stat), and the device it is on.
    old_names: HashMap<u64, u64>,
    old_dev: Option<u64>,
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
            linked: HashMap::new(),
            old_names: HashMap::new(),
            old_dev: None,
            max_watches,
        },
    );
    Ok(id)
}

/// File systems whose files other machines (or the host of a VM) may change, which inotify never
/// reports: no guard can vouch for a build on them (statfs f_type magic numbers, linux/magic.h).
const REMOTE_FS: [(i64, &str); 10] = [
    (0x6969, "nfs"),
    (0x517B, "smb"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x0102_1997, "9p"),
    (0x6573_5546, "fuse"),
    (0x00C3_6400, "ceph"),
    (0x5346_414F, "afs"),
    (0x7375_7245, "coda"),
    (0x0116_1970, "gfs2"),
];

/// `fs path`: the name of the remote file system `path` is on, or "" when it is a local one.
pub fn remote_fs(path: &Path) -> Result<String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::new(Kind::Usage, "a path with a NUL byte"))?;
    // struct statfs is 120 bytes on 64-bit Linux; f_type (a long) comes first.
    let mut buf = [0u8; 256];
    // SAFETY: NUL-terminated path, a buffer larger than struct statfs.
    if unsafe { statfs(c.as_ptr(), buf.as_mut_ptr()) } != 0 {
        return Err(Error::io(std::io::Error::last_os_error(), &path.display().to_string()));
    }
    let magic = if std::mem::size_of::<usize>() == 8 {
        i64::from_ne_bytes(buf[..8].try_into().unwrap())
    } else {
        i64::from(i32::from_ne_bytes(buf[..4].try_into().unwrap()))
    } & 0xFFFF_FFFF;
    Ok(REMOTE_FS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, n)| n.to_string())
        .unwrap_or_default())
}

pub fn close_guard(id: &str) -> Result<()> {
    let id: u32 = id
        .parse()
        .map_err(|_| Error::new(Kind::Usage, "guard id must be a number"))?;
    guards().lock().unwrap_or_else(|p| p.into_inner()).1.remove(&id);
    Ok(())
}

impl Guard {
    fn add(&mut self, host: &Path, tag: &str, rel: &[u8], mask: u32) -> Result<()> {
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
        // IN_MASK_ADD: an inode watched again (another path, another tag) keeps what it had.
        // SAFETY: valid descriptor and NUL-terminated path.
        let wd = unsafe { inotify_add_watch(self.fd, c.as_ptr(), mask | IN_DONT_FOLLOW | IN_MASK_ADD) };
        if wd < 0 {
            // ENOSPC: the per-user watch limit (fs.inotify.max_user_watches).
            let e = std::io::Error::last_os_error();
            return Err(Error::io(e, &format!("inotify watch on {}", host.display())));
        }
        let paths = self.wds.entry(wd).or_default();
        if !paths.iter().any(|(t, p)| t == tag && p == rel) {
            paths.push((tag.to_string(), rel.to_vec()));
        }
        Ok(())
    }

    /// Watches `root/rel` (after which it is stat'ed) and appends its stat_tree line; a missing
    /// path gives type `x`. Returns whether it is a directory.
    /// `walk`: part of a tree's walk, whose files with more links wait for `links` (their other
    /// names may be in the walk too); else such a file is watched now.
    fn watch_one(&mut self, root: &Path, rel: &[u8], tag: &str, walk: bool, out: &mut Vec<u8>) -> Result<bool> {
        let host = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(OsStr::from_bytes(rel))
        };
        let stat = || std::fs::symlink_metadata(&host);
        let mut md = match stat() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.extend_from_slice(rel);
                out.extend_from_slice(b"\x00x\x000\x000\x00-\x00\x00");
                return Ok(false);
            }
            Err(e) => return Err(Error::io(e, &host.display().to_string())),
        };
        // The mask follows the stat taken after the last watch: an entry replaced in between by
        // one of another kind (a file by a directory) is watched again as what it is now.
        let mut had = 0;
        for _ in 0..3 {
            let want = match (md.file_type().is_dir(), is_tree(tag)) {
                (true, true) => TREE_DIR_MASK,
                (true, false) => DIR_MASK,
                // A tree's file with a name elsewhere: its own watch (the directory's sees only this name).
                (false, true) if md.file_type().is_file() && md.nlink() > 1 && !walk => FILE_MASK,
                (false, true) => 0,
                (false, false) => FILE_MASK,
            };
            if want & !had == 0 {
                break;
            }
            self.add(&host, tag, rel, want)?;
            had |= want;
            md = stat().map_err(|e| Error::io(e, &host.display().to_string()))?;
        }
        if walk && is_tree(tag) && md.file_type().is_file() && md.nlink() > 1 {
            let e = self.linked.entry((md.dev(), md.ino())).or_default();
            if e.names.is_empty() {
                (e.nlink, e.ctime) = (md.nlink(), (md.ctime(), md.ctime_nsec()));
            }
            e.names.push((tag.to_string(), rel.to_vec(), host.clone()));
        }
        crate::stat_tree::line(rel, &host, &md, out)?;
        Ok(md.file_type().is_dir())
    }

    /// Ends the walks: a file with a link outside the walked trees gets a watch of its own. Its
    /// names whose stat changed since the walk (before the watch) are returned (tag, path).
    fn links(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let old = std::mem::take(&mut self.old_names);
        let old_dev = self.old_dev.take();
        for ((dev, ino), l) in std::mem::take(&mut self.linked) {
            let elsewhere = if old_dev == Some(dev) {
                old.get(&ino).copied().unwrap_or(0)
            } else {
                0
            };
            if l.nlink <= l.names.len() as u64 + elsewhere {
                continue; // every name is in a watched directory, which reports it
            }
            for (tag, rel, host) in &l.names {
                match self.add(host, tag, rel, FILE_MASK) {
                    Ok(()) => {}
                    Err(_) if std::fs::symlink_metadata(host).is_err() => {} // gone: its directory said so
                    Err(e) => return Err(e),
                }
            }
            // Changed between the walk's stat and the watch: the caller looks at each name.
            let now = std::fs::symlink_metadata(&l.names[0].2).ok();
            let same =
                now.is_some_and(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()) == (dev, ino, l.ctime.0, l.ctime.1));
            if !same {
                for (t, r, _) in &l.names {
                    out.extend_from_slice(t.as_bytes());
                    out.push(0);
                    out.extend_from_slice(r);
                    out.push(0);
                }
            }
        }
        Ok(())
    }

    /// The build before the last (tag `o`): its directories are watched (before each is listed)
    /// and its files only counted by inode from the listing (d_ino, d_type: no stat per file; a
    /// file system whose d_ino differs from st_ino only costs watches). An entry gone or replaced
    /// meanwhile is skipped: its directory's watch reported it.
    fn old_tree(&mut self, dir: &Path, rel: &mut Vec<u8>, tag: &str) -> Result<()> {
        use std::os::unix::fs::DirEntryExt;
        self.add(dir, tag, rel, TREE_DIR_MASK)?;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                let len = rel.len();
                if len > 0 {
                    rel.push(b'/');
                }
                rel.extend_from_slice(e.file_name().as_bytes());
                self.old_tree(&e.path(), rel, tag)?;
                rel.truncate(len);
            } else if ft.is_file() {
                *self.old_names.entry(e.ino()).or_default() += 1;
            }
        }
        Ok(())
    }

    fn tree(&mut self, root: &Path, rel: &mut Vec<u8>, tag: &str, out: &mut Vec<u8>) -> Result<()> {
        for name in crate::stat_tree::sorted_names(root, rel)? {
            let len = rel.len();
            if len > 0 {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if self.watch_one(root, rel, tag, true, out)? {
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
                // A directory opened (listed) changes nothing; other events on one stay.
                let mask = if mask & IN_ISDIR != 0 { mask & !IN_OPEN } else { mask };
                if mask & !IN_ISDIR == 0 {
                    continue;
                }
                let Some(paths) = self.wds.get(&wd) else { continue };
                for (tag, path) in paths {
                    out.extend_from_slice(tag.as_bytes());
                    out.push(0);
                    out.extend_from_slice(path);
                    out.push(0);
                    out.extend_from_slice(name);
                    out.push(0);
                    let _ = write!(out, "{}\0", mask);
                }
                if mask & IN_IGNORED != 0 {
                    self.wds.remove(&wd);
                }
            }
        }
    }
}

/// `tree id tag root`: watches root and everything below it; tag `o` (the build before the
/// last): its directories only, and counts its files' links for `links`.
pub fn tree(id: &str, tag: &str, root: &Path) -> Result<Vec<u8>> {
    with(id, |g| {
        if tag == "o" {
            let md = std::fs::symlink_metadata(root).map_err(|e| Error::io(e, &root.display().to_string()))?;
            g.old_dev = Some(md.dev());
            g.old_tree(root, &mut Vec::new(), tag)?;
            return Ok(Vec::new()); // nothing of it is an entry of this build
        }
        let mut out = Vec::with_capacity(64 << 10);
        g.watch_one(root, b"", tag, true, &mut out)?;
        out.clear(); // the root itself is not an entry of the tree
        g.tree(root, &mut Vec::new(), tag, &mut out)?;
        Ok(out)
    })
}

/// `links id`: after the walks of `tree`, watches each file with a name outside them; returns
/// (tag, path) pairs, NUL-terminated, of those that changed since their walk.
pub fn links(id: &str) -> Result<Vec<u8>> {
    with(id, |g| {
        let mut out = Vec::new();
        g.links(&mut out)?;
        Ok(out)
    })
}

/// `paths id tag root rel…`: watches each `root/rel` (not below it).
pub fn paths(id: &str, tag: &str, root: &Path, rels: &[String]) -> Result<Vec<u8>> {
    with(id, |g| {
        let mut out = Vec::new();
        for r in rels {
            g.watch_one(root, r.as_bytes(), tag, false, &mut out)?;
        }
        Ok(out)
    })
}

/// `lease id path…`: per path whether a process has it open for writing or mapped writable (a
/// read lease is refused then, writers.rs): `y`, `n`, `?` (cannot tell), `x` (no such file); `N`: no writer, probed
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
                    // Gone: no writer can reach the build through this name (a new file there
                    // is a new event); the caller compares its stat with the verified one.
                    None if std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) => {
                        out.push('x');
                        continue;
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
        assert!(links(&id).unwrap().is_empty());
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
    fn files_are_seen_through_their_directories_and_a_link_elsewhere_through_its_own_watch() {
        let dir = std::env::temp_dir().join(format!("guard-dir-{}", std::process::id()));
        let outside = std::env::temp_dir().join(format!("guard-dir-out-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(dir.join("d/f"), b"x").unwrap();
        std::fs::write(dir.join("d/g"), b"x").unwrap();
        std::fs::hard_link(dir.join("d/g"), dir.join("g2")).unwrap(); // both names in the tree
        std::fs::write(dir.join("d/h"), b"x").unwrap();
        std::fs::hard_link(dir.join("d/h"), outside.join("h")).unwrap();
        let id = open(usize::MAX).unwrap().to_string();
        tree(&id, "r", &dir).unwrap();
        std::fs::write(outside.join("h"), b"y").unwrap(); // after the walk, before its watch
        let changed = links(&id).unwrap();
        assert_eq!(changed, b"r\0d/h\0");
        // The root, d, and h (a name outside): three watches for four files.
        assert_eq!(with(&id, |g| Ok(g.wds.len())).unwrap(), 3);
        events(&id);
        std::fs::write(dir.join("d/f"), b"changed").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter().any(|e| e.1 == "d" && e.2 == "f" && e.3 & IN_MODIFY != 0),
            "{:?}",
            ev
        );
        std::fs::write(dir.join("g2"), b"changed").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter().any(|e| e.1.is_empty() && e.2 == "g2" && e.3 & IN_MODIFY != 0),
            "{:?}",
            ev
        );
        std::fs::write(outside.join("h"), b"changed").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter()
                .any(|e| e.1 == "d/h" && e.2.is_empty() && e.3 & IN_MODIFY != 0),
            "{:?}",
            ev
        );
        // Listing a directory is no event.
        std::fs::read_dir(dir.join("d")).unwrap().for_each(drop);
        assert!(events(&id).is_empty());
        close_guard(&id).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn links_into_the_build_before_the_last_need_no_watch_of_their_own() {
        let base = std::env::temp_dir().join(format!("guard-old-{}", std::process::id()));
        let (live, old) = (base.join("live"), base.join("old"));
        std::fs::create_dir_all(live.join("d")).unwrap();
        std::fs::create_dir_all(old.join("d")).unwrap();
        for n in ["a", "b"] {
            std::fs::write(live.join("d").join(n), b"x").unwrap();
            std::fs::hard_link(live.join("d").join(n), old.join("d").join(n)).unwrap();
        }
        std::fs::hard_link(live.join("d/b"), base.join("outside")).unwrap(); // b: a third name
        let id = open(usize::MAX).unwrap().to_string();
        tree(&id, "r", &live).unwrap();
        assert!(tree(&id, "o", &old).unwrap().is_empty());
        assert!(links(&id).unwrap().is_empty());
        // live, live/d, old, old/d, and b's own watch.
        assert_eq!(with(&id, |g| Ok(g.wds.len())).unwrap(), 5);
        std::fs::write(old.join("d/a"), b"y").unwrap();
        let ev = events(&id);
        assert!(ev.iter().any(|e| e.0 == "o" && e.1 == "d" && e.2 == "a"), "{:?}", ev);
        std::fs::write(base.join("outside"), b"y").unwrap();
        let ev = events(&id);
        assert!(
            ev.iter().any(|e| e.0 == "r" && e.1 == "d/b" && e.2.is_empty()),
            "{:?}",
            ev
        );
        close_guard(&id).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
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
        assert!(
            events(&id).iter().any(|e| e.2 == "f" && e.3 & IN_OPEN != 0),
            "through the directory"
        );
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
