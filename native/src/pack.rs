//! Pack a host directory into an Occlum SEFS image (what `sefs-cli zip` does for `occlum build`),
//! integrity-only (deterministic, byte-identical to sefs-cli for the inode files) or with an image
//! key; incremental reuse of unchanged inode files; atomic replacement of the previous image.
//!
//! Atomic scheme (see docs/securefs.md). Every reader of `__ROOT` goes through `metadata`, and
//! `metadata` is replaced by one rename, so:
//! * full pack (first pack, `--full`, or no usable pack state): the complete image is built in
//!   `<outRoot>.tmp-<pid>`, the new root MAC goes to `<macFile>.new`, the directories are swapped
//!   with renameat2(RENAME_EXCHANGE), `<macFile>.new` is renamed over `<macFile>`, the old
//!   generation is deleted;
//! * incremental pack: a journal (`.occlum-studio-pack.journal`: old root MAC, new and old host
//!   file names) is written first; changed inodes are written under NEW host file names (SEFS
//!   reads each inode's file name from its record, so names need not equal ids); the new
//!   `metadata` is written aside and renamed over the old one (the commit); then `.ROOT_MAC`, the
//!   pack state, and the deletion of the replaced files.
//!
//! Recovery (`recover`, run first by every pack): with a journal, the stored MAC of `metadata`
//! tells whether the commit happened: if not, the new files are deleted (the previous image was
//! never touched); if so, `.ROOT_MAC` is rolled forward and the replaced files are deleted.

use crate::crypto::{cmac, hex, mac_string, parse_dashed16, parse_hex, Gcm, Tag};
use crate::error::{err, Error, Kind, Result};
use crate::pf::{self, WriteKey};
use crate::progress::{par_map, Progress};
use crate::safe_file;
use crate::sefs::{BLKBITS, BLKSIZE, MAX_NAME, SEFS_MAGIC, T_DIR, T_FILE, T_SYMLINK};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const STATE_FILE: &str = ".occlum-studio-pack";
const STATE_MAGIC: &str = "occlum-studio-pack 3";
pub const JOURNAL_FILE: &str = ".occlum-studio-pack.journal";
const META_TMP: &str = ".metadata.new";
/// Bounds of the small files a pack or reader reads back (a MAC, the pack state and journals).
const MAC_MAX: u64 = 64;
const STATE_MAX: u64 = 512 << 20;
const JOURNAL_MAX: u64 = 600 << 20;
/// The recovery journal of `metadata` (the SGX protected-file name convention, see pf::open_path).
const META_RECOVERY: &str = "metadata_recovery";

mod warm;
use warm::Warm;

pub struct PackOpts {
    pub src: PathBuf,
    pub out_root: PathBuf,
    pub mac_file: PathBuf,
    pub key: WriteKey,
    pub incremental: bool,
    /// fsync every written file and directory before the swap (power-loss durability).
    pub fsync: bool,
    /// Test hook: stop (as if killed) right after commit step N (1..=4).
    pub crash_after: Option<u32>,
}

impl PackOpts {
    /// The test hook: fail as if killed right after commit step `step`.
    fn crash_hook(&self, step: u32) -> Result<()> {
        if self.crash_after == Some(step) {
            return err(Kind::Io, format!("simulated crash after commit step {}", step));
        }
        Ok(())
    }
}

pub struct PackResult {
    pub root_mac: Tag,
    pub files_packed: u64,
    pub files_reused: u64,
    pub bytes: u64,
    pub ms: f64,
    pub inodes: u64,
}

/// Change signature of a source file: any difference means "rewrite".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Sig {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl Sig {
    fn of(m: &std::fs::Metadata) -> Sig {
        Sig {
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

struct Node {
    /// Path inside the image ("/" for the root).
    path: String,
    host: PathBuf,
    typ: u32,
    mode: u16,
    sig: Sig,
    /// Children (name, node index), sorted by name bytes, for directories.
    children: Vec<(String, usize)>,
    parent: usize,
    nlinks: u16,
    id: u64,
}

fn fmt_io(e: &std::io::Error) -> String {
    e.to_string()
}

/// One directory entry as the source walk saw it.
#[derive(Clone)]
struct Stat {
    typ: u32,
    mode: u16,
    sig: Sig,
    nlink: u64,
}

/// Directory listings by image path ("/", "/a", …), each sorted by name bytes. A full walk fills
/// it from disk; a hinted pack starts from the previous pack's listings (see `Warm`).
type Listings = HashMap<String, Vec<(String, Stat)>>;

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{}", name)
    } else {
        format!("{}/{}", parent, name)
    }
}

/// Check a name and classify its lstat result (errors name the host path and say how to fix).
fn stat_entry(hp: &Path, name: &std::ffi::OsStr, m: std::io::Result<std::fs::Metadata>) -> Result<(String, Stat)> {
    let shown = || hp.display().to_string();
    let name = match name.to_str() {
        Some(n) => n.to_string(),
        None => {
            return err(
                Kind::Unsupported,
                format!("{}: file name is not valid UTF-8 (SEFS stores UTF-8 names)", shown()),
            )
        }
    };
    if name.len() > MAX_NAME {
        return err(
            Kind::Unsupported,
            format!(
                "{}: name is {} bytes; SEFS allows at most {} (rename it)",
                shown(),
                name.len(),
                MAX_NAME
            ),
        );
    }
    let m = match m {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return err(
                Kind::Missing,
                format!(
                    "{}: vanished while packing (the source tree changed during the pack; retry)",
                    shown()
                ),
            )
        }
        Err(e) => return err(Kind::Io, format!("{}: {}", shown(), fmt_io(&e))),
    };
    let ft = m.file_type();
    let typ = if ft.is_file() {
        T_FILE
    } else if ft.is_dir() {
        T_DIR
    } else if ft.is_symlink() {
        T_SYMLINK
    } else {
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_socket() {
            "a socket"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device node"
        } else if ft.is_fifo() {
            "a FIFO"
        } else {
            "a special file"
        };
        return err(
            Kind::Unsupported,
            format!(
                "{}: is {}, which an Occlum image cannot hold (remove it from the source tree)",
                shown(),
                what
            ),
        );
    };
    Ok((
        name,
        Stat {
            typ,
            mode: (m.permissions().mode() & 0o777) as u16,
            sig: Sig::of(&m),
            nlink: m.nlink(),
        },
    ))
}

