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
pub const JOURNAL_FILE: &str = ".occlum-studio-pack.journal";
const META_TMP: &str = ".metadata.new";
/// Bounds of the small files a pack or reader reads back (a MAC, the pack state and journals).
const MAC_MAX: u64 = 64;
const STATE_MAX: u64 = 512 << 20;
const JOURNAL_MAX: u64 = 600 << 20;
/// The recovery journal of `metadata` (the SGX protected-file name convention, see pf::open_path).
const META_RECOVERY: &str = "metadata_recovery";

mod image;
mod journal;
mod scan;
mod state;
mod sys;
mod warm;
use image::*;
use journal::*;
pub use journal::{recover, stored_root_mac};
use scan::*;
use state::*;
use sys::*;
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
    /// A warm pack's host files of the image: the inode files it wrote and those it removed
    /// (the image's own files aside), so a caller can follow the image without listing it.
    pub host_files: Option<(Vec<String>, Vec<String>)>,
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

/// The image this process packed into `from` now lives at `to` (a staged build's directory was
/// renamed into place): its warm state follows it, so the next hinted pack there is warm. The warm
/// path still checks the image on disk is the one in memory (root MAC, no journal) before use.
pub fn moved(from: &Path, to: &Path) {
    let mut c = WARM.lock().unwrap_or_else(|e| e.into_inner());
    c.retain(|x| x.out_root != to);
    if let Some(w) = c.iter_mut().find(|x| x.out_root == from) {
        w.out_root = to.to_path_buf();
    }
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

enum Job {
    /// Keep the previous image's host file for this inode (incremental, in place): it is still
    /// the file the previous pack left (this identity, as recorded).
    Reuse(OutId),
    Write,
}

fn trace(t0: &Instant, what: &str) {
    if std::env::var_os("OCCLUM_STUDIO_PACK_TRACE").is_some() {
        eprintln!("pack: {:>8.2} ms {}", t0.elapsed().as_secs_f64() * 1000.0, what);
    }
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
    pack_vouched(o, changed, false, progress)
}

/// `pack_hinted`, where `vouched` says the caller watched `out_root` (inotify) and no file of it
/// changed since the previous pack by this process: the warm path then skips its stat of every
/// inode file (it still checks `metadata`, which it patches in place).
pub fn pack_vouched(
    o: &PackOpts,
    changed: Option<&[String]>,
    vouched: bool,
    progress: &Progress,
) -> Result<PackResult> {
    let t0 = Instant::now();
    let _lock = lock_destination(&o.out_root)?;
    check_destination(o)?;
    let key_fp = key_fingerprint(&o.key);
    // Taken out first: a failed pack leaves nothing cached behind.
    let mut warm = take_warm(&o.out_root).filter(|w| o.incremental && w.src == o.src && w.key_fp == key_fp);
    if let (Some(ch), Some(w)) = (changed, warm.as_mut()) {
        if let Some(res) = try_warm(o, w, ch, vouched, progress, &t0)? {
            put_warm(warm.unwrap());
            trace(&t0, "warm pack done");
            return Ok(res);
        }
    }
    recover(&o.out_root, &o.mac_file, true)?;
    trace(&t0, "recover");
    let cur_mac = stored_root_mac(&o.out_root);
    let mut lists = start_listings(o, changed, warm, cur_mac)?;
    let nodes = scan(&o.src, &mut lists)?;
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
    let plan = plan(o, nodes, prev, &t0)?;
    // In place when a previous image and its state are there; otherwise a fresh generation dir.
    let in_place = plan.prev.is_some();
    let work_dir = if in_place {
        o.out_root.clone()
    } else {
        sibling(&o.out_root, &format!(".tmp-{}", std::process::id()))
    };
    let host_files = plan
        .prev
        .as_ref()
        .map(|p| journal::host_changes(p, &plan.jobs, &plan.names));
    if let Some(p) = &plan.prev {
        write_journal(o, p, &plan.jobs, &plan.names)?;
    } else {
        fresh_work_dir(o, &work_dir)?;
    }
    trace(&t0, "journal");
    let built = match write_image(o, &plan, &work_dir, &key_fp, progress, &t0) {
        Ok(b) => b,
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
    let meta_id = if in_place {
        commit_in_place(o, &built, &t0)?
    } else {
        commit_swap(o, &built, &work_dir, &t0)?
    };
    let Built {
        mut res,
        meta,
        sealed,
        recs,
        ..
    } = built;
    put_warm(Warm::new(
        o,
        key_fp,
        res.root_mac,
        plan.generation,
        lists,
        plan.nodes,
        plan.names,
        recs,
        meta,
        sealed,
        meta_id,
    ));
    trace(&t0, "done");
    res.ms = t0.elapsed().as_secs_f64() * 1000.0;
    res.host_files = host_files;
    Ok(res)
}

/// The warm path (see `warm`); `None` when it declines. A failure is undone before it is returned.
fn try_warm(
    o: &PackOpts,
    w: &mut Warm,
    changed: &[String],
    vouched: bool,
    progress: &Progress,
    t0: &Instant,
) -> Result<Option<PackResult>> {
    match warm::pack(o, w, changed, vouched, progress) {
        Ok(Some(mut res)) => {
            res.ms = t0.elapsed().as_secs_f64() * 1000.0;
            Ok(Some(res))
        }
        Ok(None) => {
            trace(t0, "warm path declined");
            Ok(None)
        }
        Err(e) => {
            // Undo, unless this is the test hook's crash, which must leave what a crash leaves.
            if o.crash_after.is_none() {
                recover(&o.out_root, &o.mac_file, true)?;
            }
            Err(e)
        }
    }
}

/// The listings the scan starts from: the previous pack's, updated for the hint, when that pack
/// made the image that is there now; otherwise none (the scan reads every directory).
fn start_listings(
    o: &PackOpts,
    changed: Option<&[String]>,
    warm: Option<Warm>,
    cur_mac: Option<Tag>,
) -> Result<Listings> {
    Ok(match (changed, warm) {
        (Some(ch), Some(w)) if Some(w.root_mac) == cur_mac => {
            let mut l = w.lists;
            for rel in ch {
                apply_hint(&o.src, &mut l, rel)?;
            }
            l
        }
        _ => HashMap::new(),
    })
}

/// What a regular (not warm) pack decided before writing anything.
struct Plan {
    nodes: Vec<Node>,
    /// Host file name of each node (indexed like `nodes`).
    names: Vec<String>,
    /// (node index, what to do with it), one per node.
    jobs: Vec<(usize, Job)>,
    /// Plaintext of each directory node.
    dir_data: Vec<Option<Vec<u8>>>,
    prev: Option<PrevState>,
    max_id: u64,
    generation: u64,
}

/// Assign inode ids and decide, per inode, whether the previous image's file is reused.
fn plan(o: &PackOpts, mut nodes: Vec<Node>, prev: Option<PrevState>, t0: &Instant) -> Result<Plan> {
    let max_id = assign_ids(&mut nodes, prev.as_ref());
    let groups = max_id as usize / BLKBITS + 1;
    if groups > 1 << 16 {
        return err(Kind::Unsupported, "too many inodes for one image");
    }
    let generation = prev.as_ref().map(|p| p.generation + 1).unwrap_or(0);
    trace(t0, "ids");
    // Directory contents depend only on ids, so every inode can be produced in parallel.
    let dir_data: Vec<Option<Vec<u8>>> = (0..nodes.len())
        .map(|i| (nodes[i].typ == T_DIR).then(|| dir_content(&nodes, i)))
        .collect();
    let mut jobs = Vec::with_capacity(nodes.len());
    let mut names = Vec::with_capacity(nodes.len());
    let mut fp_gcm = Gcm::new();
    // The previous inode file of each node whose source is unchanged.
    let unchanged: Vec<Option<&PrevEntry>> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let e = prev
                .as_ref()
                .and_then(|p| p.by_path.get(&n.path))
                .filter(|e| e.id == n.id && e.typ == n.typ)?;
            match n.typ {
                T_DIR => fp_gcm.gmac(&[0u8; 16], dir_data[i].as_ref().unwrap()) == e.fingerprint,
                _ => e.sig == n.sig && n.sig.ino != 0,
            }
            .then_some(e)
        })
        .collect();
    // Reused only while it is the file that pack left (a stat each, in parallel): one written
    // since (tampered with, damaged, replaced) is written again, or its recorded MAC would vouch
    // for content it no longer matches and every later build would stay broken.
    let dir = prev.as_ref().and_then(|_| open_dir(&o.out_root));
    let kept = par_map(&unchanged, |e, _| {
        let e = (*e)?;
        Some((e, e.out.still(dir.as_ref()?, &e.host)?))
    });
    for (i, n) in nodes.iter().enumerate() {
        if let Some((e, id)) = kept[i] {
            names.push(e.host.clone());
            jobs.push((i, Job::Reuse(id)));
        } else {
            names.push(if prev.is_some() {
                gen_name(n.id, generation)
            } else {
                id_name(n.id)
            });
            jobs.push((i, Job::Write));
        }
    }
    trace(t0, "change detection");
    Ok(Plan {
        nodes,
        names,
        jobs,
        dir_data,
        prev,
        max_id,
        generation,
    })
}

