//! The identity checks of a bom copy's saved state (src/core/bom/state.ts): a `bom copy` of an
//! unchanged tree stats every source and destination it placed last time and compares them with
//! what it recorded, instead of planning again. 20,000 files are 40,000 stats: each is an fstatat
//! relative to an open parent directory (one path component looked up, not the whole path), on
//! two threads, so the check takes tens of milliseconds.
//!
//! A state line is tab-separated: `follow src inner srcId destId rest…`. `follow` is `S` (stat
//! the source through a symlink, as rsync -L and the plan's stat do), `L` (lstat: an entry of a
//! walked directory) or `-` (no source: a mkdir, a createlink, a destination dir). `inner` is the
//! path in the image ("" for a source-only probe), read below the root's descriptor without
//! following any link. `src` and `inner` are written as `n|rest`: the first n bytes of the
//! previous line's path, then `rest` (a walk lists neighbours: 20,000 files take 1.9 MB, not 4).
//! An identity is a 64-bit FNV-1a hash of dev, ino, size, mtime, ctime (ns) and mode, in hex; a
//! source's is followed by `:size:mtime` (a copy's size and mtime must equal its source's, as
//! rsync's quick check wants); `x` for absent, `e` for unreadable, `?` for one that was changing
//! when recorded (its time is within the caller's window of the record, where a later change could
//! keep the same coarse timestamp): `?` and `e` never match, so such an entry is checked again.

use crate::beneath;
use crate::error::{Error, Kind, Result};
use crate::safe_file::{ENOENT, ENOTDIR, O_DIRECTORY, O_NONBLOCK};
use std::ffi::{c_char, c_int, c_uint, CString};
use std::fmt::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct StatxTs {
    sec: i64,
    nsec: u32,
    _reserved: i32,
}

/// Linux's struct statx (the same on every architecture, unlike struct stat).
#[repr(C)]
#[derive(Default)]
struct Statx {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    _spare0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    atime: StatxTs,
    btime: StatxTs,
    ctime: StatxTs,
    mtime: StatxTs,
    rdev_major: u32,
    rdev_minor: u32,
    dev_major: u32,
    dev_minor: u32,
    _spare: [u64; 14],
}

extern "C" {
    fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, buf: *mut Statx) -> c_int;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
    fn read(fd: c_int, buf: *mut u8, n: usize) -> isize;
}

const AT_FDCWD: c_int = -100;
const AT_SYMLINK_NOFOLLOW: c_int = 0x100;
const AT_EMPTY_PATH: c_int = 0x1000;
const STATX_BASIC_STATS: c_uint = 0x7ff;
const O_PATH: c_int = 0o10000000;
const O_CLOEXEC: c_int = 0o2000000;
const S_IFMT: u16 = 0o170000;
const S_IFREG: u16 = 0o100000;
/// The racy window of a source seen by the check (a network file system's clock may lag ours).
const RACY_NS: i128 = 1_000_000_000;
const THREADS: usize = 2;