fn list_dir(host: &Path) -> Result<Vec<(String, Stat)>> {
    let rd =
        std::fs::read_dir(host).map_err(|e| Error::io(e, &format!("{}: cannot list directory", host.display())))?;
    let mut ents = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(e, &host.display().to_string()))?;
        ents.push((ent.file_name(), ent));
    }
    ents.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // fstatat relative to the open directory (no symlink following), cheaper than lstat(path).
    // (Two stat threads were tried: slower on this 2-core machine under load.)
    ents.into_iter()
        .map(|(name, ent)| stat_entry(&host.join(&name), &name, ent.metadata()))
        .collect()
}

/// Scan `src` depth-first, children sorted by byte-wise name, exactly like sefs-cli's zip_dir,
/// so that fresh inode ids come out in the same order. Directories with an entry in `lists` are
/// not read from disk; every directory read is added to it.
fn scan(src: &Path, lists: &mut Listings) -> Result<Vec<Node>> {
    let meta = std::fs::metadata(src).map_err(|e| Error::io(e, &src.display().to_string()))?;
    if !meta.is_dir() {
        return err(
            Kind::Usage,
            format!("{}: pack source must be a directory", src.display()),
        );
    }
    let mut nodes = vec![Node {
        path: "/".into(),
        host: src.to_path_buf(),
        typ: T_DIR,
        mode: 0o755,
        sig: Sig::default(),
        children: vec![],
        parent: 0,
        nlinks: 2,
        id: 0,
    }];
    let mut links: HashMap<(u64, u64), usize> = HashMap::new();
    scan_dir(&mut nodes, 0, &mut links, 0, lists)?;
    Ok(nodes)
}

fn scan_dir(
    nodes: &mut Vec<Node>,
    dir: usize,
    links: &mut HashMap<(u64, u64), usize>,
    depth: usize,
    lists: &mut Listings,
) -> Result<()> {
    if depth > 512 {
        return err(
            Kind::Unsupported,
            format!(
                "{}: directories nested deeper than 512 levels",
                nodes[dir].host.display()
            ),
        );
    }
    let host = nodes[dir].host.clone();
    let dir_path = nodes[dir].path.clone();
    if !lists.contains_key(&dir_path) {
        let l = list_dir(&host)?;
        lists.insert(dir_path.clone(), l);
    }
    let ents = lists[&dir_path].clone();
    for (name, st) in ents {
        let typ = st.typ;
        let path = child_path(&dir_path, &name);
        let key = (st.sig.dev, st.sig.ino);
        if typ == T_FILE && st.nlink > 1 {
            if let Some(&idx) = links.get(&key) {
                // A hard link: a second directory entry for the same inode.
                nodes[idx].nlinks += 1;
                nodes[dir].children.push((name, idx));
                continue;
            }
        }
        let idx = nodes.len();
        nodes.push(Node {
            path,
            host: host.join(&name),
            typ,
            mode: st.mode,
            sig: st.sig,
            children: vec![],
            parent: dir,
            nlinks: if typ == T_DIR { 2 } else { 1 },
            id: 0,
        });
        if typ == T_FILE && st.nlink > 1 {
            links.insert(key, idx);
        }
        nodes[dir].children.push((name, idx));
        if typ == T_DIR {
            nodes[dir].nlinks += 1;
            scan_dir(nodes, idx, links, depth + 1, lists)?;
        }
    }
    Ok(())
}

/// The result of the last successful pack into each outRoot by this process (see `warm`).
/// A handful of outRoots per process (a studio packs one or two images); each holds the
/// metadata twice (plaintext and sealed), a few MB per thousand inodes.
static WARM: std::sync::Mutex<Vec<Warm>> = std::sync::Mutex::new(Vec::new());
const WARM_MAX: usize = 2;

fn take_warm(out_root: &Path) -> Option<Warm> {
    let mut c = WARM.lock().unwrap_or_else(|e| e.into_inner());
    let i = c.iter().position(|t| t.out_root == out_root)?;
    Some(c.remove(i))
}

