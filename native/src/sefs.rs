//! SEFS reader (spec securefs-format.md §2): the `metadata` PF (superblock, free maps, inode
//! records of every layout era), directories, files, symlinks, sockets; one PF per inode.

use crate::crypto::{hex, Gcm, Tag};
use crate::error::{err, Error, Kind, Result};
use crate::pf::{self, KeyMode};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const BLKSIZE: usize = 128;
pub const BLKBITS: usize = 1024;
pub const SEFS_MAGIC: u32 = 0x2f8d_be2a;
pub const ROOT_ID: u64 = 2;
pub const MAX_NAME: usize = 255;
const MAX_DEPTH: usize = 512;
/// Largest ranged read (one Buffer on the JS side; callers page through bigger files).
pub const MAX_RANGE: u64 = 1 << 30;
/// Largest `metadata` read: 2M inode records. The format's own bound (the superblock's group
/// count) is checked after it; this one is checked before anything is allocated.
const MAX_META: u64 = 256 << 20;
/// Largest directory read (about 1M entries of 264 bytes).
const MAX_DIR: u64 = 256 << 20;
/// Longest symlink target (PATH_MAX).
pub const MAX_TARGET: u64 = 4096;

pub const T_FILE: u32 = 1;
pub const T_DIR: u32 = 2;
pub const T_SYMLINK: u32 = 3;
pub const T_SOCKET: u32 = 4;

pub fn type_name(t: u32) -> &'static str {
    match t {
        T_FILE => "file",
        T_DIR => "dir",
        T_SYMLINK => "symlink",
        T_SOCKET => "socket",
        _ => "other",
    }
}

/// Where the fields of an inode record sit; SEFS has no version field (spec §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub era: &'static str,
    size64: bool,
    type_off: usize,
    /// Offset of mode; nlinks, blocks, uid, gid follow at +2, +4, +8, +12.
    mode_off: usize,
    time_off: usize,
    ts16: bool,
    name_off: usize,
    mac_off: usize,
    pub rec_len: usize,
    pub dirent: usize,
}

pub const L112: Layout = Layout {
    era: "sefs >= 2022-01 (112-byte inode, 16-byte timespecs, 264-byte dirent)",
    size64: true,
    type_off: 8,
    mode_off: 12,
    time_off: 32,
    ts16: true,
    name_off: 80,
    mac_off: 96,
    rec_len: 112,
    dirent: 264,
};
pub const L72: Layout = Layout {
    era: "sefs 2020-08..2022-01 (72-byte inode, u32 times)",
    size64: true,
    type_off: 8,
    mode_off: 12,
    time_off: 28,
    ts16: false,
    name_off: 40,
    mac_off: 56,
    rec_len: 72,
    dirent: 264,
};
pub const L68: Layout = Layout {
    era: "sefs 2020-06..2020-08 (68-byte inode, u32 size, 260-byte dirent)",
    size64: false,
    type_off: 4,
    mode_off: 8,
    time_off: 24,
    ts16: false,
    name_off: 36,
    mac_off: 52,
    rec_len: 68,
    dirent: 260,
};

fn u16at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

#[derive(Debug, Clone)]
pub struct Inode {
    pub id: u64,
    pub size: u64,
    pub typ: u32,
    pub mode: u16,
    pub nlinks: u16,
    pub blocks: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub disk_filename: [u8; 16],
    pub inode_mac: Tag,
}

impl Inode {
    pub fn host_file(&self) -> String {
        hex(&self.disk_filename)
    }
    pub fn has_mac(&self) -> bool {
        self.inode_mac.iter().any(|&b| b != 0)
    }
}

#[derive(Debug, Clone)]
pub struct Dirent {
    pub id: u64,
    pub name: String,
    pub typ: Option<u32>,
}

/// A directory entry that cannot be shown (an illegal or undecodable name): skipped, and reported
/// by listings, walks and verify instead of failing the whole directory.
#[derive(Debug, Clone)]
pub struct BadEntry {
    pub index: usize,
    /// The stored name up to its NUL (lossy UTF-8; callers sanitise it before printing).
    pub name: String,
    pub reason: String,
}