fn ns(t: StatxTs) -> i128 {
    i128::from(t.sec) * 1_000_000_000 + i128::from(t.nsec)
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The result of one stat: the identity text, and the attributes a copy needs when it differs.
struct Seen {
    id: String,
    st: Option<Statx>,
}

fn identity(st: &Statx, racy_after: i128, src: bool) -> String {
    let dev = (st.dev_major, st.dev_minor);
    let times = (ns(st.mtime), ns(st.ctime));
    id_text(dev, st.ino, st.size, times, u32::from(st.mode), racy_after, src)
}

/// The identity of a source as the walk's attribute batch (tree_copy.rs) read it, so that the
/// copy's state need not stat the walked files again; `racy_ms` as for `bomStateStat`.
pub fn identity_of(m: &std::fs::Metadata, racy_ms: i128) -> String {
    use std::os::unix::fs::MetadataExt;
    let d = m.dev();
    // glibc's gnu_dev_major / gnu_dev_minor, as statx reports them.
    let dev = (
        (((d >> 8) & 0xfff) | ((d >> 32) & !0xfff)) as u32,
        ((d & 0xff) | ((d >> 12) & !0xff)) as u32,
    );
    let t = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    let times = (t(m.mtime(), m.mtime_nsec()), t(m.ctime(), m.ctime_nsec()));
    id_text(
        dev,
        m.ino(),
        m.size(),
        times,
        m.mode(),
        now_ns() - racy_ms * 1_000_000,
        true,
    )
}

fn id_text(
    dev: (u32, u32),
    ino: u64,
    size: u64,
    times: (i128, i128),
    mode: u32,
    racy_after: i128,
    src: bool,
) -> String {
    let (mtime, ctime) = times;
    if ctime >= racy_after || mtime >= racy_after {
        return "?".into();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let fields = [
        u64::from(dev.0),
        u64::from(dev.1),
        ino,
        size,
        mtime as u64,
        ctime as u64,
        u64::from(mode & 0xffff),
    ];
    for b in fields.iter().flat_map(|f| f.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    if src {
        format!("{:016x}:{}:{}", h, size, mtime)
    } else {
        format!("{:016x}", h)
    }
}

fn do_statx(dir: c_int, name: &CString, flags: c_int, racy_after: i128, src: bool) -> Seen {
    let mut st = Statx::default();
    if unsafe { statx(dir, name.as_ptr(), flags, STATX_BASIC_STATS, &mut st) } != 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        let id = if matches!(e, Some(ENOENT) | Some(ENOTDIR)) {
            "x"
        } else {
            "e"
        };
        return Seen {
            id: id.into(),
            st: None,
        };
    }
    Seen {
        id: identity(&st, racy_after, src),
        st: Some(st),
    }
}

/// The parent directory last opened by a thread (consecutive lines share their directory).
#[derive(Default)]
struct DirCache {
    key: String,
    fd: Option<OwnedFd>,
    failed: bool,
}

impl DirCache {
    /// The descriptor of `key`, opened by `open_fn` when it is not the last one; None if it failed.
    fn get(&mut self, key: &str, open_fn: impl FnOnce() -> Option<OwnedFd>) -> Option<c_int> {
        if self.key != key || (self.fd.is_none() && !self.failed) {
            self.key = key.to_string();
            self.fd = open_fn();
            self.failed = self.fd.is_none();
        }
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }
}

fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    }
}

/// A source (an absolute host path; links before the last component are followed, as a path
/// lookup does). With `elf`, a regular file's first bytes are read too (Seen is then returned
/// with the sniff in `elf`).
fn stat_src(cache: &mut DirCache, path: &str, follow: bool, racy_after: i128) -> (Seen, c_int, Option<CString>) {
    let bad = || {
        (
            Seen {
                id: "e".into(),
                st: None,
            },
            -1,
            None,
        )
    };
    if !path.starts_with('/') {
        return bad();
    }
    let (parent, name) = split_parent(path);
    let flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW };
    let Ok(cname) = CString::new(if name.is_empty() { "/" } else { name }) else {
        return bad();
    };
    if name.is_empty() {
        return (
            do_statx(AT_FDCWD, &cname, flags, racy_after, true),
            AT_FDCWD,
            Some(cname),
        );
    }
    let dir = cache.get(parent, || {
        let p = CString::new(parent).ok()?;
        let fd = unsafe { open(p.as_ptr(), O_PATH | O_DIRECTORY | O_CLOEXEC) };
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    });
    match dir {
        Some(d) => (do_statx(d, &cname, flags, racy_after, true), d, Some(cname)),
        // A parent that is gone or not a directory: the source is absent.
        None => (
            Seen {
                id: "x".into(),
                st: None,
            },
            -1,
            None,
        ),
    }
}

