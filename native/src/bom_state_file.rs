//! The saved bom state's file (src/core/bom/state.ts writes it: `HEADER\nLINES\nmac HEX\n`, the
//! HMAC-SHA256 of everything before `\nmac ` under the per-user key), checked and patched here so
//! that a `bom copy` of an unchanged tree never copies its lines into fresh memory. 20,000 files
//! make 2 MB of lines; on a VM whose page faults cost tens of microseconds, a Buffer, a string and
//! the addon's copy of them cost as much as the 40,000 stats. The file is mapped instead (page-cache
//! pages, mapped many at a fault) and its lines are walked in place, on two threads.
//!
//! The state dir is the user's private directory and a state is only ever replaced by rename, never
//! truncated in place, so a mapping cannot lose its pages under the walk.

use crate::bom_state::{
    identity, sniff, src_size_mtime, stat_dest, stat_src, valid_follow, DirCache, RACY_NS, S_IFMT, S_IFREG,
};
use crate::crypto::{hex, hmac_sha256, parse_hex, random_bytes};
use crate::error::{Error, Kind, Result};
use crate::ops::js;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

extern "C" {
    fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: i64) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn getuid() -> u32;
}

const PROT_READ: c_int = 1;
const MAP_PRIVATE: c_int = 2;
/// A state bigger than this is not ours (as MAX_BYTES in state.ts).
const MAX_BYTES: u64 = 256 << 20;

/// Why a state is not used (the JS side reports it as the copy's note).
const TRUNCATED: &str = "the saved state is truncated";
const FORGED: &str = "the saved state fails its MAC check";
const BAD_HEADER: &str = "the saved state has a bad header";
const MALFORMED: &str = "the saved state has a malformed line";
const OTHER_VERSION: &str = "the saved state is of another version";

/// A state file mapped read-only.
struct Mapped {
    ptr: *mut c_void,
    len: usize,
}

impl Mapped {
    fn bytes(&self) -> &[u8] {
        // SAFETY: a live read-only mapping of len bytes (see the module comment on truncation).
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        unsafe { munmap(self.ptr, self.len) };
    }
}

/// A verified state: the header line and the lines, or why it cannot be trusted.
struct Verified {
    map: Mapped,
    /// End of the header line; the lines run from header_end + 1 to body_end.
    header_end: usize,
    body_end: usize,
    /// The file mapped (an in-place rewrite checks it writes to the same one).
    dev: u64,
    ino: u64,
}

impl Verified {
    fn header(&self) -> &str {
        std::str::from_utf8(&self.map.bytes()[..self.header_end]).unwrap_or("")
    }
    fn lines(&self) -> &str {
        std::str::from_utf8(&self.map.bytes()[self.header_end + 1..self.body_end]).unwrap_or("")
    }
}

/// Maps the state at `path` (a regular file of this user's, no link) and checks its MAC.
fn verified(path: &str, key_hex: &str) -> Result<std::result::Result<Verified, &'static str>> {
    let key = parse_hex(key_hex)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| Error::new(Kind::Usage, "the state key is 32 bytes in hex"))?;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::safe_file::O_NOFOLLOW | crate::safe_file::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err("no saved state")),
        Err(_) => return Ok(Err("the saved state is not a regular file")),
    };
    let m = file.metadata().map_err(|e| Error::io(e, path))?;
    if !m.is_file() || m.uid() != unsafe { getuid() } || m.len() > MAX_BYTES {
        return Ok(Err("the saved state is not a regular file"));
    }
    if m.len() == 0 {
        return Ok(Err(TRUNCATED));
    }
    let len = m.len() as usize;
    // SAFETY: a private read-only mapping of the whole file, unmapped by Mapped's drop.
    let ptr = unsafe { mmap(std::ptr::null_mut(), len, PROT_READ, MAP_PRIVATE, file.as_raw_fd(), 0) };
    if ptr as isize == -1 {
        return Err(Error::io(std::io::Error::last_os_error(), path));
    }
    let map = Mapped { ptr, len };
    let b = map.bytes();
    let Some(at) = b.windows(5).rposition(|w| w == b"\nmac ") else {
        return Ok(Err(TRUNCATED));
    };
    if b[len - 1] != b'\n' {
        return Ok(Err(TRUNCATED));
    }
    let want = hmac_sha256(&key, &[&b[..at]]);
    let got = std::str::from_utf8(&b[at + 5..len - 1]).ok().and_then(parse_hex);
    // Compared in full whatever differs first (no early exit an attacker could time).
    let same = got.is_some_and(|g| g.len() == 32 && g.iter().zip(want).fold(0, |d, (x, y)| d | (x ^ y)) == 0);
    if !same {
        return Ok(Err(FORGED));
    }
    let Some(header_end) = b[..at].iter().position(|&c| c == b'\n') else {
        return Ok(Err(BAD_HEADER));
    };
    if std::str::from_utf8(&b[..at]).is_err() {
        return Ok(Err(MALFORMED));
    }
    Ok(Ok(Verified {
        map,
        header_end,
        body_end: at,
        dev: m.dev(),
        ino: m.ino(),
    }))
}