pub struct Sefs {
    pub dir: PathBuf,
    pub mode: KeyMode,
    pub meta: Vec<u8>,
    pub root_mac: Tag,
    pub layout: Layout,
    pub groups: u32,
    pub blocks: u32,
    pub unused: u32,
    /// Bytes 28..31 of some records are non-zero: the 2022-01..2022-09 era of garbage padding.
    pub garbage_pad: bool,
}

/// Images opened by this process, by directory and key mode. Opening reads and authenticates the
/// whole `metadata` file (O(inodes): ~80 µs for 2000 inodes, milliseconds for large images), which
/// every stat, list and read used to pay.
struct Opened {
    dir: PathBuf,
    mode: KeyMode,
    stamp: MetaStamp,
    fs: Arc<Sefs>,
}
static OPENED: Mutex<Vec<Opened>> = Mutex::new(Vec::new());
const OPENED_MAX: usize = 4;

/// What identifies the `metadata` file's content: its inode and size, and the root MAC in its
/// header, which every rewrite changes (a fresh key, or for integrity-only images a MAC of the new
/// content). Timestamps alone would not do: they tick in milliseconds.
#[derive(PartialEq, Eq, Clone, Copy)]
struct MetaStamp {
    dev: u64,
    ino: u64,
    size: u64,
    header: [u8; 17],
}

/// The stamp of `dir/metadata`; None when unreadable or in the middle of an in-place update
/// (update flag set: its recovery journal decides what it holds), which is never cached.
fn meta_stamp(dir: &Path) -> Option<MetaStamp> {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let f = crate::safe_file::open_regular(&dir.join("metadata"), "the image's metadata").ok()?;
    let m = f.metadata().ok()?;
    let mut h = [0u8; 95];
    f.read_exact_at(&mut h, 0).ok()?;
    if &h[0..8] != pf::MAGIC || h[93] != 0 {
        return None;
    }
    Some(MetaStamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.len(),
        header: h[77..94].try_into().unwrap(),
    })
}

impl Sefs {
    /// `open`, shared with earlier callers in this process while `metadata` is unchanged. For
    /// reading; verification opens afresh (it must see every byte of the chain).
    pub fn open_shared(dir: &Path, mode: &KeyMode, gcm: &mut Gcm) -> Result<Arc<Sefs>> {
        let stamp = meta_stamp(dir);
        if let Some(st) = stamp {
            let c = OPENED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(o) = c.iter().find(|o| o.dir == dir && o.mode == *mode && o.stamp == st) {
                return Ok(o.fs.clone());
            }
        }
        let fs = Arc::new(Sefs::open(dir, mode, gcm)?);
        // The stamp was taken before the open: a change during it makes the next call open again.
        if let Some(st) = stamp.filter(|st| fs.root_mac[..] == st.header[..16]) {
            let mut c = OPENED.lock().unwrap_or_else(|e| e.into_inner());
            c.retain(|o| !(o.dir == dir && o.mode == *mode));
            if c.len() >= OPENED_MAX {
                c.remove(0);
            }
            c.push(Opened {
                dir: dir.to_path_buf(),
                mode: *mode,
                stamp: st,
                fs: fs.clone(),
            });
        }
        Ok(fs)
    }