/// A destination: `inner` below the root's descriptor, no component followed if it is a link.
fn stat_dest(cache: &mut DirCache, root: c_int, inner: &str, racy_after: i128) -> Seen {
    let rel = inner.trim_start_matches('/');
    if rel.is_empty() {
        let empty = CString::default();
        return do_statx(root, &empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, racy_after, false);
    }
    let (parent, name) = match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    };
    let Ok(cname) = CString::new(name) else {
        return Seen {
            id: "e".into(),
            st: None,
        };
    };
    if name.is_empty() || name == "." || name == ".." {
        return Seen {
            id: "e".into(),
            st: None,
        };
    }
    let dir = if parent.is_empty() {
        Some(root)
    } else {
        cache.get(parent, || beneath::open_dir_fd(root, parent).ok())
    };
    match dir {
        Some(d) => do_statx(d, &cname, AT_SYMLINK_NOFOLLOW, racy_after, false),
        None => Seen {
            id: "x".into(),
            st: None,
        },
    }
}

/// Whether the file `name` in `dir` starts with the ELF magic (read without blocking).
fn sniff(dir: c_int, name: &CString, follow: bool) -> bool {
    let nofollow = if follow { 0 } else { crate::safe_file::O_NOFOLLOW };
    let fd = unsafe { openat(dir, name.as_ptr(), O_NONBLOCK | O_CLOEXEC | nofollow) };
    if fd < 0 {
        return false;
    }
    let f = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut magic = [0u8; 4];
    let n = unsafe { read(f.as_raw_fd(), magic.as_mut_ptr(), 4) };
    n == 4 && magic == *b"\x7fELF"
}

struct Line<'a> {
    follow: &'a str,
    /// As written (prefix-coded), copied to the output unchanged.
    src_coded: &'a str,
    inner_coded: &'a str,
    src: String,
    inner: String,
    src_id: &'a str,
    dest_id: &'a str,
    rest: &'a str,
}

/// `n|rest`: the first n bytes of `prev`, then rest.
fn decode(coded: &str, prev: &str) -> Option<String> {
    let (n, rest) = coded.split_once('|')?;
    let n: usize = n.parse().ok()?;
    let head = prev.get(..n)?;
    Some(format!("{head}{rest}"))
}

fn parse(text: &str) -> Result<Vec<Line<'_>>> {
    let bad = |i: usize| Error::new(Kind::Format, format!("bom state line {}: malformed", i + 1));
    let mut out: Vec<Line> = Vec::new();
    for (i, l) in text.split('\n').enumerate() {
        let mut f = l.splitn(6, '\t');
        let mut next = || f.next().ok_or_else(|| bad(i));
        let (follow, src_coded, inner_coded) = (next()?, next()?, next()?);
        let (src_id, dest_id, rest) = (next()?, next()?, next()?);
        let (ps, pi) = out.last().map_or(("", ""), |p| (p.src.as_str(), p.inner.as_str()));
        let src = decode(src_coded, ps).ok_or_else(|| bad(i))?;
        let inner = decode(inner_coded, pi).ok_or_else(|| bad(i))?;
        if !matches!(follow, "S" | "L" | "-") || (follow == "-") != src.is_empty() {
            return Err(bad(i));
        }
        out.push(Line {
            follow,
            src_coded,
            inner_coded,
            src,
            inner,
            src_id,
            dest_id,
            rest,
        });
    }
    Ok(out)
}

/// Runs `f(thread's caches, line index)` over contiguous halves of the lines on two threads.
fn in_halves<T: Send + Sync>(n: usize, f: impl Fn(&mut (DirCache, DirCache), usize) -> T + Sync) -> Vec<T> {
    let per = n.div_ceil(THREADS).max(1);
    let out: Vec<OnceLock<T>> = (0..n).map(|_| OnceLock::new()).collect();
    std::thread::scope(|s| {
        for (t, part) in out.chunks(per).enumerate() {
            let f = &f;
            s.spawn(move || {
                let mut caches = (DirCache::default(), DirCache::default());
                for (j, cell) in part.iter().enumerate() {
                    let _ = cell.set(f(&mut caches, t * per + j));
                }
            });
        }
    });
    out.into_iter()
        .map(|c| c.into_inner().expect("every line is visited"))
        .collect()
}