/// One line's fields, its paths decoded into the walk's buffers.
struct Fields<'a> {
    follow: &'a str,
    src_id: &'a str,
    dest_id: &'a str,
    rest: &'a str,
    raw: &'a str,
}

/// The lines in order, each `src` and `inner` decoded after the previous line's (state.ts `coder`).
struct Walk<'a> {
    text: &'a str,
    at: usize,
    index: usize,
    src: String,
    inner: String,
}

/// `n|rest` after `prev`, in place.
fn decode_into(prev: &mut String, coded: &str) -> bool {
    let Some((n, rest)) = coded.split_once('|') else {
        return false;
    };
    match n.parse::<usize>() {
        Ok(n) if n <= prev.len() && prev.is_char_boundary(n) => {
            prev.truncate(n);
            prev.push_str(rest);
            true
        }
        _ => false,
    }
}

impl<'a> Walk<'a> {
    fn new(text: &'a str) -> Walk<'a> {
        Walk {
            text,
            at: 0,
            index: 0,
            src: String::new(),
            inner: String::new(),
        }
    }

    /// The next line (its index is `self.index - 1` after the call).
    fn step(&mut self) -> Result<Fields<'a>> {
        let bad = || Error::new(Kind::Format, MALFORMED);
        if self.at > self.text.len() {
            return Err(bad());
        }
        let end = self.text[self.at..].find('\n').map_or(self.text.len(), |i| self.at + i);
        let raw = &self.text[self.at..end];
        self.at = end + 1;
        self.index += 1;
        let mut f = raw.splitn(6, '\t');
        let mut next = || f.next().ok_or_else(bad);
        let (follow, src_coded, inner_coded) = (next()?, next()?, next()?);
        let (src_id, dest_id, rest) = (next()?, next()?, next()?);
        if !decode_into(&mut self.src, src_coded) || !decode_into(&mut self.inner, inner_coded) {
            return Err(bad());
        }
        if !valid_follow(follow, &self.src) {
            return Err(bad());
        }
        Ok(Fields {
            follow,
            src_id,
            dest_id,
            rest,
            raw,
        })
    }
}

/// A line that differs from disk.
struct Hit<'a> {
    index: usize,
    src_now: Option<String>,
    attrs: Option<String>,
    dest: bool,
    src: String,
    inner: String,
    raw: &'a str,
    rest: &'a str,
}