/// The empty generation directory a full pack builds the image in.
fn fresh_work_dir(o: &PackOpts, work_dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(work_dir);
    if let Some(parent) = o.out_root.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(e, &parent.display().to_string()))?;
        }
    }
    std::fs::create_dir(work_dir).map_err(|e| Error::io(e, &work_dir.display().to_string()))
}

/// A written image, not yet committed.
struct Built {
    res: PackResult,
    /// The metadata plaintext and its sealed form.
    meta: Vec<u8>,
    sealed: pf::SealedPf,
    recs: Vec<Rec>,
    /// The pack state file's text.
    state: Vec<u8>,
}

/// Write every inode file the plan says to write into `work_dir` (in parallel) and build the
/// metadata and the pack state; nothing is committed yet.
fn write_image(
    o: &PackOpts,
    p: &Plan,
    work_dir: &Path,
    key_fp: &str,
    progress: &Progress,
    t0: &Instant,
) -> Result<Built> {
    let (nodes, names, jobs) = (&p.nodes, &p.names, &p.jobs);
    let real_src = safe_file::real_root(&o.src)?;
    progress.set_total(jobs.len() as u64 + 1);
    // Each job's record, the bytes it packed, and whether it reused the previous file.
    let outs = par_map(jobs, |(i, job), gcm| -> Result<(Rec, u64, bool)> {
        let n = &nodes[*i];
        let name = &names[*i];
        match job {
            Job::Reuse(out) => {
                let e = p.prev.as_ref().unwrap().by_path.get(&n.path).unwrap();
                let size = if n.typ == T_DIR { 0 } else { e.sig.size };
                progress.add(1, 0);
                let rec = Rec {
                    size,
                    mac: e.mac,
                    sig: e.sig,
                    fp: e.fingerprint,
                    out: *out,
                };
                Ok((rec, 0, true))
            }
            Job::Write if n.typ == T_DIR => {
                let data = p.dir_data[*i].as_ref().unwrap();
                let fp = gcm.gmac(&[0u8; 16], data);
                let (bytes, mac) = pf::write_pf(name, data, &o.key, gcm)?;
                let out = write_file(&work_dir.join(name), &bytes, o.fsync)?;
                progress.add(1, data.len() as u64);
                let rec = Rec {
                    size: 0,
                    mac,
                    sig: n.sig,
                    fp,
                    out,
                };
                Ok((rec, data.len() as u64, false))
            }
            Job::Write => {
                let (size, mac, sig, out) = write_inode(n, &real_src, work_dir, name, &o.key, gcm, o.fsync)?;
                progress.add(1, size);
                let rec = Rec {
                    size,
                    mac,
                    sig,
                    fp: [0u8; 16],
                    out,
                };
                Ok((rec, size, false))
            }
        }
    });
    trace(t0, "inode files");
    let mut records = Vec::with_capacity(nodes.len());
    let mut recs = Vec::with_capacity(nodes.len());
    let (mut packed, mut reused, mut bytes) = (0u64, 0u64, 0u64);
    for ((i, _), r) in jobs.iter().zip(outs) {
        let (rec, b, was_reused) = r?;
        let n = &nodes[*i];
        let blocks = if n.typ == T_DIR { n.children.len() as u32 + 2 } else { 0 };
        records.push((n.id, inode_record(n, &names[*i], rec.size, blocks, &rec.mac)));
        if was_reused {
            reused += 1;
        } else {
            packed += 1;
        }
        bytes += b;
        recs.push(rec);
    }
    let meta = metadata_bytes(&records, p.max_id);
    let mut gcm = Gcm::new();
    let sealed = pf::SealedPf::seal("metadata", &meta, &o.key, &mut gcm)?;
    let root_mac = sealed.mac();
    let state = state_text(key_fp, nodes, names, &recs, &root_mac, p.generation);
    trace(t0, "metadata");
    Ok(Built {
        res: PackResult {
            root_mac,
            files_packed: packed,
            files_reused: reused,
            bytes,
            ms: 0.0,
            inodes: nodes.len() as u64,
            host_files: None,
        },
        meta,
        sealed,
        recs,
        state: state.into_bytes(),
    })
}

