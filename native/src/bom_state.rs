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
//! An identity is a 64-bit hash of dev, ino, size, mtime, ctime (ns) and mode, in hex; a
//! source's is followed by `:size:mtime` (a copy's size and mtime must equal its source's, as
//! rsync's quick check wants); `x` for absent, `e` for unreadable, `?` for one that was changing
//! when recorded (its time is within the caller's window of the record, where a later change could
//! keep the same coarse timestamp): `?` and `e` never match, so such an entry is checked again.

use crate::beneath;
use crate::error::{Error, Kind, Result};
use crate::safe_file::{ENOENT, ENOTDIR, O_DIRECTORY, O_NONBLOCK};
use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::fmt::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct StatxTs {
    pub sec: i64,
    pub nsec: u32,
    _reserved: i32,
}

/// Linux's struct statx (the same on every architecture, unlike struct stat).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Statx {
    pub mask: u32,
    pub blksize: u32,
    pub attributes: u64,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mode: u16,
    pub _spare0: u16,
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub attributes_mask: u64,
    pub atime: StatxTs,
    pub btime: StatxTs,
    pub ctime: StatxTs,
    pub mtime: StatxTs,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub _spare: [u64; 14],
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
pub(crate) const S_IFMT: u16 = 0o170000;
pub(crate) const S_IFREG: u16 = 0o100000;
/// The racy window of a source seen by the check (a network file system's clock may lag ours).
pub(crate) const RACY_NS: i128 = 1_000_000_000;
const THREADS: usize = 2;

pub(crate) fn ns(t: StatxTs) -> i128 {
    i128::from(t.sec) * 1_000_000_000 + i128::from(t.nsec)
}

pub(crate) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The result of one stat: the identity, and the attributes a copy needs when it differs.
pub(crate) struct Seen {
    pub id: Id,
    pub st: Option<Statx>,
}

/// An identity (module comment), kept as numbers until it is written: the check compares 40,000
/// of them with their recorded text, and formatting each (an i128 among them) cost more than the
/// stats' own system time.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Id {
    Absent,
    Unreadable,
    Racy,
    /// The hash, and for a source its size and mtime.
    Known(u64, Option<(u64, i128)>),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match *self {
            Id::Absent => f.write_str("x"),
            Id::Unreadable => f.write_str("e"),
            Id::Racy => f.write_str("?"),
            Id::Known(h, None) => write!(f, "{h:016x}"),
            // An i64 formats several times faster than an i128, and holds any time until 2262.
            Id::Known(h, Some((size, mtime))) => match i64::try_from(mtime) {
                Ok(m) => write!(f, "{h:016x}:{size}:{m}"),
                Err(_) => write!(f, "{h:016x}:{size}:{mtime}"),
            },
        }
    }
}

impl Id {
    /// Whether `text` is this identity as written, compared digit by digit (nothing formatted).
    pub(crate) fn is(&self, text: &str) -> bool {
        let t = text.as_bytes();
        match *self {
            Id::Absent => t == b"x",
            Id::Unreadable => t == b"e",
            Id::Racy => t == b"?",
            Id::Known(h, None) => hex16_is(h, t),
            Id::Known(h, Some((size, mtime))) => {
                let Some((hash, rest)) = text.split_once(':') else {
                    return false;
                };
                let Some((size_text, mtime_text)) = rest.split_once(':') else {
                    return false;
                };
                let mtime_is = match (u64::try_from(mtime), mtime_text.strip_prefix('-')) {
                    (Ok(m), None) => decimal_is(m, mtime_text.as_bytes()),
                    (Err(_), Some(abs)) if mtime > -(1 << 63) => {
                        decimal_is(mtime.unsigned_abs() as u64, abs.as_bytes())
                    }
                    _ => mtime.to_string() == mtime_text,
                };
                hex16_is(h, hash.as_bytes()) && decimal_is(size, size_text.as_bytes()) && mtime_is
            }
        }
    }
}