/// Forget what this process packed (tests: behave as a fresh process would).
#[cfg(test)]
pub fn forget_warm() {
    WARM.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

fn put_warm(t: Warm) {
    let mut c = WARM.lock().unwrap_or_else(|e| e.into_inner());
    c.retain(|x| x.out_root != t.out_root);
    if c.len() >= WARM_MAX {
        c.remove(0);
    }
    c.push(t);
}

/// Forget listings of `path` and everything below it (they are read from disk again).
fn drop_subtree(lists: &mut Listings, path: &str) {
    let prefix = format!("{}/", path);
    lists.retain(|k, _| k != path && !k.starts_with(&prefix));
}

/// Bring the listings up to date for one hinted path (relative to src): every component from the
/// root down is re-stat'ed in its parent's listing (added, replaced or removed); a hinted
/// directory is re-read with its whole subtree. Directories that are not listed yet (new ones)
/// are read from disk by the scan.
fn apply_hint(src: &Path, lists: &mut Listings, rel: &str) -> Result<()> {
    let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if comps.contains(&"..") {
        return err(
            Kind::Usage,
            format!(
                "changed path {:?}: must be relative to the pack source without `..`",
                rel
            ),
        );
    }
    if comps.is_empty() {
        // The source root itself: re-read everything.
        lists.clear();
        return Ok(());
    }
    let mut parent = "/".to_string();
    let mut host = src.to_path_buf();
    for (k, comp) in comps.iter().enumerate() {
        let path = child_path(&parent, comp);
        host.push(comp);
        let Some(listing) = lists.get_mut(&parent) else { break };
        let pos = listing.binary_search_by(|(n, _)| n.as_bytes().cmp(comp.as_bytes()));
        let m = std::fs::symlink_metadata(&host);
        if matches!(&m, Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(20 /* ENOTDIR */))
        {
            if let Ok(i) = pos {
                listing.remove(i);
            }
            drop_subtree(lists, &path);
            break;
        }
        let (name, st) = stat_entry(&host, std::ffi::OsStr::new(comp), m)?;
        let is_dir = st.typ == T_DIR;
        match pos {
            Ok(i) => listing[i] = (name, st),
            Err(i) => listing.insert(i, (name, st)),
        }
        if !is_dir || k + 1 == comps.len() {
            drop_subtree(lists, &path);
            break;
        }
        parent = path;
    }
    Ok(())
}

/// What the previous pack recorded about each inode.
struct PrevEntry {
    id: u64,
    host: String,
    typ: u32,
    sig: Sig,
    fingerprint: Tag,
    mac: Tag,
}

struct PrevState {
    key_fp: String,
    root_mac: Tag,
    generation: u64,
    by_path: HashMap<String, PrevEntry>,
}

/// What a pack records per inode for the next one: the plaintext size, its MAC, the source
/// signature it was packed from and the content fingerprint (directories).
#[derive(Clone, Copy)]
struct Rec {
    size: u64,
    mac: Tag,
    sig: Sig,
    fp: Tag,
}

fn key_fingerprint(k: &WriteKey) -> String {
    match k {
        WriteKey::IntegrityOnly => "integrity-only".into(),
        WriteKey::UserKey(key) => hex(&cmac(key, b"occlum-studio pack-state key fingerprint")),
        WriteKey::SimAuto(id) => format!("sim-{}-{}-{}-{}", hex(&id.mrsigner), id.prod_id, id.isv_svn, id.debug),
    }
}

/// The pack state file: a head line (magic, key fingerprint), then entry lines, each group
/// closed by a commit line `@ <root MAC> <generation>`. A full pack writes it whole (one group);
/// a warm pack appends the entries it changed and their commit line. Entries after the last
/// commit line (an append cut short) are ignored.
fn state_line(n: &Node, host: &str, r: &Rec) -> String {
    let s = &r.sig;
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        n.id,
        n.typ,
        s.size,
        s.mtime_ns,
        s.ctime_ns,
        s.ino,
        s.dev,
        hex(&r.fp),
        hex(&r.mac),
        hex(n.path.as_bytes()),
        host
    )
}

/// The whole state file: head, one entry per inode, one commit line.
fn state_text(key_fp: &str, nodes: &[Node], names: &[String], recs: &[Rec], root_mac: &Tag, generation: u64) -> String {
    let mut state = format!("{}\t{}\n", STATE_MAGIC, key_fp);
    for (k, r) in recs.iter().enumerate() {
        state.push_str(&state_line(&nodes[k], &names[k], r));
    }
    state.push_str(&commit_line(root_mac, generation));
    state
}

fn commit_line(root_mac: &Tag, generation: u64) -> String {
    format!("@\t{}\t{}\n", mac_string(root_mac), generation)
}

fn parse_entry(l: &str) -> Option<(String, PrevEntry)> {
    let f: Vec<&str> = l.split('\t').collect();
    if f.len() != 11 || f[10].len() != 32 || parse_hex(f[10]).is_none() {
        return None;
    }
    let path = String::from_utf8(parse_hex(f[9])?).ok()?;
    let tag = |s: &str| -> Option<Tag> { parse_hex(s)?.try_into().ok() };
    let e = PrevEntry {
        id: f[0].parse().ok()?,
        host: f[10].to_string(),
        typ: f[1].parse().ok()?,
        sig: Sig {
            size: f[2].parse().ok()?,
            mtime_ns: f[3].parse().ok()?,
            ctime_ns: f[4].parse().ok()?,
            ino: f[5].parse().ok()?,
            dev: f[6].parse().ok()?,
        },
        fingerprint: tag(f[7])?,
        mac: tag(f[8])?,
    };
    Some((path, e))
}

fn read_state(out_root: &Path) -> Option<PrevState> {
    let text = safe_file::read_text(&out_root.join(STATE_FILE), STATE_MAX)?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split('\t').collect();
    if head.len() != 2 || head[0] != STATE_MAGIC {
        return None;
    }
    let mut by_path = HashMap::new();
    let mut pending = Vec::new();
    let mut commit = None;
    for l in lines {
        if let Some(c) = l.strip_prefix("@\t") {
            let Some((mac, generation)) = c
                .split_once('\t')
                .and_then(|(m, g)| Some((parse_dashed16(m)?, g.parse::<u64>().ok()?)))
            else {
                break;
            };
            by_path.extend(pending.drain(..));
            commit = Some((mac, generation));
        } else {
            let Some(e) = parse_entry(l) else { break };
            pending.push(e);
        }
    }
    let (root_mac, generation) = commit?;
    Some(PrevState {
        key_fp: head[1].to_string(),
        root_mac,
        generation,
        by_path,
    })
}

/// MAC of `<root>/metadata` straight from its header (no key needed: bytes 77..93 of node 0).
pub fn stored_root_mac(root: &Path) -> Option<Tag> {
    use std::os::unix::fs::FileExt;
    let f = safe_file::open_regular(&root.join("metadata"), "the image's metadata").ok()?;
    let mut b = [0u8; 95];
    f.read_exact_at(&mut b, 0).ok()?;
    (&b[0..8] == pf::MAGIC).then(|| b[77..93].try_into().unwrap())
}

