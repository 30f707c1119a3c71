//! The pack journal and recovery of an interrupted pack (see the module comment of `pack`).

use super::*;

/// MAC of `<root>/metadata` straight from its header (no key needed: bytes 77..93 of node 0).
pub fn stored_root_mac(root: &Path) -> Option<Tag> {
    use std::os::unix::fs::FileExt;
    let f = safe_file::open_regular(&root.join("metadata"), "the image's metadata").ok()?;
    let mut b = [0u8; 95];
    f.read_exact_at(&mut b, 0).ok()?;
    (&b[0..8] == pf::MAGIC).then(|| b[77..93].try_into().unwrap())
}

pub(super) fn pending_mac_path(mac_file: &Path) -> PathBuf {
    let mut p = mac_file.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

pub(super) struct Journal {
    pub(super) old_mac: Tag,
    pub(super) new_names: Vec<String>,
    pub(super) old_names: Vec<String>,
}

pub(super) fn read_journal(out_root: &Path) -> Option<Journal> {
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
pub(super) fn rollback_metadata(out_root: &Path) -> Result<bool> {
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

/// The journal of an incremental pack, written before anything else: the previous root MAC, the
/// host files this pack writes (`new`) and those it replaces (`old`).
/// The host files an in-place pack writes (new inode files) and removes (the previous image's
/// files it does not reuse).
pub(super) fn host_changes(p: &PrevState, jobs: &[(usize, Job)], names: &[String]) -> (Vec<String>, Vec<String>) {
    let kept: std::collections::HashSet<&str> = jobs
        .iter()
        .zip(names)
        .filter(|((_, j), _)| matches!(j, Job::Reuse(_)))
        .map(|(_, n)| n.as_str())
        .collect();
    let mut old: Vec<String> = p
        .by_path
        .values()
        .map(|e| e.host.as_str())
        .filter(|h| !kept.contains(h))
        .map(str::to_string)
        .collect();
    old.sort();
    old.dedup();
    let new = jobs
        .iter()
        .zip(names)
        .filter(|((_, j), _)| matches!(j, Job::Write))
        .map(|(_, n)| n.clone())
        .collect();
    (new, old)
}

pub(super) fn write_journal(o: &PackOpts, p: &PrevState, jobs: &[(usize, Job)], names: &[String]) -> Result<()> {
    let (new, old) = host_changes(p, jobs, names);
    let mut j = format!("occlum-studio-journal 1\t{}\n", mac_string(&p.root_mac));
    for n in new {
        j.push_str(&format!("new\t{}\n", n));
    }
    for n in old {
        j.push_str(&format!("old\t{}\n", n));
    }
    write_atomic(&o.out_root.join(JOURNAL_FILE), j.as_bytes(), o.fsync)
}
