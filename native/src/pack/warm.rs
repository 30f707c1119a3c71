//! The warm path of a hinted incremental pack. The previous pack into the same outRoot by this
//! process left its whole result in memory (tree, inode records, metadata plaintext and the sealed
//! metadata), so when the hint names only edited files (content or mode) the pack rewrites those
//! inode files and re-seals just the metadata nodes that hold their records, from the changed
//! data nodes up to node 0. Anything structural (adds, deletes, renames, directories, hard links,
//! type changes) declines to the regular path.
//!
//! `metadata` is updated in place the way the SGX protected-file library itself updates a file,
//! which every PF reader (Occlum's and ours) understands: the previous images of the nodes about
//! to change go to `metadata_recovery`, node 0 is rewritten with its update flag set, the new
//! nodes are written, and the new node 0 (flag clear, new MAC) is the commit. A reader that finds
//! the flag set applies the journal and reads the previous image; the packer's `recover` writes
//! the journal back. The pack journal (new and replaced inode files) works as in the regular
//! incremental pack.

use super::*;
use std::os::unix::fs::FileExt;

pub(super) struct Warm {
    pub src: PathBuf,
    pub out_root: PathBuf,
    pub key_fp: String,
    pub root_mac: Tag,
    generation: u64,
    pub lists: Listings,
    nodes: Vec<Node>,
    /// Host file name and record of each node (indexed like `nodes`).
    names: Vec<String>,
    recs: Vec<Rec>,
    by_path: HashMap<String, usize>,
    meta_plain: Vec<u8>,
    meta: pf::SealedPf,
    /// The identity `metadata` was left with (it is patched in place only while unchanged).
    meta_id: OutId,
    /// Bytes appended to the state file since it was last written whole.
    state_appended: usize,
}

/// Rewrite the state file whole once the appended commits outgrow this.
const STATE_APPEND_MAX: usize = 1 << 20;

impl Warm {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        o: &PackOpts,
        key_fp: String,
        root_mac: Tag,
        generation: u64,
        lists: Listings,
        nodes: Vec<Node>,
        names: Vec<String>,
        recs: Vec<Rec>,
        meta_plain: Vec<u8>,
        meta: pf::SealedPf,
        meta_id: OutId,
    ) -> Warm {
        let by_path = nodes.iter().enumerate().map(|(i, n)| (n.path.clone(), i)).collect();
        Warm {
            src: o.src.clone(),
            out_root: o.out_root.clone(),
            key_fp,
            root_mac,
            generation,
            lists,
            nodes,
            names,
            recs,
            by_path,
            meta_plain,
            meta,
            meta_id,
            state_appended: 0,
        }
    }
}

/// One hinted file whose content or mode changed.
struct Edit {
    node: usize,
    stat: Stat,
    parent: String,
    name: String,
}

/// The edits a hint stands for, or None when it is not a set of in-place file edits (or the
/// image on disk is no longer the one in memory). Touches nothing.
fn plan(o: &PackOpts, w: &Warm, changed: &[String], vouched: bool) -> Option<Vec<Edit>> {
    let out = &o.out_root;
    // Nothing left over by an interrupted pack, the image is the one in memory, and its
    // `metadata` is not shared with another image through a hard link (it is written in place).
    if [
        out.join(JOURNAL_FILE),
        out.join(META_RECOVERY),
        pending_mac_path(&o.mac_file),
    ]
    .iter()
    .any(|p| p.symlink_metadata().is_ok())
    {
        return None;
    }
    if stored_root_mac(out) != Some(w.root_mac) || std::fs::symlink_metadata(out.join("metadata")).ok()?.nlink() != 1 {
        return None;
    }
    // Every file of the image is still the one this process wrote (or reused): `metadata` is
    // patched in place and the inode files are kept, so one written since (tampered with,
    // damaged) sends the pack to the regular path, which rewrites it. A stat each, in parallel
    // (20,000 cost 10-40 ms), unless the caller's watch vouches that none changed.
    let dir = open_dir(out)?;
    w.meta_id.still(&dir, "metadata")?;
    let files: Vec<usize> = if vouched {
        Vec::new()
    } else {
        (0..w.nodes.len()).collect()
    };
    if par_map(&files, |&i, _| w.recs[i].out.still(&dir, &w.names[i]).is_none())
        .into_iter()
        .any(|changed| changed)
    {
        return None;
    }
    let mut edits: Vec<Edit> = Vec::new();
    for rel in changed {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if comps.is_empty() || comps.contains(&"..") {
            return None;
        }
        let path = format!("/{}", comps.join("/"));
        let &i = w.by_path.get(&path)?;
        let n = &w.nodes[i];
        if n.typ == T_DIR || n.nlinks != 1 {
            return None;
        }
        let host = o.src.join(comps.join("/"));
        let name = *comps.last().unwrap();
        let (_, st) = stat_entry(&host, std::ffi::OsStr::new(name), std::fs::symlink_metadata(&host)).ok()?;
        if st.typ != n.typ || st.nlink != 1 {
            return None;
        }
        if (st.sig == w.recs[i].sig && st.mode == n.mode) || edits.iter().any(|e| e.node == i) {
            continue;
        }
        let parent = if comps.len() == 1 {
            "/".to_string()
        } else {
            format!("/{}", comps[..comps.len() - 1].join("/"))
        };
        edits.push(Edit {
            node: i,
            stat: st,
            parent,
            name: name.to_string(),
        });
    }
    Some(edits)
}