fn pending_mac_path(mac_file: &Path) -> PathBuf {
    let mut p = mac_file.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

fn sibling(out_root: &Path, suffix: &str) -> PathBuf {
    let mut p = out_root.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn write_atomic(path: &Path, data: &[u8], fsync: bool) -> Result<()> {
    let tmp = sibling(path, &format!(".tmp-{}", std::process::id()));
    write_file(&tmp, data, fsync)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(e, &path.display().to_string()))
}

struct Journal {
    old_mac: Tag,
    new_names: Vec<String>,
    old_names: Vec<String>,
}

fn read_journal(out_root: &Path) -> Option<Journal> {
    let text = safe_file::read_text(&out_root.join(JOURNAL_FILE), STATE_MAX)?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split('\t').collect();
    if head.len() != 2 || head[0] != "occlum-studio-journal 1" {
        return None;
    }
    let mut j = Journal {
        old_mac: parse_dashed16(head[1])?,
        new_names: vec![],
        old_names: vec![],
    };
    for l in lines {
        // Only plain 32-hex host names: a damaged journal must never name other files.
        match l.split_once('\t') {
            Some(("new", n)) if n.len() == 32 && parse_hex(n).is_some() => j.new_names.push(n.to_string()),
            Some(("old", n)) if n.len() == 32 && parse_hex(n).is_some() => j.old_names.push(n.to_string()),
            _ => {}
        }
    }
    Some(j)
}

/// Finish or undo an interrupted pack (see the module comment). Readers call it with
/// `clean = false`: then it only rolls `.ROOT_MAC` forward and never deletes anything (a pack
/// may be running right now). The packer calls it with `clean = true`.
pub fn recover(out_root: &Path, mac_file: &Path, clean: bool) -> Result<bool> {
    let pending = pending_mac_path(mac_file);
    let mut changed = clean && rollback_metadata(out_root)?;
    let cur = stored_root_mac(out_root);
    if let Some(text) = safe_file::read_text(&pending, MAC_MAX) {
        match (parse_dashed16(&text), cur) {
            (Some(p), Some(c)) if p == c => {
                std::fs::rename(&pending, mac_file).map_err(|e| Error::io(e, &mac_file.display().to_string()))?;
                changed = true;
            }
            _ if clean => {
                let _ = std::fs::remove_file(&pending);
                changed = true;
            }
            _ => {}
        }
    }
    if let Some(j) = read_journal(out_root) {
        let committed = cur.is_some() && cur != Some(j.old_mac);
        if committed {
            let c = cur.unwrap();
            if safe_file::read_text(mac_file, MAC_MAX).and_then(|t| parse_dashed16(&t)) != Some(c) {
                write_atomic(mac_file, mac_string(&c).as_bytes(), false)?;
                changed = true;
            }
        }
        if clean {
            for n in if committed { &j.old_names } else { &j.new_names } {
                let _ = std::fs::remove_file(out_root.join(n));
            }
            let _ = std::fs::remove_file(out_root.join(META_TMP));
            let _ = std::fs::remove_file(out_root.join(JOURNAL_FILE));
            changed = true;
        }
    }
    if !clean {
        return Ok(changed);
    }
    // Leftover generations from a crashed full pack.
    if let (Some(parent), Some(base)) = (out_root.parent(), out_root.file_name()) {
        let prefix = format!("{}.tmp-", base.to_string_lossy());
        if let Ok(rd) = std::fs::read_dir(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        }) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                    changed = true;
                }
            }
        }
    }
    Ok(changed)
}

/// A warm pack updates `metadata` in place under its recovery journal (see `warm`). Interrupted
/// before its commit, it leaves the update flag set and `metadata_recovery` holding the previous
/// image of every node it touched: write them back. (Readers apply the journal in memory, so the
/// image reads as the previous one either way.) A journal next to an unflagged `metadata` is
/// left over from a finished update and removed.
fn rollback_metadata(out_root: &Path) -> Result<bool> {
    use std::os::unix::fs::FileExt;
    let jp = out_root.join(META_RECOVERY);
    let Ok(j) = safe_file::read_regular(&jp, "the metadata recovery journal", JOURNAL_MAX) else {
        return Ok(false);
    };
    let mp = out_root.join("metadata");
    let shown = mp.display().to_string();
    let mut head = [0u8; 95];
    let flagged = safe_file::open_regular(&mp, "the image's metadata")
        .is_ok_and(|f| f.read_exact_at(&mut head, 0).is_ok())
        && &head[0..8] == pf::MAGIC
        && head[93] == 1;
    if flagged {
        const REC: usize = 8 + pf::NODE;
        if j.is_empty() || j.len() % REC != 0 {
            return err(Kind::RecoveryNeeded, format!("{}: an interrupted metadata update left a damaged recovery journal ({} bytes); rebuild the image with a full pack", shown, j.len()));
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&mp)
            .map_err(|e| Error::io(e, &shown))?;
        for rec in j.chunks(REC) {
            let node = u64::from_le_bytes(rec[0..8].try_into().unwrap());
            f.write_all_at(&rec[8..], node * pf::NODE as u64)
                .map_err(|e| Error::io(e, &shown))?;
        }
    }
    std::fs::remove_file(&jp).map_err(|e| Error::io(e, &jp.display().to_string()))?;
    Ok(true)
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
const AT_FDCWD: i32 = -100;
const RENAME_EXCHANGE: u32 = 2;

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    let r = unsafe { renameat2(AT_FDCWD, ca.as_ptr(), AT_FDCWD, cb.as_ptr(), RENAME_EXCHANGE) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn write_file(path: &Path, data: &[u8], fsync: bool) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(e, &path.display().to_string()))?;
    f.write_all(data)
        .map_err(|e| Error::io(e, &path.display().to_string()))?;
    if fsync {
        f.sync_all().map_err(|e| Error::io(e, &path.display().to_string()))?;
    }
    Ok(())
}