/// Whether a line still matches disk; `files`: every destination, else directories only.
fn check_line(
    l: &Fields,
    src: &str,
    inner: &str,
    root: c_int,
    files: bool,
    caches: &mut (DirCache, DirCache),
) -> Option<(Option<String>, Option<String>, bool)> {
    // Only what was recorded as racy (`?`) is racy here: compare identities exactly.
    let never = i128::MAX;
    let (sc, dc) = caches;
    let mut src_now = None;
    let mut attrs = None;
    // The recorded source's size and mtime, as the source has them now when it matched.
    let mut src_size_mtime_now = None;
    if l.follow != "-" {
        let (seen, dir) = stat_src(sc, src, l.follow == "S", never);
        if seen.id.is(l.src_id) && l.src_id != "?" {
            if let crate::bom_state::Id::Known(_, sm) = seen.id {
                src_size_mtime_now = sm;
            }
        } else {
            if let Some(st) = &seen.st {
                let reg = st.mode & S_IFMT == S_IFREG;
                let elf = reg && st.size >= 64 && sniff(dir, src, l.follow == "S");
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
            src_now = Some(match &seen.st {
                Some(st) => identity(st, crate::bom_state::now_ns() - RACY_NS, true).to_string(),
                None => seen.id.to_string(),
            });
        }
    }
    let mut dest = false;
    let file = l.rest.starts_with('f') || l.rest.starts_with('l');
    if !inner.is_empty() && (files || !file) {
        let seen = stat_dest(dc, root, inner, never);
        dest = !seen.id.is(l.dest_id) || l.dest_id == "?";
        if !dest && l.rest.starts_with('f') {
            let recorded = src_size_mtime_now.or_else(|| src_size_mtime(l.src_id));
            dest = recorded.is_none() || recorded != seen.st.map(|st| (st.size, crate::bom_state::ns(st.mtime)));
        }
    }
    (src_now.is_some() || dest).then_some((src_now, attrs, dest))
}

/// What one thread found: the lines that differ, and every directory's line (a changed entry's
/// parent is looked up there), with indexes counted from the thread's first line.
struct Part<'a> {
    hits: Vec<Hit<'a>>,
    /// inner path: (index, src, the line).
    dirs: Vec<(String, usize, String, &'a str)>,
    lines: usize,
}

/// Checks the lines from `walk` on until the one that starts at byte `end`.
fn check_part(mut walk: Walk<'_>, end: usize, root: c_int, files: bool) -> Result<Part<'_>> {
    let mut caches = (DirCache::default(), DirCache::default());
    let (first, mut hits, mut dirs) = (walk.index, Vec::new(), Vec::new());
    while walk.at < end {
        let l = walk.step()?;
        let index = walk.index - 1 - first;
        if is_dir(l.rest) {
            dirs.push((walk.inner.clone(), index, walk.src.clone(), l.raw));
        }
        if let Some((src_now, attrs, dest)) = check_line(&l, &walk.src, &walk.inner, root, files, &mut caches) {
            hits.push(Hit {
                index,
                src_now,
                attrs,
                dest,
                src: walk.src.clone(),
                inner: walk.inner.clone(),
                raw: l.raw,
                rest: l.rest,
            });
        }
    }
    Ok(Part {
        hits,
        dirs,
        lines: walk.index - first,
    })
}

/// Where a second thread can start: a line after the middle byte whose paths are written whole
/// (`0|`: state.ts writes one every SYNC_EVERY lines), else the walk decoded to the middle line
/// (a state written before those lines).
fn second_start(text: &str) -> Result<Walk<'_>> {
    let mut at = text.len() / 2;
    for _ in 0..4096 {
        // Bytes: the middle may fall inside a character; the byte after a newline cannot.
        let Some(nl) = text.as_bytes()[at..].iter().position(|&b| b == b'\n') else {
            break;
        };
        at += nl + 1;
        let line = &text[at..];
        let mut f = line.splitn(4, '\t');
        let (_, src, inner) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if src.starts_with("0|") && inner.starts_with("0|") {
            let mut w = Walk::new(text);
            w.at = at;
            return Ok(w);
        }
    }
    let n = if text.is_empty() {
        0
    } else {
        text.bytes().filter(|&b| b == b'\n').count() + 1
    };
    let mut w = Walk::new(text);
    for _ in 0..n / 2 {
        w.step()?;
    }
    // Counted from 0 as a sync line's walk is, the first thread's count is added after.
    w.index = 0;
    Ok(w)
}

fn is_dir(rest: &str) -> bool {
    rest.starts_with('d') || rest.starts_with('q')
}

/// `bomStateCheckFile`: args (root fd, `files` or `dirs`, the state's path, the key in hex, and
/// optionally how the header starts: the state's version).
/// Returns `{"refused": why}` for a state that cannot be trusted, else `{"header": <the header
/// line>, "rows": [[index, srcId now or null if the same, source attributes or null, dest differs
/// 0/1, src, inner, index of the parent dir's line or -1, its src, for a directory of the root that
/// changed the names the state puts in it else null, the line, the parent's line or null], ...]}`.
/// The attributes are `[size, mode, uid, gid, ino, atime s, ns, mtime s, ns, elf 0/1]` (the ELF magic
/// is read for a regular file of at least 64 bytes). A copy whose size or mtime is not its recorded
/// source's counts as changed (so even a state that lies cannot skip rsync's quick check).
pub fn check_file(a: &[String]) -> Result<String> {
    let root = crate::bom_state::root_arg(a)?;
    let files = match a.get(1).map(String::as_str) {
        Some("files") => true,
        Some("dirs") => false,
        _ => return Err(Error::new(Kind::Usage, "bomStateCheckFile takes files|dirs")),
    };
    let (Some(path), Some(key)) = (a.get(2), a.get(3)) else {
        return Err(Error::new(
            Kind::Usage,
            "bomStateCheckFile takes the state's path and key",
        ));
    };
    let v = match verified(path, key)? {
        Ok(v) => v,
        Err(why) => return Ok(format!("{{\"refused\":{}}}", js(why))),
    };
    // Another version's lines would all differ (their identities are computed otherwise): not
    // worth 40,000 stats and a sniff of every file to learn that.
    if a.get(4).is_some_and(|p| !v.header().starts_with(p.as_str())) {
        return Ok(format!("{{\"refused\":{}}}", js(OTHER_VERSION)));
    }
    match check_lines(v.lines(), root, files) {
        Ok(rows) => Ok(format!("{{\"header\":{},\"rows\":{}}}", js(v.header()), rows)),
        Err(e) if e.kind == Kind::Format => Ok(format!("{{\"refused\":{}}}", js(MALFORMED))),
        Err(e) => Err(e),
    }
}

/// The rows of `check_file` for the lines of a verified state.
fn check_lines(text: &str, root: c_int, files: bool) -> Result<String> {
    if text.is_empty() {
        return Ok("[]".into());
    }
    let second = second_start(text)?;
    let split = second.at;
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| check_part(Walk::new(text), split, root, files));
        let b = check_part(second, text.len() + 1, root, files);
        (h.join().expect("the check's thread panicked"), b)
    });
    let (a, mut b) = (a?, b?);
    for h in &mut b.hits {
        h.index += a.lines;
    }
    let hits: Vec<Hit> = a.hits.into_iter().chain(b.hits).collect();
    if hits.is_empty() {
        return Ok("[]".into());
    }
    let dirs: HashMap<&str, (usize, &str, &str)> = a
        .dirs
        .iter()
        .map(|(inner, i, src, raw)| (inner.as_str(), (*i, src.as_str(), *raw)))
        .chain(
            b.dirs
                .iter()
                .map(|(inner, i, src, raw)| (inner.as_str(), (i + a.lines, src.as_str(), *raw))),
        )
        .collect();
    // The names the state puts in each directory of the root whose listing changed (for strays):
    // one more walk, only then.
    let changed: Vec<String> = hits
        .iter()
        .filter(|h| h.dest && is_dir(h.rest))
        .map(|h| {
            if h.inner == "/" {
                "/".to_string()
            } else {
                format!("{}/", h.inner)
            }
        })
        .collect();
    let mut children: Vec<Vec<String>> = vec![Vec::new(); changed.len()];
    if !changed.is_empty() {
        // Only each line's image path is decoded (the walk's lines were checked well-formed).
        let mut inner = String::new();
        for line in text.split('\n') {
            let coded = line.split('\t').nth(2).unwrap_or("");
            if !decode_into(&mut inner, coded) {
                return Err(Error::new(Kind::Format, MALFORMED));
            }
            for (c, prefix) in changed.iter().enumerate() {
                if let Some(name) = inner.strip_prefix(prefix.as_str()) {
                    if !name.is_empty() && !name.contains('/') {
                        children[c].push(js(name));
                    }
                }
            }
        }
    }
    let mut out = String::from("[");
    let mut c = 0;
    for h in &hits {
        if out.len() > 1 {
            out.push(',');
        }
        let kids = if h.dest && is_dir(h.rest) {
            c += 1;
            format!("[{}]", children[c - 1].join(","))
        } else {
            "null".to_string()
        };
        let parent = match h.inner.rfind('/') {
            Some(0) if h.inner.len() > 1 => dirs.get("/"),
            Some(k) if k > 0 => dirs.get(&h.inner[..k]),
            _ => None,
        };
        let _ = write!(
            out,
            "[{},{},{},{},{},{},{},{},{},{},{}]",
            h.index,
            h.src_now.as_deref().map_or("null".into(), js),
            h.attrs.as_deref().unwrap_or("null"),
            h.dest as u8,
            js(&h.src),
            js(&h.inner),
            parent.map_or(-1, |p| p.0 as i64),
            js(parent.map_or("", |p| p.1)),
            kids,
            js(h.raw),
            parent.map_or("null".into(), |p| js(p.2)),
        );
    }
    out.push(']');
    Ok(out)
}