fn root_arg(a: &[String]) -> Result<c_int> {
    a.first()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::new(Kind::Usage, "takes the root's descriptor first"))
}

/// `bomStateStat`: args (root fd, "src" | "dest", racy window in ms, lines); returns the lines with
/// the source (or destination) identity field filled in from what is on disk now.
pub fn state_stat(a: &[String]) -> Result<String> {
    let root = root_arg(a)?;
    let which = a.get(1).map(String::as_str);
    let window_ms: i128 = a
        .get(2)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::new(Kind::Usage, "bomStateStat takes the racy window (ms)"))?;
    let text = a
        .get(3)
        .ok_or_else(|| Error::new(Kind::Usage, "bomStateStat takes lines"))?;
    let lines = parse(text)?;
    let racy_after = now_ns() - window_ms * 1_000_000;
    let ids = in_halves(lines.len(), |(sc, dc), i| {
        let l = &lines[i];
        match which {
            // A source the walk already read (its identity given) is not stat'ed again.
            Some("src") if l.follow != "-" && l.src_id == "-" => stat_src(sc, &l.src, l.follow == "S", racy_after).0.id,
            Some("src") if l.follow != "-" => l.src_id.to_string(),
            Some("dest") if !l.inner.is_empty() => {
                let seen = stat_dest(dc, root, &l.inner, racy_after);
                // A copy without its source's size and mtime (changed since) is not recorded as one.
                let sm = seen.st.as_ref().map(|st| (st.size, ns(st.mtime)));
                if l.rest.starts_with('f') && src_size_mtime(l.src_id) != sm {
                    "?".to_string()
                } else {
                    seen.id
                }
            }
            _ => "-".to_string(),
        }
    });
    let mut out = String::with_capacity(text.len() + lines.len() * 64);
    for (l, id) in lines.iter().zip(&ids) {
        let (s, d) = if which == Some("src") {
            (id.as_str(), l.dest_id)
        } else {
            (l.src_id, id.as_str())
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            l.follow, l.src_coded, l.inner_coded, s, d, l.rest
        );
    }
    out.pop();
    Ok(out)
}