/// Ok(None): not a warm case, nothing was touched. On Err the caller runs `recover`.
pub(super) fn pack(
    o: &PackOpts,
    w: &mut Warm,
    changed: &[String],
    vouched: bool,
    progress: &Progress,
) -> Result<Option<PackResult>> {
    let Some(edits) = plan(o, w, changed, vouched) else {
        return Ok(None);
    };
    let inodes = w.nodes.len() as u64;
    if edits.is_empty() {
        return Ok(Some(PackResult {
            root_mac: w.root_mac,
            files_packed: 0,
            files_reused: inodes,
            bytes: 0,
            ms: 0.0,
            inodes,
            host_files: Some((Vec::new(), Vec::new())),
        }));
    }
    let out = &o.out_root;
    let generation = w.generation + 1;
    let new_names: Vec<String> = edits.iter().map(|e| gen_name(w.nodes[e.node].id, generation)).collect();
    write_journal(o, w, &edits, &new_names)?;
    progress.set_total(edits.len() as u64 + 1);
    let mut gcm = Gcm::new();
    let Written { recs, dirty, bytes } = write_inodes(o, w, &edits, &new_names, &mut gcm, progress)?;
    o.crash_hook(1)?;
    let (root_mac, meta_id) = update_metadata(o, w, &dirty, &mut gcm)?;
    w.meta_id = meta_id;
    o.crash_hook(3)?;
    let _ = std::fs::remove_file(out.join(META_RECOVERY));
    write_atomic(&o.mac_file, mac_string(&root_mac).as_bytes(), o.fsync)?;

    let replaced: Vec<String> = edits.iter().map(|e| w.names[e.node].clone()).collect();
    let written = new_names.clone();
    remember(o, w, recs, &edits, new_names, root_mac, generation)?;
    o.crash_hook(4)?;
    for n in &replaced {
        let _ = std::fs::remove_file(out.join(n));
    }
    let _ = std::fs::remove_file(out.join(JOURNAL_FILE));
    progress.add(1, 0);
    Ok(Some(PackResult {
        root_mac,
        files_packed: edits.len() as u64,
        files_reused: inodes - edits.len() as u64,
        bytes,
        ms: 0.0,
        inodes,
        host_files: Some((written, replaced)),
    }))
}

/// The pack journal: the inode files about to be written (new) and those they replace (old).
fn write_journal(o: &PackOpts, w: &Warm, edits: &[Edit], new_names: &[String]) -> Result<()> {
    let mut journal = format!("occlum-studio-journal 1\t{}\n", mac_string(&w.root_mac));
    for n in new_names {
        journal.push_str(&format!("new\t{}\n", n));
    }
    for e in edits {
        journal.push_str(&format!("old\t{}\n", w.names[e.node]));
    }
    write_atomic(&o.out_root.join(JOURNAL_FILE), journal.as_bytes(), o.fsync)
}

/// What writing the edited inode files produced.
struct Written {
    /// The new nodes with their records.
    recs: Vec<(Node, Rec)>,
    /// The ranges of the metadata plaintext that changed.
    dirty: Vec<std::ops::Range<usize>>,
    bytes: u64,
}

/// Writes the edited inode files under their new names and their records into the metadata
/// plaintext.
fn write_inodes(
    o: &PackOpts,
    w: &mut Warm,
    edits: &[Edit],
    new_names: &[String],
    gcm: &mut Gcm,
    progress: &Progress,
) -> Result<Written> {
    let mut dirty = Vec::with_capacity(edits.len());
    let mut recs = Vec::with_capacity(edits.len());
    let mut bytes = 0u64;
    let real_src = crate::safe_file::real_root(&o.src)?;
    for (e, name) in edits.iter().zip(new_names) {
        let n = Node {
            mode: e.stat.mode,
            sig: e.stat.sig,
            children: Vec::new(),
            host: w.nodes[e.node].host.clone(),
            path: w.nodes[e.node].path.clone(),
            ..w.nodes[e.node]
        };
        let (size, mac, sig, out) = write_inode(&n, &real_src, &o.out_root, name, &o.key, gcm, o.fsync)?;
        let rec = Rec {
            size,
            mac,
            sig,
            fp: [0; 16],
            out,
        };
        let off = n.id as usize * BLKSIZE;
        w.meta_plain[off..off + 112].copy_from_slice(&inode_record(&n, name, rec.size, 0, &mac));
        dirty.push(off..off + 112);
        recs.push((n, rec));
        bytes += size;
        progress.add(1, size);
    }
    Ok(Written { recs, dirty, bytes })
}