/// `bomStateRewrite`: args (the state's path, the key in hex, the new header line, then for each
/// changed line its index, its text as checked and its new text). Writes the state again with those
/// lines (a new file renamed over the old one, mode 0600) and returns `{"ok":true}`, or
/// `{"refused": why}` when the state is not the one checked (replaced or forged since).
pub fn rewrite(a: &[String]) -> Result<String> {
    let usage = || {
        Error::new(
            Kind::Usage,
            "bomStateRewrite takes path, key, header, then index/old/new triples",
        )
    };
    let (Some(path), Some(key), Some(header)) = (a.first(), a.get(1), a.get(2)) else {
        return Err(usage());
    };
    if header.contains('\n') || a.len() % 3 != 0 {
        return Err(usage());
    }
    let mut patches: Vec<(usize, &str, &str)> = Vec::new();
    for t in a[3..].chunks(3) {
        let i = t[0].parse().map_err(|_| usage())?;
        if t[2].contains('\n') {
            return Err(usage());
        }
        patches.push((i, &t[1], &t[2]));
    }
    patches.sort_by_key(|p| p.0);
    let v = match verified(path, key)? {
        Ok(v) => v,
        Err(why) => return Ok(format!("{{\"refused\":{}}}", js(why))),
    };
    let text = v.lines();
    // The pieces of the new file: the unchanged runs of lines are slices of the mapping.
    let mut parts: Vec<&[u8]> = vec![header.as_bytes(), b"\n"];
    // Where each new line goes in the file, for a rewrite in place.
    let mut spots: Vec<(usize, &[u8])> = vec![(0, header.as_bytes())];
    let (mut at, mut line, mut from) = (0usize, 0usize, 0usize);
    for (i, old, new) in &patches {
        while line < *i {
            at = text[at..]
                .find('\n')
                .map(|k| at + k + 1)
                .ok_or_else(|| Error::new(Kind::Format, MALFORMED))?;
            line += 1;
        }
        let end = text[at..].find('\n').map_or(text.len(), |k| at + k);
        if &text[at..end] != *old {
            return Ok(format!(
                "{{\"refused\":{}}}",
                js("the saved state changed since it was checked")
            ));
        }
        parts.extend([&text.as_bytes()[from..at], new.as_bytes()]);
        spots.push((v.header_end + 1 + at, new.as_bytes()));
        from = end;
    }
    parts.push(&text.as_bytes()[from..]);
    let mac = hex(&hmac_sha256(&parse_hex(key).unwrap_or_default(), &parts));
    // Every line keeping its length (the usual edit: a changed file's new identity): only those
    // bytes and the MAC are written, not the whole file again.
    let same_len = header.len() == v.header_end && patches.iter().all(|(_, old, new)| old.len() == new.len());
    spots.push((v.body_end + 5, mac.as_bytes()));
    if same_len && patch_in_place(path, &v, &spots)? {
        return Ok("{\"ok\":true}".into());
    }
    let tail = format!("\nmac {mac}\n");
    parts.push(tail.as_bytes());
    write_replacing(path, &parts)?;
    Ok("{\"ok\":true}".into())
}