    pub fn open(dir: &Path, mode: &KeyMode, gcm: &mut Gcm) -> Result<Sefs> {
        if !dir.is_dir() {
            return err(
                Kind::Missing,
                format!(
                    "{}: not a directory (expected an SEFS __ROOT with a `metadata` file)",
                    dir.display()
                ),
            );
        }
        let mpath = dir.join("metadata");
        // lstat: a dangling link (a git-annex checkout) is not "no file"; the open names it.
        if mpath.symlink_metadata().is_err() {
            return err(
                Kind::Missing,
                format!("{}: no `metadata` file: not an SEFS __ROOT directory", dir.display()),
            );
        }
        let f = pf::open_path(&mpath, mode, gcm)?;
        if f.size > MAX_META {
            return err(Kind::Format, format!("{}: metadata claims {} bytes, more than the {} of {} inodes this reader accepts: a damaged or hostile image; rebuild it", mpath.display(), f.size, MAX_META, MAX_META / BLKSIZE as u64));
        }
        let meta = f
            .read_all(gcm, &mut |_| {})
            .map_err(|e| e.at(&mpath.display().to_string()))?;
        if meta.len() < 16 || u32at(&meta, 0) != SEFS_MAGIC {
            return err(
                Kind::Format,
                format!("{}: not an SEFS superblock (magic is not 0x2f8dbe2a)", mpath.display()),
            );
        }
        let (blocks, unused, groups) = (u32at(&meta, 4), u32at(&meta, 8), u32at(&meta, 12));
        if groups == 0 || groups > 1 << 20 || blocks as u64 != groups as u64 * BLKBITS as u64 {
            return err(
                Kind::Format,
                format!(
                    "{}: inconsistent superblock (blocks {}, groups {})",
                    mpath.display(),
                    blocks,
                    groups
                ),
            );
        }
        if meta.len() as u64 > blocks as u64 * BLKSIZE as u64 {
            return err(
                Kind::Format,
                format!(
                    "{}: metadata holds {} bytes but its superblock describes only {} blocks of {}",
                    mpath.display(),
                    meta.len(),
                    blocks,
                    BLKSIZE
                ),
            );
        }
        let mut s = Sefs {
            dir: dir.to_path_buf(),
            mode: *mode,
            meta,
            root_mac: f.mac(),
            layout: L112,
            groups,
            blocks,
            unused,
            garbage_pad: false,
        };
        s.layout = s.detect_layout(gcm);
        if s.layout == L112 {
            s.garbage_pad = (2..(blocks as usize).min(s.meta.len() / BLKSIZE + 1)).any(|id| {
                s.meta.len() >= id * BLKSIZE + 32 && u32at(&s.meta, id * BLKSIZE + 28) != 0 && s.block_used(id as u64)
            });
        }
        Ok(s)
    }

    fn rec(&self, id: u64) -> [u8; BLKSIZE] {
        // Reads past the logical end of `metadata` are zeros (sefs-cli never pads it).
        let mut r = [0u8; BLKSIZE];
        let off = id as usize * BLKSIZE;
        if off < self.meta.len() {
            let n = (self.meta.len() - off).min(BLKSIZE);
            r[..n].copy_from_slice(&self.meta[off..off + n]);
        }
        r
    }

    /// Pick the record layout whose root record names an existing host file; then the dirent size.
    fn detect_layout(&self, gcm: &mut Gcm) -> Layout {
        let r = self.rec(ROOT_ID);
        let mut chosen = None;
        for l in [L112, L72, L68] {
            if u32at(&r, l.type_off) == T_DIR && self.dir.join(hex(&r[l.name_off..l.name_off + 16])).exists() {
                chosen = Some(l);
                break;
            }
        }
        let mut l = chosen.unwrap_or(if u32at(&r, 4) == T_DIR && u32at(&r, 8) != T_DIR {
            L68
        } else {
            L112
        });
        if l.size64 {
            // 72-byte records existed with both dirent sizes (260 until 2021-06).
            if let Ok(root) = self.inode_with(ROOT_ID, &l) {
                if let Ok(data) = self.read_raw_prefix(&root, 2 * 264, gcm) {
                    let dotdot_at = |d: usize| data.len() >= 2 * d && &data[d + 4..d + 7] == b"..\0";
                    if !dotdot_at(264) && dotdot_at(260) {
                        l.dirent = 260;
                        l.era = "sefs 2020-08..2021-06 (72-byte inode, 260-byte dirent without type)";
                    }
                }
            }
        }
        l
    }

    pub fn block_used(&self, id: u64) -> bool {
        let group = id as usize / BLKBITS;
        let bit = id as usize % BLKBITS;
        let off = (group * BLKBITS + 1) * BLKSIZE + bit / 8;
        if off >= self.meta.len() {
            return false;
        }
        (self.meta[off] >> (bit % 8)) & 1 == 0
    }