fn id_name(id: u64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.to_le_bytes());
    hex(&b)
}

fn dir_content(nodes: &[Node], i: usize) -> Vec<u8> {
    let n = &nodes[i];
    let mut out = vec![0u8; (n.children.len() + 2) * 264];
    let mut put = |k: usize, id: u64, name: &str, typ: u32| {
        let e = &mut out[k * 264..(k + 1) * 264];
        e[0..4].copy_from_slice(&(id as u32).to_le_bytes());
        e[4..4 + name.len()].copy_from_slice(name.as_bytes());
        e[260..264].copy_from_slice(&typ.to_le_bytes());
    };
    put(0, n.id, ".", T_DIR);
    put(1, nodes[n.parent].id, "..", T_DIR);
    for (k, (name, c)) in n.children.iter().enumerate() {
        put(k + 2, nodes[*c].id, name, nodes[*c].typ);
    }
    out
}

/// Assign inode ids: reuse the previous image's id for an unchanged path and type, otherwise the
/// lowest free id (SEFS's allocator: first free bit, free-map blocks 1024·g+1 excluded).
fn assign_ids(nodes: &mut [Node], prev: Option<&PrevState>) -> u64 {
    let mut used = std::collections::HashSet::new();
    nodes[0].id = 2;
    used.insert(2u64);
    if let Some(p) = prev {
        for n in nodes.iter_mut().skip(1) {
            if let Some(e) = p.by_path.get(&n.path) {
                if e.typ == n.typ && e.id > 2 && used.insert(e.id) {
                    n.id = e.id;
                }
            }
        }
    }
    let mut next = 3u64;
    let mut max = 2;
    for n in nodes.iter_mut().skip(1) {
        if n.id == 0 {
            while used.contains(&next) || next % BLKBITS as u64 == 1 {
                next += 1;
            }
            n.id = next;
            used.insert(next);
        }
        max = max.max(n.id);
    }
    max
}

/// Files above this size are sealed straight from the source into the image, never held whole.
const STREAM_MIN: u64 = 8 << 20;

/// Write the inode file `dir/name` of file or symlink `n`; returns (size, MAC, source signature).
fn write_inode(
    n: &Node,
    dir: &Path,
    name: &str,
    key: &WriteKey,
    gcm: &mut Gcm,
    fsync: bool,
) -> Result<(u64, Tag, Sig)> {
    let shown = n.host.display().to_string();
    let vanished = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(
                Kind::Missing,
                format!(
                    "{}: vanished while packing (the source tree changed during the pack; retry)",
                    shown
                ),
            )
        } else {
            Error::io(e, &shown)
        }
    };
    let path = dir.join(name);
    let (data, sig) = match n.typ {
        T_FILE => {
            use std::io::Read;
            // The walk saw a regular file; one swapped for a FIFO since must not block the pack.
            let mut f = match safe_file::open_regular(&n.host, "source file") {
                Ok(f) => f,
                Err(e) if e.kind == Kind::Format => {
                    return err(
                        Kind::Unsupported,
                        format!(
                            "{}: is no longer a regular file (the source tree changed during the pack; retry)",
                            shown
                        ),
                    )
                }
                Err(e) if e.kind == Kind::Missing => {
                    return err(
                        Kind::Missing,
                        format!(
                            "{}: vanished while packing (the source tree changed during the pack; retry)",
                            shown
                        ),
                    )
                }
                Err(e) => return Err(e),
            };
            // The signature is taken before reading: a change during the read then shows up as
            // a different signature at the next incremental pack, which rewrites the file.
            let m = f.metadata().map_err(vanished)?;
            if m.len() > STREAM_MIN {
                let out = std::fs::File::create(&path).map_err(|e| Error::io(e, &path.display().to_string()))?;
                let (size, mac) = pf::write_pf_stream(name, &mut f, &out, key, gcm)
                    .map_err(|e| Error::io(e, &format!("{} (packing into {})", shown, path.display())))?;
                if fsync {
                    out.sync_all().map_err(|e| Error::io(e, &path.display().to_string()))?;
                }
                return Ok((size, mac, Sig::of(&m)));
            }
            let mut data = Vec::with_capacity(m.len() as usize + 1);
            f.read_to_end(&mut data).map_err(vanished)?;
            (data, Sig::of(&m))
        }
        T_SYMLINK => {
            let t = std::fs::read_link(&n.host).map_err(vanished)?;
            let m = std::fs::symlink_metadata(&n.host).map_err(vanished)?;
            (t.as_os_str().as_bytes().to_vec(), Sig::of(&m))
        }
        _ => unreachable!(),
    };
    let (bytes, mac) = pf::write_pf(name, &data, key, gcm)?;
    write_file(&path, &bytes, fsync)?;
    Ok((data.len() as u64, mac, sig))
}

fn inode_record(n: &Node, host: &str, size: u64, blocks: u32, mac: &Tag) -> [u8; 112] {
    let mut r = [0u8; 112];
    r[0..8].copy_from_slice(&size.to_le_bytes());
    r[8..12].copy_from_slice(&n.typ.to_le_bytes());
    r[12..14].copy_from_slice(&n.mode.to_le_bytes());
    r[14..16].copy_from_slice(&n.nlinks.to_le_bytes());
    r[16..20].copy_from_slice(&blocks.to_le_bytes());
    // uid, gid, pad and the three timespecs stay zero, as sefs-cli's create_image writes them.
    r[80..96].copy_from_slice(&parse_hex(host).expect("host names are 32 hex digits"));
    r[96..112].copy_from_slice(mac);
    r
}