/// Re-seals the changed metadata nodes and writes them into `metadata` in place under its
/// recovery journal, as the protected-file library does (module comment); returns the new root MAC
/// and the identity `metadata` was left with.
fn update_metadata(
    o: &PackOpts,
    w: &mut Warm,
    dirty: &[std::ops::Range<usize>],
    gcm: &mut Gcm,
) -> Result<(Tag, OutId)> {
    let out = &o.out_root;
    let old = w.meta.reseal(&w.meta_plain, dirty, &o.key, gcm);
    let root_mac = w.meta.mac();
    let mut j = Vec::with_capacity(old.len() * (8 + pf::NODE));
    for (phys, image) in &old {
        j.extend_from_slice(&phys.to_le_bytes());
        j.extend_from_slice(image);
    }
    write_file(&out.join(META_RECOVERY), &j, o.fsync)?;
    let mp = out.join("metadata");
    let shown = mp.display().to_string();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&mp)
        .map_err(|e| Error::io(e, &shown))?;
    let sync = || -> Result<()> {
        if o.fsync {
            f.sync_data().map_err(|e| Error::io(e, &shown))?;
        }
        Ok(())
    };
    let node0 = &old.last().expect("node 0 is always re-sealed").1;
    let mut flagged = node0.clone();
    flagged[93] = 1;
    f.write_all_at(&flagged, 0).map_err(|e| Error::io(e, &shown))?;
    sync()?;
    let write_node = |phys: u64| {
        f.write_all_at(
            &w.meta.bytes[phys as usize * pf::NODE..][..pf::NODE],
            phys * pf::NODE as u64,
        )
        .map_err(|e| Error::io(e, &shown))
    };
    let body: Vec<u64> = old.iter().map(|(p, _)| *p).filter(|&p| p != 0).collect();
    for (k, &phys) in body.iter().enumerate() {
        write_node(phys)?;
        // The hook's step 2 stops halfway through the in-place update.
        if k + 1 == body.len().div_ceil(2) {
            o.crash_hook(2)?;
        }
    }
    sync()?;
    write_node(0)?; // the commit
    sync()?;
    let m = f.metadata().map_err(|e| Error::io(e, &shown))?;
    Ok((root_mac, OutId::of(&m)))
}

/// Memory follows the disk; then the state file, appended (or rewritten when it grew).
fn remember(
    o: &PackOpts,
    w: &mut Warm,
    recs: Vec<(Node, Rec)>,
    edits: &[Edit],
    new_names: Vec<String>,
    root_mac: Tag,
    generation: u64,
) -> Result<()> {
    let mut appended = String::new();
    for ((n, rec), (e, name)) in recs.into_iter().zip(edits.iter().zip(new_names)) {
        appended.push_str(&state_line(&n, &name, &rec));
        w.nodes[e.node].mode = n.mode;
        w.nodes[e.node].sig = e.stat.sig;
        w.names[e.node] = name;
        w.recs[e.node] = rec;
        if let Some(l) = w.lists.get_mut(&e.parent) {
            if let Ok(k) = l.binary_search_by(|(x, _)| x.as_bytes().cmp(e.name.as_bytes())) {
                l[k].1 = e.stat.clone();
            }
        }
    }
    appended.push_str(&commit_line(&root_mac, generation));
    w.root_mac = root_mac;
    w.generation = generation;
    write_state(o, w, &appended)
}

fn write_state(o: &PackOpts, w: &mut Warm, appended: &str) -> Result<()> {
    use std::io::Write;
    let path = o.out_root.join(STATE_FILE);
    w.state_appended += appended.len();
    if w.state_appended <= STATE_APPEND_MAX {
        // One write: a cut-short append leaves entries without their commit line, which readers drop.
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
            f.write_all(appended.as_bytes())
                .map_err(|e| Error::io(e, &path.display().to_string()))?;
            if o.fsync {
                f.sync_data().map_err(|e| Error::io(e, &path.display().to_string()))?;
            }
            return Ok(());
        }
    }
    let state = state_text(&w.key_fp, &w.nodes, &w.names, &w.recs, &w.root_mac, w.generation);
    write_atomic(&path, state.as_bytes(), o.fsync)?;
    w.state_appended = 0;
    Ok(())
}