    fn inode_with(&self, id: u64, l: &Layout) -> Result<Inode> {
        if id < 2 || id >= self.blocks as u64 || id % BLKBITS as u64 == 1 {
            return err(
                Kind::Format,
                format!("inode id {} is out of range or a reserved block", id),
            );
        }
        let r = self.rec(id);
        let typ = u32at(&r, l.type_off);
        if typ == 0 {
            return err(Kind::Format, format!("inode {} is not in use (type 0)", id));
        }
        let mo = l.mode_off;
        Ok(Inode {
            id,
            size: if l.size64 { u64at(&r, 0) } else { u32at(&r, 0) as u64 },
            typ,
            mode: u16at(&r, mo),
            nlinks: u16at(&r, mo + 2),
            blocks: u32at(&r, mo + 4),
            uid: u32at(&r, mo + 8),
            gid: u32at(&r, mo + 12),
            mtime: if l.ts16 {
                u64at(&r, l.time_off + 16) as i64
            } else {
                u32at(&r, l.time_off + 4) as i64
            },
            disk_filename: r[l.name_off..l.name_off + 16].try_into().unwrap(),
            inode_mac: r[l.mac_off..l.mac_off + 16].try_into().unwrap(),
        })
    }

    pub fn inode(&self, id: u64) -> Result<Inode> {
        self.inode_with(id, &self.layout)
    }

    pub fn host_path(&self, ino: &Inode) -> PathBuf {
        self.dir.join(ino.host_file())
    }

    /// Open the inode's PF (whole, or for ranged reads) and check its MAC against `inode_mac`.
    fn open_pf(&self, ino: &Inode, ranged: bool, gcm: &mut Gcm) -> Result<pf::Pf> {
        let p = self.host_path(ino);
        if p.symlink_metadata().is_err() {
            return err(
                Kind::Missing,
                format!("host file {} of inode {} is missing", ino.host_file(), ino.id),
            );
        }
        let f = if ranged {
            pf::open_path_ranged(&p, &self.mode, gcm)?
        } else {
            pf::open_path(&p, &self.mode, gcm)?
        };
        if ino.has_mac() && f.mac() != ino.inode_mac {
            return Err(Error::new(
                Kind::MacMismatch,
                format!(
                    "host file {} has MAC {} but inode {} records {}",
                    ino.host_file(),
                    crate::crypto::mac_string(&f.mac()),
                    ino.id,
                    crate::crypto::mac_string(&ino.inode_mac)
                ),
            ));
        }
        Ok(f)
    }

    /// Open the inode's PF, check its MAC against `inode_mac`, return its whole plaintext.
    fn read_raw(&self, ino: &Inode, gcm: &mut Gcm) -> Result<Vec<u8>> {
        let f = self.open_pf(ino, false, gcm)?;
        f.read_all(gcm, &mut |_| {}).map_err(|e| e.at(&ino.host_file()))
    }

    /// The first `len` bytes of the inode's PF (fewer if it holds fewer), reading only those.
    fn read_raw_prefix(&self, ino: &Inode, len: u64, gcm: &mut Gcm) -> Result<Vec<u8>> {
        let f = self.open_pf(ino, true, gcm)?;
        f.read_range(0, len, gcm).map_err(|e| e.at(&ino.host_file()))
    }

    /// Bytes past the PF's end read as zeros (a run-time truncate only zero-fills), but a gap of
    /// more than 64 MiB is a corrupt record, not a sparse file.
    fn check_gap(ino: &Inode, pf_size: u64) -> Result<()> {
        if ino.size > pf_size + (64 << 20) {
            return err(
                Kind::Format,
                format!(
                    "inode {} claims size {} but its host file holds {} bytes",
                    ino.id, ino.size, pf_size
                ),
            );
        }
        Ok(())
    }