/// Writes `spots` (offset, bytes) into the state in place when it is still the file `v` mapped;
/// false when it is not (the caller writes a new one). A write cut short leaves a file whose MAC
/// fails: the next check refuses it, as any state it cannot trust, and the copy walks in full.
fn patch_in_place(path: &str, v: &Verified, spots: &[(usize, &[u8])]) -> Result<bool> {
    use std::os::unix::fs::FileExt;
    let f = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(crate::safe_file::O_NOFOLLOW | crate::safe_file::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(_) => return Ok(false),
    };
    let m = f.metadata().map_err(|e| Error::io(e, path))?;
    if !m.is_file() || m.dev() != v.dev || m.ino() != v.ino || m.len() != v.map.len as u64 {
        return Ok(false);
    }
    for (at, bytes) in spots {
        f.write_all_at(bytes, *at as u64).map_err(|e| Error::io(e, path))?;
    }
    Ok(true)
}

/// `bomStateFind`: args (the state's path, the key in hex, then source paths); the lines whose
/// source is one of them, as `{"rows": [[index, src, inner, the line], ...]}` or `{"refused": why}`
/// (the dev loop's hinted copy after a copy from the state).
pub fn find(a: &[String]) -> Result<String> {
    let (Some(path), Some(key)) = (a.first(), a.get(1)) else {
        return Err(Error::new(
            Kind::Usage,
            "bomStateFind takes the state's path and key, then paths",
        ));
    };
    let wanted: std::collections::HashSet<&str> = a[2..].iter().map(String::as_str).collect();
    let v = match verified(path, key)? {
        Ok(v) => v,
        Err(why) => return Ok(format!("{{\"refused\":{}}}", js(why))),
    };
    let text = v.lines();
    let mut walk = Walk::new(text);
    let mut rows = Vec::new();
    while walk.at <= text.len() && !text.is_empty() {
        let l = match walk.step() {
            Ok(l) => l,
            Err(_) => return Ok(format!("{{\"refused\":{}}}", js(MALFORMED))),
        };
        if wanted.contains(walk.src.as_str()) {
            let i = walk.index - 1;
            rows.push(format!("[{},{},{},{}]", i, js(&walk.src), js(&walk.inner), js(l.raw)));
        }
    }
    Ok(format!("{{\"rows\":[{}]}}", rows.join(",")))
}