/// Whether `t` is `h` in 16 lowercase hex digits.
fn hex16_is(h: u64, t: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    t.len() == 16
        && t.iter()
            .enumerate()
            .all(|(i, &c)| c == HEX[(h >> (60 - 4 * i)) as usize & 0xf])
}

/// Whether `t` is `v` in decimal (no sign, no leading zero).
fn decimal_is(mut v: u64, t: &[u8]) -> bool {
    let mut i = t.len();
    loop {
        if i == 0 || t[i - 1] != b'0' + (v % 10) as u8 {
            return false;
        }
        i -= 1;
        v /= 10;
        if v == 0 {
            return i == 0;
        }
    }
}

fn id_of(dev: (u32, u32), ino: u64, size: u64, times: (i128, i128), mode: u32, racy_after: i128, src: bool) -> Id {
    let (mtime, ctime) = times;
    if ctime >= racy_after || mtime >= racy_after {
        return Id::Racy;
    }
    // A word at a time (multiply, then fold the high bits down): byte-wise FNV-1a over these 56
    // bytes took 2 ms of each check thread's 30. It only has to notice change; the state is MAC'd.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let fields = [
        u64::from(dev.0) << 32 | u64::from(dev.1),
        ino,
        size,
        mtime as u64,
        ctime as u64,
        u64::from(mode & 0xffff),
    ];
    for f in fields {
        h = (h ^ f).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    Id::Known(h, src.then_some((size, mtime)))
}

pub(crate) fn identity(st: &Statx, racy_after: i128, src: bool) -> Id {
    let dev = (st.dev_major, st.dev_minor);
    let times = (ns(st.mtime), ns(st.ctime));
    id_of(dev, st.ino, st.size, times, u32::from(st.mode), racy_after, src)
}

/// The identity of a source as the walk's attribute batch (tree_copy.rs) read it, so that the
/// copy's state need not stat the walked files again; `racy_ms` as for `bomStateStat`.
pub fn identity_of(m: &std::fs::Metadata, racy_ms: i128) -> String {
    meta_identity(m, now_ns() - racy_ms * 1_000_000, true).to_string()
}

/// A copy's identity as the copy left it (an fstat after its last change), so that the state
/// need not stat it again: `hash:size:mtime` (the hash never `?`: the caller records it only after
/// the racy window has passed since the copy; a change after this fstat changes the ctime, so the
/// next check sees it).
pub fn written_identity(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}:{}:{}", meta_identity(m, i128::MAX, false), m.size(), times_of(m).0)
}

fn times_of(m: &std::fs::Metadata) -> (i128, i128) {
    use std::os::unix::fs::MetadataExt;
    let t = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    (t(m.mtime(), m.mtime_nsec()), t(m.ctime(), m.ctime_nsec()))
}

fn meta_identity(m: &std::fs::Metadata, racy_after: i128, src: bool) -> Id {
    use std::os::unix::fs::MetadataExt;
    let d = m.dev();
    // glibc's gnu_dev_major / gnu_dev_minor, as statx reports them.
    let dev = (
        (((d >> 8) & 0xfff) | ((d >> 32) & !0xfff)) as u32,
        ((d & 0xff) | ((d >> 12) & !0xff)) as u32,
    );
    id_of(dev, m.ino(), m.size(), times_of(m), m.mode(), racy_after, src)
}

/// `name` as a C string for `f`, on the stack when short (no allocation per stat); None if it holds
/// a NUL.
fn with_cname<R>(name: &str, f: impl FnOnce(&CStr) -> R) -> Option<R> {
    let b = name.as_bytes();
    if b.contains(&0) {
        return None;
    }
    let mut stack = [0u8; 256];
    if b.len() < stack.len() {
        stack[..b.len()].copy_from_slice(b);
        return Some(f(CStr::from_bytes_until_nul(&stack).ok()?));
    }
    Some(f(&CString::new(b).ok()?))
}

