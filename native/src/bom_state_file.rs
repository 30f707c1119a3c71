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
#[derive(Clone)]
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
    if l.follow != "-" {
        let (seen, dir, name) = stat_src(sc, src, l.follow == "S", never);
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
            src_now = Some(match &seen.st {
                Some(st) => identity(st, crate::bom_state::now_ns() - RACY_NS, true),
                None => seen.id.clone(),
            });
        }
    }
    let mut dest = false;
    let file = l.rest.starts_with('f') || l.rest.starts_with('l');
    if !inner.is_empty() && (files || !file) {
        let seen = stat_dest(dc, root, inner, never);
        dest = seen.id != l.dest_id || l.dest_id == "?";
        if !dest && l.rest.starts_with('f') {
            dest = src_size_mtime(l.src_id) != seen.st.map(|st| (st.size, crate::bom_state::ns(st.mtime)));
        }
    }
    (src_now.is_some() || dest).then_some((src_now, attrs, dest))
}

/// Checks `count` lines from `walk` on.
fn check_part<'a>(mut walk: Walk<'a>, count: usize, root: c_int, files: bool) -> Result<Vec<Hit<'a>>> {
    let mut caches = (DirCache::default(), DirCache::default());
    let mut hits = Vec::new();
    for _ in 0..count {
        let l = walk.step()?;
        if let Some((src_now, attrs, dest)) = check_line(&l, &walk.src, &walk.inner, root, files, &mut caches) {
            hits.push(Hit {
                index: walk.index - 1,
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
    Ok(hits)
}

fn is_dir(rest: &str) -> bool {
    rest.starts_with('d') || rest.starts_with('q')
}

/// `bomStateCheckFile`: args (root fd, `files` or `dirs`, the state's path, the key in hex).
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
    match check_lines(v.lines(), root, files) {
        Ok(rows) => Ok(format!("{{\"header\":{},\"rows\":{}}}", js(v.header()), rows)),
        Err(e) if e.kind == Kind::Format => Ok(format!("{{\"refused\":{}}}", js(MALFORMED))),
        Err(e) => Err(e),
    }
}

/// The rows of `check_file` for the lines of a verified state.
fn check_lines(text: &str, root: c_int, files: bool) -> Result<String> {
    let n = if text.is_empty() {
        0
    } else {
        text.matches('\n').count() + 1
    };
    let mid = n / 2;
    let first = Walk::new(text);
    let mut second = first.clone();
    for _ in 0..mid {
        second.step()?;
    }
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| check_part(first, mid, root, files));
        let b = check_part(second, n - mid, root, files);
        (h.join().expect("the check's thread panicked"), b)
    });
    let hits: Vec<Hit> = a?.into_iter().chain(b?).collect();
    if hits.is_empty() {
        return Ok("[]".into());
    }
    // One more walk: the line of each directory (a changed entry's parent), and the names the state
    // puts in each directory of the root whose listing changed (for strays).
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
    let mut dirs: HashMap<String, (usize, String, &str)> = HashMap::new();
    let mut walk = Walk::new(text);
    for i in 0..n {
        let l = walk.step()?;
        if is_dir(l.rest) {
            dirs.insert(walk.inner.clone(), (i, walk.src.clone(), l.raw));
        }
        for (c, prefix) in changed.iter().enumerate() {
            if let Some(name) = walk.inner.strip_prefix(prefix.as_str()) {
                if !name.is_empty() && !name.contains('/') {
                    children[c].push(js(name));
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
            js(parent.map_or("", |p| p.1.as_str())),
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
        let dir = scratch("halves");
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        let fd = std::fs::File::open(&root).unwrap().into_raw_fd().to_string();
        // A directory, then 999 links in it (destinations only, paths after the previous line's).
        let mut text = String::from("-\t0|\t0|/d\t-\t-\td\tmkdir\t-\t-\t");
        for i in 0..999 {
            let _ = write!(text, "\n-\t0|\t2|/l{i}\t-\t-\tl\tcreatelink\t-\t-\tt");
        }
        let recorded = state_stat(&[fd.clone(), "dest".into(), "0".into(), text]).unwrap();
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
        std::fs::remove_dir_all(&dir).unwrap();
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
}