    /// File or symlink content, cut (or zero-extended) to the inode's size.
    pub fn read_data(&self, ino: &Inode, gcm: &mut Gcm) -> Result<Vec<u8>> {
        if ino.typ == T_DIR {
            return err(Kind::Usage, "is a directory");
        }
        if ino.size > pf::MAX_WHOLE {
            return err(
                Kind::Unsupported,
                format!(
                    "inode {} holds {} bytes; whole reads are limited to {} (read it in ranges, e.g. fs cat)",
                    ino.id,
                    ino.size,
                    pf::MAX_WHOLE
                ),
            );
        }
        if ino.typ == T_SYMLINK && ino.size > MAX_TARGET {
            return err(
                Kind::Format,
                format!(
                    "symlink inode {} claims a {}-byte target (at most {})",
                    ino.id, ino.size, MAX_TARGET
                ),
            );
        }
        let mut d = self.read_raw(ino, gcm)?;
        Self::check_gap(ino, d.len() as u64)?;
        d.resize(ino.size as usize, 0);
        Ok(d)
    }

    /// Bytes [off, off + len) of what `read_data` returns (cut at the inode's size), reading and
    /// authenticating only the nodes of the inode's PF that hold them.
    pub fn read_data_range(&self, ino: &Inode, off: u64, len: u64, gcm: &mut Gcm) -> Result<Vec<u8>> {
        if ino.typ == T_DIR {
            return err(Kind::Usage, "is a directory");
        }
        let f = self.open_pf(ino, true, gcm)?;
        Self::check_gap(ino, f.size)?;
        let end = off.saturating_add(len).min(ino.size);
        if off >= end {
            return Ok(Vec::new());
        }
        if end - off > MAX_RANGE {
            return err(
                Kind::Usage,
                format!(
                    "a ranged read is limited to {} bytes (asked for {})",
                    MAX_RANGE,
                    end - off
                ),
            );
        }
        let mut d = f.read_range(off, end - off, gcm).map_err(|e| e.at(&ino.host_file()))?;
        d.resize((end - off) as usize, 0);
        Ok(d)
    }

    /// The entries of a directory; illegal ones are left out (see list_dir_all).
    pub fn list_dir(&self, ino: &Inode, gcm: &mut Gcm) -> Result<Vec<Dirent>> {
        Ok(self.list_dir_all(ino, gcm)?.0)
    }

    /// The entries of a directory and the ones skipped for an illegal name ('/', '.', '..',
    /// empty, no NUL within 255 bytes, not UTF-8). A damaged structure (counts beyond the file,
    /// missing '.' / '..') fails the whole directory.
    pub fn list_dir_all(&self, ino: &Inode, gcm: &mut Gcm) -> Result<(Vec<Dirent>, Vec<BadEntry>)> {
        if ino.typ != T_DIR {
            return err(Kind::Usage, "not a directory");
        }
        let ds = self.layout.dirent;
        let n = ino.blocks as usize;
        if n as u64 * ds as u64 > MAX_DIR {
            return err(Kind::Format, format!("directory inode {} claims {} entries, more than this reader accepts ({}): a damaged or hostile image", ino.id, n, MAX_DIR / ds as u64));
        }
        // Only the entries `blocks` counts are read (a hostile PF may claim any size).
        let data = self.read_raw_prefix(ino, (n * ds) as u64, gcm)?;
        if n < 2 || n.checked_mul(ds).is_none_or(|need| need > data.len()) {
            return err(
                Kind::Format,
                format!(
                    "directory inode {} claims {} entries but its file holds {} bytes",
                    ino.id,
                    n,
                    data.len()
                ),
            );
        }
        let mut out = Vec::with_capacity(n - 2);
        let mut bad = Vec::new();
        for i in 0..n {
            let e = &data[i * ds..(i + 1) * ds];
            let id = u32at(e, 0) as u64;
            let nb = &e[4..260];
            let nul = nb.iter().position(|&b| b == 0);
            let raw = &nb[..nul.unwrap_or(nb.len())];
            let name = std::str::from_utf8(raw);
            if i < 2 {
                if name != Ok([".", ".."][i]) {
                    return err(
                        Kind::Format,
                        format!(
                            "directory inode {} entry {} should be {:?}, found {:?}",
                            ino.id,
                            i,
                            [".", ".."][i],
                            String::from_utf8_lossy(raw)
                        ),
                    );
                }
                continue;
            }
            let why = match name {
                _ if nul.is_none() => Some("is not NUL-terminated within 255 bytes (over-long)"),
                Err(_) => Some("is not UTF-8"),
                Ok("") => Some("is empty"),
                Ok(".") | Ok("..") => Some("is '.' or '..'"),
                Ok(n) if n.contains('/') => Some("contains '/'"),
                Ok(_) => None,
            };
            match why {
                Some(w) => bad.push(BadEntry {
                    index: i,
                    name: String::from_utf8_lossy(raw).into_owned(),
                    reason: format!(
                        "directory inode {} entry {}: the name {:?} {}; skipped",
                        ino.id,
                        i,
                        String::from_utf8_lossy(raw),
                        w
                    ),
                }),
                None => out.push(Dirent {
                    id,
                    name: name.unwrap().to_string(),
                    typ: if ds == 264 { Some(u32at(e, 260)) } else { None },
                }),
            }
        }
        Ok((out, bad))
    }