/// Commit an incremental pack (see the module comment): metadata aside, renamed over the old one.
/// Returns the identity of the new `metadata`.
fn commit_in_place(o: &PackOpts, b: &Built, t0: &Instant) -> Result<OutId> {
    let crash = |step| o.crash_hook(step);
    // 1: inode files written (journal names them). 2: metadata written aside.
    crash(1)?;
    let meta_id = write_file(&o.out_root.join(META_TMP), &b.sealed.bytes, o.fsync)?;
    crash(2)?;
    // 3: the commit.
    std::fs::rename(o.out_root.join(META_TMP), o.out_root.join("metadata"))
        .map_err(|e| Error::io(e, &o.out_root.display().to_string()))?;
    crash(3)?;
    write_atomic(&o.mac_file, mac_string(&b.res.root_mac).as_bytes(), o.fsync)?;
    write_atomic(&o.out_root.join(STATE_FILE), &b.state, o.fsync)?;
    crash(4)?;
    trace(t0, "commit");
    recover(&o.out_root, &o.mac_file, true)?;
    Ok(meta_id)
}

/// Commit a full pack (see the module comment): the generation directory swapped with outRoot.
/// Returns the identity of the new `metadata`.
fn commit_swap(o: &PackOpts, b: &Built, work_dir: &Path, t0: &Instant) -> Result<OutId> {
    let crash = |step| o.crash_hook(step);
    let meta_id = write_file(&work_dir.join("metadata"), &b.sealed.bytes, o.fsync)?;
    write_file(&work_dir.join(STATE_FILE), &b.state, o.fsync)?;
    if o.fsync {
        std::fs::File::open(work_dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(e, &work_dir.display().to_string()))?;
    }
    crash(1)?;
    let pending = pending_mac_path(&o.mac_file);
    write_file(&pending, mac_string(&b.res.root_mac).as_bytes(), o.fsync)?;
    crash(2)?;
    if o.out_root.exists() {
        exchange(work_dir, &o.out_root).map_err(|e| {
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
        std::fs::rename(work_dir, &o.out_root).map_err(|e| Error::io(e, &o.out_root.display().to_string()))?;
    }
    crash(3)?;
    std::fs::rename(&pending, &o.mac_file).map_err(|e| Error::io(e, &o.mac_file.display().to_string()))?;
    crash(4)?;
    trace(t0, "commit");
    let _ = std::fs::remove_dir_all(work_dir);
    Ok(meta_id)
}