fn do_statx(dir: c_int, name: &CStr, flags: c_int, racy_after: i128, src: bool) -> Seen {
    let mut st = Statx::default();
    if unsafe { statx(dir, name.as_ptr(), flags, STATX_BASIC_STATS, &mut st) } != 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        let id = if matches!(e, Some(ENOENT) | Some(ENOTDIR)) {
            Id::Absent
        } else {
            Id::Unreadable
        };
        return Seen { id, st: None };
    }
    Seen {
        id: identity(&st, racy_after, src),
        st: Some(st),
    }
}

/// The parent directory last opened by a thread (consecutive lines share their directory).
#[derive(Default)]
pub(crate) struct DirCache {
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
/// lookup does), and the descriptor of its parent (-1: none; AT_FDCWD for `/`), for `sniff`.
pub(crate) fn stat_src(cache: &mut DirCache, path: &str, follow: bool, racy_after: i128) -> (Seen, c_int) {
    let gone = |id| (Seen { id, st: None }, -1);
    if !path.starts_with('/') {
        return gone(Id::Unreadable);
    }
    let (parent, name) = split_parent(path);
    let flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW };
    if name.is_empty() {
        return (do_statx(AT_FDCWD, c"/", flags, racy_after, true), AT_FDCWD);
    }
    let dir = cache.get(parent, || {
        let p = CString::new(parent).ok()?;
        let fd = unsafe { open(p.as_ptr(), O_PATH | O_DIRECTORY | O_CLOEXEC) };
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    });
    match dir {
        Some(d) => with_cname(name, |n| (do_statx(d, n, flags, racy_after, true), d)).unwrap_or(gone(Id::Unreadable)),
        // A parent that is gone or not a directory: the source is absent.
        None => gone(Id::Absent),
    }
}

/// A destination: `inner` below the root's descriptor, no component followed if it is a link.
pub(crate) fn stat_dest(cache: &mut DirCache, root: c_int, inner: &str, racy_after: i128) -> Seen {
    let rel = inner.trim_start_matches('/');
    if rel.is_empty() {
        return do_statx(root, c"", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, racy_after, false);
    }
    let (parent, name) = match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    };
    let unreadable = Seen {
        id: Id::Unreadable,
        st: None,
    };
    if name.is_empty() || name == "." || name == ".." {
        return unreadable;
    }
    let dir = if parent.is_empty() {
        Some(root)
    } else {
        cache.get(parent, || beneath::open_dir_fd(root, parent).ok())
    };
    match dir {
        Some(d) => with_cname(name, |n| do_statx(d, n, AT_SYMLINK_NOFOLLOW, racy_after, false)).unwrap_or(unreadable),
        None => Seen {
            id: Id::Absent,
            st: None,
        },
    }
}