/// The size and mtime written after a source's identity hash.
fn src_size_mtime(id: &str) -> Option<(u64, i128)> {
    let mut f = id.split(':').skip(1);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// `bomStateCheck`: args (root fd, `files` or `dirs`: which destinations, lines as recorded).
/// Returns the lines that differ from disk as `[[index, srcId now or null if the same, source
/// attributes or null, dest differs 0/1, src, inner, index of the parent dir's line or -1, its
/// src, for a directory of the root that changed the names the state puts in it, else null], ...]`;
/// the attributes are `[size, mode, uid, gid, ino, atime s, ns, mtime s, ns, elf 0/1]` (the ELF
/// magic is read for a regular file of at least 64 bytes). A copy whose size or mtime is not its
/// recorded source's counts as changed (so even a state that lies cannot skip rsync's quick check).
pub fn state_check(a: &[String]) -> Result<String> {
    let root = root_arg(a)?;
    // "files": every destination is stat'ed; "dirs": the directories only (see docs/bom.md).
    let files = match a.get(1).map(String::as_str) {
        Some("files") => true,
        Some("dirs") => false,
        _ => return Err(Error::new(Kind::Usage, "bomStateCheck takes files|dirs")),
    };
    let text = a
        .get(2)
        .ok_or_else(|| Error::new(Kind::Usage, "bomStateCheck takes lines"))?;
    let lines = parse(text)?;
    // Only what was recorded as racy (`?`) is racy here: compare identities exactly.
    let never = i128::MAX;
    let rows = in_halves(lines.len(), |(sc, dc), i| {
        let l = &lines[i];
        let mut src_now = None;
        let mut attrs = None;
        if l.follow != "-" {
            let (seen, dir, name) = stat_src(sc, &l.src, l.follow == "S", never);
            if seen.id != l.src_id || l.src_id == "?" {
                if let (Some(st), Some(name)) = (&seen.st, &name) {
                    let reg = st.mode & S_IFMT == S_IFREG;
                    let elf = reg && st.size >= 64 && sniff(dir, name, l.follow == "S");
                    attrs = Some(format!(
                        "[{},{},{},{},{},{},{},{},{},{}]",
                        st.size,
                        st.mode,
                        st.uid,
                        st.gid,
                        st.ino,
                        st.atime.sec,
                        st.atime.nsec,
                        st.mtime.sec,
                        st.mtime.nsec,
                        elf as u8
                    ));
                }
                // The identity as a record would write it (racy within RACY_NS of now).
                let racy = match &seen.st {
                    Some(st) => identity(st, now_ns() - RACY_NS, true),
                    None => seen.id.clone(),
                };
                src_now = Some(racy);
            }
        }
        let mut dest = false;
        let file = l.rest.starts_with('f') || l.rest.starts_with('l');
        if !l.inner.is_empty() && (files || !file) {
            let seen = stat_dest(dc, root, &l.inner, never);
            dest = seen.id != l.dest_id || l.dest_id == "?";
            if !dest && l.rest.starts_with('f') {
                dest = src_size_mtime(l.src_id) != seen.st.map(|st| (st.size, ns(st.mtime)));
            }
        }
        (src_now, attrs, dest)
    });
    let mut out = String::from("[");
    // The line of each directory, for a changed entry's parent (built only when one changed).
    let mut dirs: Option<std::collections::HashMap<&str, usize>> = None;
    for (i, (src_now, attrs, dest)) in rows.into_iter().enumerate() {
        if src_now.is_none() && !dest {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        let l = &lines[i];
        let dirs = dirs.get_or_insert_with(|| {
            let is_dir = |l: &Line| l.rest.starts_with('d') || l.rest.starts_with('q');
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| is_dir(l))
                .map(|(j, l)| (l.inner.as_str(), j))
                .collect()
        });
        // A directory of the root whose listing changed: the names the plan puts in it (for strays).
        let children = if dest && (l.rest.starts_with('d') || l.rest.starts_with('q')) {
            let prefix = if l.inner == "/" {
                "/".to_string()
            } else {
                format!("{}/", l.inner)
            };
            let names: Vec<String> = lines
                .iter()
                .filter_map(|c| c.inner.strip_prefix(prefix.as_str()))
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .map(crate::ops::js)
                .collect();
            format!("[{}]", names.join(","))
        } else {
            "null".to_string()
        };
        let parent = match l.inner.rfind('/') {
            Some(0) if l.inner.len() > 1 => dirs.get("/"),
            Some(k) if k > 0 => dirs.get(&l.inner[..k]),
            _ => None,
        };
        let _ = write!(
            out,
            "[{},{},{},{},{},{},{},{},{}]",
            i,
            src_now.map_or("null".into(), |s| crate::ops::js(&s)),
            attrs.unwrap_or_else(|| "null".into()),
            dest as u8,
            crate::ops::js(&l.src),
            crate::ops::js(&l.inner),
            parent.map_or(-1, |&p| p as i64),
            crate::ops::js(parent.map_or("", |&p| lines[p].src.as_str())),
            children
        );
    }
    out.push(']');
    Ok(out)
}

/// `bomStateFind`: args (lines, then source paths); the lines whose source is one of them, as
/// `[[index, src, inner], ...]` (the dev loop's hinted copy after a copy from the state).
pub fn state_find(a: &[String]) -> Result<String> {
    let text = a
        .first()
        .ok_or_else(|| Error::new(Kind::Usage, "bomStateFind takes lines"))?;
    let wanted: std::collections::HashSet<&str> = a[1..].iter().map(String::as_str).collect();
    let items: Vec<String> = parse(text)?
        .iter()
        .enumerate()
        .filter(|(_, l)| wanted.contains(l.src.as_str()))
        .map(|(i, l)| format!("[{},{},{}]", i, crate::ops::js(&l.src), crate::ops::js(&l.inner)))
        .collect();
    Ok(format!("[{}]", items.join(",")))
}

#[cfg(test)]
mod test {
    use super::*;
    use std::os::fd::IntoRawFd;

    fn lines(src: &str, dest: &str) -> String {
        // A source-only probe, a file (paths written after the previous line's), a directory.
        format!("S\t0|{src}/a\t0|\t-\t-\tp\t-\t-\t-\t\nL\t0|{src}/b\t0|/b\t-\t-\tf\tdirs\tn\t0\t\n-\t0|\t0|{dest}\t-\t-\tq\t-\t-\t-\t")
    }

    #[test]
    fn records_then_finds_what_changed() {
        let dir = std::env::temp_dir().join(format!("bom-state-test-{}", std::process::id()));
        let (src, root) = (dir.join("src"), dir.join("root"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(src.join("a"), b"bom").unwrap();
        std::fs::write(src.join("b"), b"12345").unwrap();
        std::fs::copy(src.join("b"), root.join("b")).unwrap();
        let mtime = std::fs::metadata(src.join("b")).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(root.join("b"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let fd = std::fs::File::open(&root).unwrap().into_raw_fd().to_string();
        let text = lines(src.to_str().unwrap(), "/d");
        let recorded = state_stat(&[fd.clone(), "src".into(), "0".into(), text]).unwrap();
        let recorded = state_stat(&[fd.clone(), "dest".into(), "0".into(), recorded]).unwrap();
        assert!(!recorded.contains("\t?\t"), "{recorded}");
        assert_eq!(
            state_check(&[fd.clone(), "files".into(), recorded.clone()]).unwrap(),
            "[]"
        );
        // A copy edited in place: seen with the files, not with the directories only.
        std::fs::write(root.join("b"), b"54321").unwrap();
        let files = state_check(&[fd.clone(), "files".into(), recorded.clone()]).unwrap();
        assert!(files.starts_with("[[1,null,null,1,"), "{files}");
        assert_eq!(
            state_check(&[fd.clone(), "dirs".into(), recorded.clone()]).unwrap(),
            "[]"
        );
        // A changed probe: its new identity and attributes.
        std::fs::write(src.join("a"), b"bom2").unwrap();
        let probe = state_check(&[fd.clone(), "dirs".into(), recorded.clone()]).unwrap();
        assert!(probe.starts_with("[[0,\""), "{probe}");
        // A file in a directory of the root: the directory differs, with the names planned in it.
        std::fs::write(root.join("d/stray"), b"x").unwrap();
        let strays = state_check(&[fd.clone(), "dirs".into(), recorded]).unwrap();
        assert!(strays.contains(",[2,null,null,1,\"\",\"/d\",-1,\"\",[]]"), "{strays}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_walks_identity_is_the_checks() {
        let path = std::env::temp_dir().join(format!("bom-state-id-{}", std::process::id()));
        std::fs::write(&path, b"walked").unwrap();
        let walk = identity_of(&std::fs::symlink_metadata(&path).unwrap(), -10_000);
        let mut cache = DirCache::default();
        let (seen, _, _) = stat_src(&mut cache, path.to_str().unwrap(), false, i128::MAX);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(walk, seen.id);
        assert!(walk.contains(":6:"), "{walk}"); // size in clear, for the quick check
    }

    #[test]
    fn refuses_malformed_lines_and_never_climbs_out() {
        assert!(parse("S\t5|x\t0|\t-\t-\tp").is_err()); // a prefix longer than the previous path
        assert!(parse("-\t0|/src\t0|/x\t-\t-\tf").is_err()); // a source without a follow mode
        assert!(parse("S\t0|/a").is_err());
        let root = std::fs::File::open(std::env::temp_dir()).unwrap();
        let mut cache = DirCache::default();
        let seen = stat_dest(&mut cache, root.as_raw_fd(), "/../etc/passwd", i128::MAX);
        assert_eq!(seen.id, "x");
        assert!(seen.st.is_none());
    }
}