/// Build the metadata plaintext: superblock, free map of every group, one record per inode.
fn metadata_bytes(records: &[(u64, [u8; 112])], max_id: u64) -> Vec<u8> {
    let groups = (max_id as usize / BLKBITS) + 1;
    let blocks = groups * BLKBITS;
    let last_freemap_end = ((groups - 1) * BLKBITS + 1) * BLKSIZE + BLKSIZE;
    let last_inode_end = max_id as usize * BLKSIZE + 112;
    let mut m = vec![0u8; last_freemap_end.max(last_inode_end)];
    // Free map: 1 = free. Blocks 0, 1, every group's free-map block and every inode are used.
    let mut free = vec![0xffu8; blocks / 8];
    let mut used = 0usize;
    let mut mark = |b: usize, free: &mut Vec<u8>| {
        free[b / 8] &= !(1 << (b % 8));
        used += 1;
    };
    mark(0, &mut free);
    mark(1, &mut free);
    for g in 1..groups {
        mark(g * BLKBITS + 1, &mut free);
    }
    for (id, rec) in records {
        mark(*id as usize, &mut free);
        let off = *id as usize * BLKSIZE;
        m[off..off + 112].copy_from_slice(rec);
    }
    for g in 0..groups {
        let off = (g * BLKBITS + 1) * BLKSIZE;
        m[off..off + BLKSIZE].copy_from_slice(&free[g * BLKSIZE..(g + 1) * BLKSIZE]);
    }
    m[0..4].copy_from_slice(&SEFS_MAGIC.to_le_bytes());
    m[4..8].copy_from_slice(&(blocks as u32).to_le_bytes());
    m[8..12].copy_from_slice(&((blocks - used) as u32).to_le_bytes());
    m[12..16].copy_from_slice(&(groups as u32).to_le_bytes());
    m
}

enum Job {
    /// Keep the previous image's host file for this inode (incremental, in place).
    Reuse,
    Write,
}

fn trace(t0: &Instant, what: &str) {
    if std::env::var_os("OCCLUM_STUDIO_PACK_TRACE").is_some() {
        eprintln!("pack: {:>8.2} ms {}", t0.elapsed().as_secs_f64() * 1000.0, what);
    }
}

/// Host file name of a rewritten inode in an incremental pack: the id and the pack generation,
/// so it never collides with a name the current image uses.
fn gen_name(id: u64, generation: u64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..].copy_from_slice(&generation.to_le_bytes());
    hex(&b)
}

extern "C" {
    fn flock(fd: i32, op: i32) -> i32;
}
const LOCK_EX: i32 = 2;

/// Packs into one outRoot wait for each other, across threads and processes: an exclusive flock on
/// `<outRoot>.lock` (kept between packs; released when the returned file is dropped).
fn lock_destination(out_root: &Path) -> Result<std::fs::File> {
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

/// Hard-link every file of the image `prev` into `out_root` (created; a copy where a link is
/// refused), so an incremental pack into a fresh directory reuses the previous inode files. The
/// packer never writes a file in place there (`metadata` included: the warm path skips linked ones),
/// so `prev` stays intact. Runs in the pack's worker, off the caller's thread.
pub fn seed_from(prev: &Path, out_root: &Path) -> Result<()> {
    std::fs::create_dir_all(out_root).map_err(|e| Error::io(e, &out_root.display().to_string()))?;
    let rd = std::fs::read_dir(prev)
        .map_err(|e| Error::io(e, &format!("{}: cannot list the previous image", prev.display())))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(e, &prev.display().to_string()))?;
        if !ent.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let (from, to) = (ent.path(), out_root.join(ent.file_name()));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| Error::io(e, &format!("{} -> {}", from.display(), to.display())))?;
        }
    }
    Ok(())
}

/// Refuse to replace anything that is not an image we could have written.
fn check_destination(o: &PackOpts) -> Result<()> {
    if let Ok(m) = std::fs::symlink_metadata(&o.out_root) {
        if !m.is_dir() {
            return err(
                Kind::Usage,
                format!(
                    "{}: exists and is not a directory; refusing to replace it with an image",
                    o.out_root.display()
                ),
            );
        }
        let is_empty = || {
            std::fs::read_dir(&o.out_root)
                .map(|mut rd| rd.next().is_none())
                .map_err(|e| Error::io(e, &o.out_root.display().to_string()))
        };
        if !o.out_root.join("metadata").exists() && !is_empty()? {
            return err(
                Kind::Usage,
                format!("{}: is a non-empty directory without an SEFS `metadata` file; refusing to replace it with an image (choose an empty or image directory)", o.out_root.display()),
            );
        }
    }
    if std::fs::symlink_metadata(&o.mac_file).is_ok() {
        let text = safe_file::read_regular(&o.mac_file, "the root MAC file", 64)
            .map_err(|e| Error::new(Kind::Usage, format!("{}; refusing to overwrite it", e.msg)))?;
        if parse_dashed16(&String::from_utf8_lossy(&text)).is_none() {
            return err(
                Kind::Usage,
                format!(
                    "{}: exists and is not a root MAC file; refusing to overwrite it",
                    o.mac_file.display()
                ),
            );
        }
    }
    Ok(())
}

pub fn pack(o: &PackOpts, progress: &Progress) -> Result<PackResult> {
    pack_hinted(o, None, progress)
}