/// Whether the source `path` (its parent open as `dir`, from `stat_src`) starts with the ELF magic
/// (read without blocking).
pub(crate) fn sniff(dir: c_int, path: &str, follow: bool) -> bool {
    let name = match split_parent(path).1 {
        "" => "/",
        n => n,
    };
    let nofollow = if follow { 0 } else { crate::safe_file::O_NOFOLLOW };
    let fd = with_cname(name, |n| unsafe {
        openat(dir, n.as_ptr(), O_NONBLOCK | O_CLOEXEC | nofollow)
    });
    let Some(fd) = fd.filter(|&fd| fd >= 0) else {
        return false;
    };
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
        if !valid_follow(follow, &src) {
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

/// A line's follow mode, which a source path has exactly when it is not `-`.
pub(crate) fn valid_follow(follow: &str, src: &str) -> bool {
    matches!(follow, "S" | "L" | "-") && (follow == "-") == src.is_empty()
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

pub(crate) fn root_arg(a: &[String]) -> Result<c_int> {
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
            Some("src") if l.follow != "-" && l.src_id == "-" => {
                stat_src(sc, &l.src, l.follow == "S", racy_after).0.id.to_string()
            }
            Some("src") if l.follow != "-" => l.src_id.to_string(),
            // A destination whose identity the copy gave (tree_copy.rs) is kept as it is.
            Some("dest") if !l.inner.is_empty() && l.dest_id != "-" => l.dest_id.to_string(),
            Some("dest") if !l.inner.is_empty() => {
                let seen = stat_dest(dc, root, &l.inner, racy_after);
                // A copy without its source's size and mtime (changed since) is not recorded as one.
                let sm = seen.st.as_ref().map(|st| (st.size, ns(st.mtime)));
                if l.rest.starts_with('f') && src_size_mtime(l.src_id) != sm {
                    "?".to_string()
                } else {
                    seen.id.to_string()
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
pub(crate) fn src_size_mtime(id: &str) -> Option<(u64, i128)> {
    let mut f = id.split(':').skip(1);
    let (size, mtime) = (f.next()?.parse().ok()?, f.next()?);
    // As an i64 first: parsing an i128 costs several times more, 20,000 times a check.
    Some((
        size,
        mtime.parse::<i64>().map(i128::from).or_else(|_| mtime.parse()).ok()?,
    ))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_walks_identity_is_the_checks() {
        let path = std::env::temp_dir().join(format!("bom-state-id-{}", std::process::id()));
        std::fs::write(&path, b"walked").unwrap();
        let walk = identity_of(&std::fs::symlink_metadata(&path).unwrap(), -10_000);
        let mut cache = DirCache::default();
        let (seen, _) = stat_src(&mut cache, path.to_str().unwrap(), false, i128::MAX);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(walk, seen.id.to_string());
        assert!(walk.contains(":6:"), "{walk}"); // size in clear, for the quick check
    }

    #[test]
    fn an_identity_matches_exactly_its_own_text() {
        let ids = [
            Id::Known(0, None),
            Id::Known(u64::MAX, None),
            Id::Known(0x0123_4567_89ab_cdef, Some((0, 0))),
            Id::Known(7, Some((26_214, 1_796_626_082_822_065_741))),
            Id::Known(7, Some((u64::MAX, -1))),
            Id::Known(7, Some((1, -1_000_000_000_000_000_000))),
            Id::Known(7, Some((1, i128::from(u64::MAX) + 1))),
            Id::Known(7, Some((1, i128::MIN))),
        ];
        for id in ids {
            let text = id.to_string();
            assert!(id.is(&text), "{text}");
            // Any other text of it: a digit more or less, a leading zero, another case, a sign.
            let mut others = vec![
                format!("{text}0"),
                text[..text.len() - 1].to_string(),
                text.to_uppercase(),
            ];
            if let Some((head, last)) = text.rsplit_once(':') {
                others.push(format!("{head}:0{last}"));
                others.push(format!("{head}:-{}", last.trim_start_matches('-')));
                others.push(format!("{head}:+{last}"));
            }
            for other in others.into_iter().filter(|o| *o != text) {
                assert!(!id.is(&other), "{other} is not {text}");
            }
        }
        for (id, text) in [(Id::Absent, "x"), (Id::Unreadable, "e"), (Id::Racy, "?")] {
            assert!(id.is(text) && !id.is("0000000000000000"));
        }
        assert!(!Id::Known(0, Some((0, 0))).is("0000000000000000:0"));
    }

    #[test]
    fn refuses_malformed_lines_and_never_climbs_out() {
        assert!(parse("S\t5|x\t0|\t-\t-\tp").is_err()); // a prefix longer than the previous path
        assert!(parse("-\t0|/src\t0|/x\t-\t-\tf").is_err()); // a source without a follow mode
        assert!(parse("S\t0|/a").is_err());
        let root = std::fs::File::open(std::env::temp_dir()).unwrap();
        let mut cache = DirCache::default();
        let seen = stat_dest(&mut cache, root.as_raw_fd(), "/../etc/passwd", i128::MAX);
        assert_eq!(seen.id, Id::Absent);
        assert!(seen.st.is_none());
    }
}