/// Writes `parts` to a new file beside `path` (a random name, created exclusively: a link planted at
/// a guessable name is not written through) and renames it over `path`.
fn write_replacing(path: &str, parts: &[&[u8]]) -> Result<()> {
    let p = std::path::Path::new(path);
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(Error::new(Kind::Usage, "the state's path has no directory"));
    };
    let mut r = [0u8; 6];
    random_bytes(&mut r);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        hex(&r)
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(crate::safe_file::O_NOFOLLOW)
            .open(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        std::fs::rename(&tmp, p)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(e, path)
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::bom_state::state_stat;
    use std::os::fd::IntoRawFd;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// A state file as state.ts writes it.
    fn save(path: &std::path::Path, header: &str, lines: &str) {
        let body = format!("{header}\n{lines}");
        let mac = hex(&hmac_sha256(&parse_hex(KEY).unwrap(), &[body.as_bytes()]));
        std::fs::write(path, format!("{body}\nmac {mac}\n")).unwrap();
    }

    fn lines(src: &str, dest: &str) -> String {
        // A source-only probe, a file (paths written after the previous line's), a directory.
        format!("S\t0|{src}/a\t0|\t-\t-\tp\t-\t-\t-\t\nL\t0|{src}/b\t0|/b\t-\t-\tf\tdirs\tn\t0\t\n-\t0|\t0|{dest}\t-\t-\tq\t-\t-\t-\t")
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bom-state-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn rows(fd: &str, mode: &str, path: &std::path::Path) -> String {
        let out = check_file(&[fd.into(), mode.into(), path.to_str().unwrap().into(), KEY.into()]).unwrap();
        let at = out.find("\"rows\":").unwrap_or_else(|| panic!("{out}"));
        out[at + 7..out.len() - 1].to_string()
    }

    #[test]
    fn records_then_finds_what_changed() {
        let dir = scratch("changed");
        let (src, root) = (dir.join("src"), dir.join("root"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(src.join("a"), b"bom").unwrap();
        std::fs::write(src.join("b"), b"12345").unwrap();
        std::fs::copy(src.join("b"), root.join("b")).unwrap();
        let mtime = std::fs::metadata(src.join("b")).unwrap().modified().unwrap();
        let copy = std::fs::File::options().write(true).open(root.join("b")).unwrap();
        copy.set_modified(mtime).unwrap();
        let fd = std::fs::File::open(&root).unwrap().into_raw_fd().to_string();
        let text = lines(src.to_str().unwrap(), "/d");
        let recorded = state_stat(&[fd.clone(), "src".into(), "0".into(), text]).unwrap();
        let recorded = state_stat(&[fd.clone(), "dest".into(), "0".into(), recorded]).unwrap();
        assert!(!recorded.contains("\t?\t"), "{recorded}");
        let state = dir.join("s.state");
        save(&state, "{\"v\":1}", &recorded);
        let whole = check_file(&[fd.clone(), "files".into(), state.to_str().unwrap().into(), KEY.into()]).unwrap();
        assert_eq!(whole, "{\"header\":\"{\\\"v\\\":1}\",\"rows\":[]}");
        // A copy edited in place: seen with the files, not with the directories only.
        std::fs::write(root.join("b"), b"54321").unwrap();
        let files = rows(&fd, "files", &state);
        assert!(files.starts_with("[[1,null,null,1,"), "{files}");
        assert!(files.contains(",\"L\\t0|"), "the line itself: {files}");
        assert_eq!(rows(&fd, "dirs", &state), "[]");
        // A changed probe: its new identity and attributes.
        std::fs::write(src.join("a"), b"bom2").unwrap();
        assert!(rows(&fd, "dirs", &state).starts_with("[[0,\""));
        // A file in a directory of the root: the directory differs, with the names planned in it.
        std::fs::write(root.join("d/stray"), b"x").unwrap();
        let strays = rows(&fd, "dirs", &state);
        assert!(
            strays.contains(",[2,null,null,1,\"\",\"/d\",-1,\"\",[],\"-\\t0|"),
            "{strays}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hit_in_the_second_half_has_its_own_index_and_parent() {
        // Without sync lines (a state written before them) the second thread decodes its way to
        // the middle line; with them (state.ts writes one every 256 lines) it starts at one.
        for sync in [false, true] {
            let dir = scratch(if sync { "halves-sync" } else { "halves" });
            let root = dir.join("root");
            std::fs::create_dir_all(root.join("d")).unwrap();
            let fd = std::fs::File::open(&root).unwrap().into_raw_fd().to_string();
            // A directory, then 999 links in it (destinations only, paths after the previous line's).
            let mut text = String::from("-\t0|\t0|/d\t-\t-\td\tmkdir\t-\t-\t");
            for i in 0..999 {
                let inner = if sync && (i + 1) % 256 == 0 {
                    format!("0|/d/l{i}")
                } else {
                    format!("2|/l{i}")
                };
                let _ = write!(text, "\n-\t0|\t{inner}\t-\t-\tl\tcreatelink\t-\t-\tt");
            }
            let recorded = state_stat(&[fd.clone(), "dest".into(), "0".into(), text]).unwrap();
            let start = second_start(&recorded).unwrap();
            let at = &recorded[start.at..];
            assert!(!sync || at.starts_with("-\t0|\t0|/d/l511\t"), "{}", &at[..20]);
            assert!(sync || at.starts_with("-\t0|\t2|/l499\t"), "{}", &at[..20]);
            let state = dir.join("s.state");
            save(&state, "{}", &recorded);
            std::os::unix::fs::symlink("t", root.join("d/l900")).unwrap();
            // Line 901 (the second thread's), its parent line 0; /d itself changed too (a new entry).
            let hits = rows(&fd, "files", &state);
            assert!(
                hits.contains(",[901,null,null,1,\"\",\"/d/l900\",0,\"\",null,"),
                "{hits}"
            );
            assert!(
                hits.starts_with("[[0,null,null,1,\"\",\"/d\",-1,\"\",[\"l0\","),
                "{hits}"
            );
            assert!(hits.contains("\"l998\"]"), "every name in /d is listed: {hits}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let dir = scratch("refused");
        let fd = std::fs::File::open(&dir).unwrap().into_raw_fd().to_string();
        let state = dir.join("s.state");
        let refused = |why: &str| {
            let out = check_file(&[fd.clone(), "files".into(), state.to_str().unwrap().into(), KEY.into()]).unwrap();
            assert_eq!(out, format!("{{\"refused\":\"{why}\"}}"));
        };
        refused("no saved state");
        let find = || find(&[state.to_str().unwrap().into(), KEY.into(), "/s/b".into()]).unwrap();
        assert_eq!(find(), "{\"refused\":\"no saved state\"}");
        save(&state, "{}", "-\t0|\t0|/x\t-\t-\td\tmkdir\t-\t-\t");
        let good = std::fs::read_to_string(&state).unwrap();
        save(
            &state,
            "{}",
            "S\t0|/s/a\t0|/a\t-\t-\tf\tfiles\ta\t-\t\nS\t3|b\t1|b\t-\t-\tf\tfiles\ta\t-\t",
        );
        assert_eq!(
            find(),
            "{\"rows\":[[1,\"/s/b\",\"/b\",\"S\\t3|b\\t1|b\\t-\\t-\\tf\\tfiles\\ta\\t-\\t\"]]}"
        );
        std::fs::write(&state, good.replace("mkdir", "mkdiR")).unwrap();
        refused(FORGED);
        std::fs::write(&state, &good[..good.len() - 1]).unwrap();
        refused(TRUNCATED);
        std::fs::write(&state, "").unwrap();
        refused(TRUNCATED);
        save(&state, "{}", "S\t9|/x\t0|\t-\t-\tp\t-\t-\t-\t");
        refused(MALFORMED);
        std::fs::remove_file(&state).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &state).unwrap();
        refused("the saved state is not a regular file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rewrites_lines_under_a_new_mac_and_only_the_state_checked() {
        let dir = scratch("rewrite");
        let state = dir.join("s.state");
        let l = [
            "-\t0|\t0|/a\t-\tx\td\tmkdir\t-\t-\t",
            "-\t0|\t1|b\t-\tx\td\tmkdir\t-\t-\t",
            "-\t0|\t1|c\t-\tx\td\tmkdir\t-\t-\t",
        ];
        save(&state, "{\"strays\":[]}", &l.join("\n"));
        let path = state.to_str().unwrap().to_string();
        let new = l[1].replace("\tx\t", "\t0123\t");
        let args = |old: &str| -> Vec<String> {
            vec![
                path.clone(),
                KEY.into(),
                "{\"strays\":[\"/s\"]}".into(),
                "1".into(),
                old.into(),
                new.clone(),
            ]
        };
        assert_eq!(rewrite(&args(l[1])).unwrap(), "{\"ok\":true}");
        let after = std::fs::read_to_string(&state).unwrap();
        let mut want = String::new();
        save(
            &dir.join("want"),
            "{\"strays\":[\"/s\"]}",
            &[l[0], &new, l[2]].join("\n"),
        );
        want.push_str(&std::fs::read_to_string(dir.join("want")).unwrap());
        assert_eq!(after, want);
        // The line is no longer what was checked: nothing written.
        assert!(rewrite(&args(l[1])).unwrap().contains("changed since it was checked"));
        assert_eq!(std::fs::read_to_string(&state).unwrap(), want);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rewrite_that_keeps_every_length_patches_the_file_in_place() {
        use std::os::unix::fs::MetadataExt;
        let dir = scratch("in-place");
        let state = dir.join("s.state");
        let l = [
            "-\t0|\t0|/a\t-\tx\td\tmkdir\t-\t-\t",
            "-\t0|\t1|b\t-\t1111\td\tmkdir\t-\t-\t",
        ];
        save(&state, "{\"strays\":[]}", &l.join("\n"));
        let ino = std::fs::metadata(&state).unwrap().ino();
        let path = state.to_str().unwrap().to_string();
        let new = l[1].replace("1111", "2222");
        let args = vec![
            path.clone(),
            KEY.into(),
            "{\"strays\":[]}".into(),
            "1".into(),
            l[1].into(),
            new.clone(),
        ];
        assert_eq!(rewrite(&args).unwrap(), "{\"ok\":true}");
        save(&dir.join("want"), "{\"strays\":[]}", &[l[0], &new].join("\n"));
        assert_eq!(std::fs::read(&state).unwrap(), std::fs::read(dir.join("want")).unwrap());
        assert_eq!(std::fs::metadata(&state).unwrap().ino(), ino, "the same file, patched");
        // A longer line: a new file renamed over the old one.
        let longer = new.replace("2222", "33333");
        let args = vec![
            path,
            KEY.into(),
            "{\"strays\":[]}".into(),
            "1".into(),
            new.clone(),
            longer.clone(),
        ];
        assert_eq!(rewrite(&args).unwrap(), "{\"ok\":true}");
        save(&dir.join("want"), "{\"strays\":[]}", &[l[0], &longer].join("\n"));
        assert_eq!(std::fs::read(&state).unwrap(), std::fs::read(dir.join("want")).unwrap());
        assert_ne!(std::fs::metadata(&state).unwrap().ino(), ino);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_state_of_another_version_is_refused_before_its_lines_are_checked() {
        let dir = scratch("version");
        let fd = std::fs::File::open(&dir).unwrap().into_raw_fd().to_string();
        let state = dir.join("s.state");
        save(
            &state,
            "{\"v\":1,\"key\":[]}",
            "S\t0|/no/such/file\t0|\t?\t-\tp\t-\t-\t-\t",
        );
        let check = |v: &str| {
            check_file(&[
                fd.clone(),
                "files".into(),
                state.to_str().unwrap().into(),
                KEY.into(),
                v.into(),
            ])
            .unwrap()
        };
        assert_eq!(
            check("{\"v\":2,"),
            "{\"refused\":\"the saved state is of another version\"}"
        );
        assert!(check("{\"v\":1,").starts_with("{\"header\":"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