/// `pack` with an optional change-set hint: `changed` lists paths relative to `src` that may have
/// been modified, added or removed since the previous pack into `out_root` by this process. The
/// caller promises that nothing else in the source changed; then only those paths (and the
/// directories on their way up to the root) are stat'ed instead of walking the whole tree. A
/// hinted directory is re-read with its whole subtree. Without that previous pack in this process
/// (or when the image, its key mode or its state no longer match it) the full walk runs. A wrong
/// hint never yields an inconsistent image: unhinted changes are just missed until a pack without
/// a hint (inode files are still chosen by the recorded signatures, and read from the source).
pub fn pack_hinted(o: &PackOpts, changed: Option<&[String]>, progress: &Progress) -> Result<PackResult> {
    let t0 = Instant::now();
    let _lock = lock_destination(&o.out_root)?;
    check_destination(o)?;
    let key_fp = key_fingerprint(&o.key);
    // Taken out first: a failed pack leaves nothing cached behind.
    let mut warm = take_warm(&o.out_root).filter(|w| o.incremental && w.src == o.src && w.key_fp == key_fp);
    if let (Some(ch), Some(w)) = (changed, warm.as_mut()) {
        match warm::pack(o, w, ch, progress) {
            Ok(Some(mut res)) => {
                res.ms = t0.elapsed().as_secs_f64() * 1000.0;
                put_warm(warm.unwrap());
                trace(&t0, "warm pack done");
                return Ok(res);
            }
            Ok(None) => trace(&t0, "warm path declined"),
            Err(e) => {
                // Undo, unless this is the test hook's crash, which must leave what a crash leaves.
                if o.crash_after.is_none() {
                    recover(&o.out_root, &o.mac_file, true)?;
                }
                return Err(e);
            }
        }
    }
    recover(&o.out_root, &o.mac_file, true)?;
    trace(&t0, "recover");
    let cur_mac = stored_root_mac(&o.out_root);
    let mut lists: Listings = match (changed, warm) {
        (Some(ch), Some(w)) if Some(w.root_mac) == cur_mac => {
            let mut l = w.lists;
            for rel in ch {
                apply_hint(&o.src, &mut l, rel)?;
            }
            l
        }
        _ => HashMap::new(),
    };
    let mut nodes = scan(&o.src, &mut lists)?;
    trace(&t0, "scan");
    // The recorded state is trusted only if it belongs to the `metadata` that is there now and was
    // made with the same key mode. (.ROOT_MAC is not needed: a build may seed a fresh outRoot with
    // hard links to the previous image and pack into it with a new macFile. Reused files are never
    // written in place, so the seeded-from image stays intact.)
    let prev = if o.incremental {
        read_state(&o.out_root).filter(|s| s.key_fp == key_fp && Some(s.root_mac) == cur_mac)
    } else {
        None
    };
    trace(&t0, "previous state");
    let max_id = assign_ids(&mut nodes, prev.as_ref());
    let groups = max_id as usize / BLKBITS + 1;
    if groups > 1 << 16 {
        return err(Kind::Unsupported, "too many inodes for one image");
    }
    let generation = prev.as_ref().map(|p| p.generation + 1).unwrap_or(0);
    trace(&t0, "ids");
    // Directory contents depend only on ids, so every inode can be produced in parallel.
    let dir_data: Vec<Option<Vec<u8>>> = (0..nodes.len())
        .map(|i| (nodes[i].typ == T_DIR).then(|| dir_content(&nodes, i)))
        .collect();
    let mut jobs = Vec::with_capacity(nodes.len());
    let mut names = Vec::with_capacity(nodes.len());
    let mut fp_gcm = Gcm::new();
    // One directory read instead of a stat per reused file.
    let present: std::collections::HashSet<std::ffi::OsString> = match &prev {
        Some(_) => std::fs::read_dir(&o.out_root)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default(),
        None => Default::default(),
    };
    for (i, n) in nodes.iter().enumerate() {
        let prev_e = prev
            .as_ref()
            .and_then(|p| p.by_path.get(&n.path))
            .filter(|e| e.id == n.id && e.typ == n.typ);
        let reuse = match (prev_e, n.typ) {
            (Some(e), T_DIR) => fp_gcm.gmac(&[0u8; 16], dir_data[i].as_ref().unwrap()) == e.fingerprint,
            (Some(e), _) => e.sig == n.sig && n.sig.ino != 0,
            _ => false,
        } && present.contains(std::ffi::OsStr::new(&prev_e.unwrap().host));
        if reuse {
            names.push(prev_e.unwrap().host.clone());
            jobs.push((i, Job::Reuse));
        } else {
            names.push(if prev.is_some() {
                gen_name(n.id, generation)
            } else {
                id_name(n.id)
            });
            jobs.push((i, Job::Write));
        }
    }
    trace(&t0, "change detection");
    // In place when a previous image and its state are there; otherwise a fresh generation dir.
    let in_place = prev.is_some();
    let work_dir = if in_place {
        o.out_root.clone()
    } else {
        sibling(&o.out_root, &format!(".tmp-{}", std::process::id()))
    };
    if in_place {
        let p = prev.as_ref().unwrap();
        let kept: std::collections::HashSet<&str> = jobs
            .iter()
            .zip(&names)
            .filter(|((_, j), _)| matches!(j, Job::Reuse))
            .map(|(_, n)| n.as_str())
            .collect();
        let mut old: Vec<&str> = p
            .by_path
            .values()
            .map(|e| e.host.as_str())
            .filter(|h| !kept.contains(h))
            .collect();
        old.sort();
        old.dedup();
        let mut j = format!("occlum-studio-journal 1\t{}\n", mac_string(&p.root_mac));
        for ((_, job), n) in jobs.iter().zip(&names) {
            if matches!(job, Job::Write) {
                j.push_str(&format!("new\t{}\n", n));
            }
        }
        for n in old {
            j.push_str(&format!("old\t{}\n", n));
        }
        write_atomic(&o.out_root.join(JOURNAL_FILE), j.as_bytes(), o.fsync)?;
    } else {
        let _ = std::fs::remove_dir_all(&work_dir);
        if let Some(parent) = o.out_root.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(e, &parent.display().to_string()))?;
            }
        }
        std::fs::create_dir(&work_dir).map_err(|e| Error::io(e, &work_dir.display().to_string()))?;
    }
    trace(&t0, "journal");
    #[allow(clippy::type_complexity)] // the one closure that returns what the commit needs
    let result = (|| -> Result<(PackResult, (Vec<u8>, pf::SealedPf, Vec<Rec>), Vec<u8>)> {
        progress.set_total(jobs.len() as u64 + 1);
        let outs = par_map(&jobs, |(i, job), gcm| -> Result<(u64, Tag, Sig, Tag, u64, bool)> {
            let n = &nodes[*i];
            let name = &names[*i];
            match job {
                Job::Reuse => {
                    let e = prev.as_ref().unwrap().by_path.get(&n.path).unwrap();
                    let size = if n.typ == T_DIR { 0 } else { e.sig.size };
                    progress.add(1, 0);
                    Ok((size, e.mac, e.sig, e.fingerprint, 0, true))
                }
                Job::Write if n.typ == T_DIR => {
                    let data = dir_data[*i].as_ref().unwrap();
                    let fp = gcm.gmac(&[0u8; 16], data);
                    let (bytes, mac) = pf::write_pf(name, data, &o.key, gcm)?;
                    write_file(&work_dir.join(name), &bytes, o.fsync)?;
                    progress.add(1, data.len() as u64);
                    Ok((0, mac, n.sig, fp, data.len() as u64, false))
                }
                Job::Write => {
                    let (size, mac, sig) = write_inode(n, &work_dir, name, &o.key, gcm, o.fsync)?;
                    progress.add(1, size);
                    Ok((size, mac, sig, [0u8; 16], size, false))
                }
            }
        });
        trace(&t0, "inode files");
        let mut records = Vec::with_capacity(nodes.len());
        let mut recs = Vec::with_capacity(nodes.len());
        let (mut packed, mut reused, mut bytes) = (0u64, 0u64, 0u64);
        for ((i, _), r) in jobs.iter().zip(outs) {
            let (size, mac, sig, fp, b, was_reused) = r?;
            let n = &nodes[*i];
            let blocks = if n.typ == T_DIR { n.children.len() as u32 + 2 } else { 0 };
            records.push((n.id, inode_record(n, &names[*i], size, blocks, &mac)));
            if was_reused {
                reused += 1;
            } else {
                packed += 1;
            }
            bytes += b;
            recs.push(Rec { size, mac, sig, fp });
        }
        let meta = metadata_bytes(&records, max_id);
        let mut gcm = Gcm::new();
        let sealed = pf::SealedPf::seal("metadata", &meta, &o.key, &mut gcm)?;
        let root_mac = sealed.mac();
        let state = state_text(&key_fp, &nodes, &names, &recs, &root_mac, generation);
        trace(&t0, "metadata");
        Ok((
            PackResult {
                root_mac,
                files_packed: packed,
                files_reused: reused,
                bytes,
                ms: 0.0,
                inodes: nodes.len() as u64,
            },
            (meta, sealed, recs),
            state.into_bytes(),
        ))
    })();
    let crash = |step| o.crash_hook(step);
    let (mut res, (meta, sealed, recs), state) = match result {
        Ok(r) => r,
        Err(e) => {
            // Undo: nothing of the previous image was touched.
            if in_place {
                recover(&o.out_root, &o.mac_file, true)?;
            } else {
                let _ = std::fs::remove_dir_all(&work_dir);
            }
            return Err(e);
        }
    };
    let (mbytes, state) = (&sealed.bytes[..], &state[..]);
    if in_place {
        // 1: inode files written (journal names them). 2: metadata written aside.
        crash(1)?;
        write_file(&o.out_root.join(META_TMP), mbytes, o.fsync)?;
        crash(2)?;
        // 3: the commit.
        std::fs::rename(o.out_root.join(META_TMP), o.out_root.join("metadata"))
            .map_err(|e| Error::io(e, &o.out_root.display().to_string()))?;
        crash(3)?;
        write_atomic(&o.mac_file, mac_string(&res.root_mac).as_bytes(), o.fsync)?;
        write_atomic(&o.out_root.join(STATE_FILE), state, o.fsync)?;
        crash(4)?;
        trace(&t0, "commit");
        recover(&o.out_root, &o.mac_file, true)?;
    } else {
        write_file(&work_dir.join("metadata"), mbytes, o.fsync)?;
        write_file(&work_dir.join(STATE_FILE), state, o.fsync)?;
        if o.fsync {
            std::fs::File::open(&work_dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(e, &work_dir.display().to_string()))?;
        }
        crash(1)?;
        let pending = pending_mac_path(&o.mac_file);
        write_file(&pending, mac_string(&res.root_mac).as_bytes(), o.fsync)?;
        crash(2)?;
        if o.out_root.exists() {
            exchange(&work_dir, &o.out_root).map_err(|e| {
                Error::new(
                    Kind::Io,
                    format!(
                        "{}: atomic directory swap (renameat2 RENAME_EXCHANGE) failed: {}",
                        o.out_root.display(),
                        e
                    ),
                )
            })?;
        } else {
            std::fs::rename(&work_dir, &o.out_root).map_err(|e| Error::io(e, &o.out_root.display().to_string()))?;
        }
        crash(3)?;
        std::fs::rename(&pending, &o.mac_file).map_err(|e| Error::io(e, &o.mac_file.display().to_string()))?;
        crash(4)?;
        trace(&t0, "commit");
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    put_warm(Warm::new(
        o,
        key_fp,
        res.root_mac,
        generation,
        lists,
        nodes,
        names,
        recs,
        meta,
        sealed,
    ));
    trace(&t0, "done");
    res.ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(res)
}