    pub fn root(&self) -> Result<Inode> {
        let r = self.inode(ROOT_ID)?;
        if r.typ != T_DIR {
            return err(Kind::Format, "root inode 2 is not a directory");
        }
        Ok(r)
    }

    /// Resolve an absolute path without following symlinks.
    pub fn lookup(&self, path: &str, gcm: &mut Gcm) -> Result<Inode> {
        let mut cur = self.root()?;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if comp == ".." {
                return err(Kind::Usage, format!("{}: '..' is not allowed in image paths", path));
            }
            if cur.typ != T_DIR {
                return err(Kind::Missing, format!("{}: not a directory on the way", path));
            }
            let ents = self.list_dir(&cur, gcm)?;
            let e = ents.iter().find(|e| e.name == comp).ok_or_else(|| {
                Error::new(
                    Kind::Missing,
                    format!("{}: no such file or directory in the image", path),
                )
            })?;
            cur = self.inode(e.id)?;
        }
        Ok(cur)
    }

    /// Depth-first (pre-order) walk of the whole tree. Problems (unreadable directories, cycles)
    /// are returned alongside the entries so that one broken directory does not hide the rest.
    #[allow(clippy::type_complexity)] // (what was walked, what was left out and why)
    pub fn walk(&self, gcm: &mut Gcm) -> Result<(Vec<(String, Inode)>, Vec<(String, Error)>)> {
        let root = self.root()?;
        let mut out = vec![("/".to_string(), root.clone())];
        let mut problems = Vec::new();
        let mut seen_dirs = HashSet::new();
        seen_dirs.insert(ROOT_ID);
        self.walk_dir("/", &root, 0, gcm, &mut seen_dirs, &mut out, &mut problems);
        Ok((out, problems))
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_dir(
        &self,
        path: &str,
        dir: &Inode,
        depth: usize,
        gcm: &mut Gcm,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(String, Inode)>,
        problems: &mut Vec<(String, Error)>,
    ) {
        let ents = match self.list_dir_all(dir, gcm) {
            Ok((ents, bad)) => {
                problems.extend(
                    bad.into_iter()
                        .map(|b| (path.to_string(), Error::new(Kind::Format, b.reason))),
                );
                ents
            }
            Err(e) => {
                problems.push((path.to_string(), e));
                return;
            }
        };
        for e in ents {
            let p = if path == "/" {
                format!("/{}", e.name)
            } else {
                format!("{}/{}", path, e.name)
            };
            match self.inode(e.id) {
                Ok(ino) => {
                    out.push((p.clone(), ino.clone()));
                    if ino.typ == T_DIR {
                        if !seen.insert(ino.id) {
                            problems.push((
                                p,
                                Error::new(
                                    Kind::Format,
                                    format!(
                                        "directory inode {} is reached twice (a cycle or a hard-linked directory)",
                                        ino.id
                                    ),
                                ),
                            ));
                        } else if depth + 1 > MAX_DEPTH {
                            problems.push((p, Error::new(Kind::Format, "directory nesting deeper than 512 levels")));
                        } else {
                            self.walk_dir(&p, &ino, depth + 1, gcm, seen, out, problems);
                        }
                    }
                }
                Err(er) => problems.push((p, er)),
            }
        }
    }
}
