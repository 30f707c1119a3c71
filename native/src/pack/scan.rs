//! The source walk: directory listings, the node tree in sefs-cli's order, change hints.

use super::*;

/// Change signature of a source file: any difference means "rewrite".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) struct Sig {
    pub(super) size: u64,
    pub(super) mtime_ns: i128,
    pub(super) ctime_ns: i128,
    pub(super) ino: u64,
    pub(super) dev: u64,
}

impl Sig {
    pub(super) fn of(m: &std::fs::Metadata) -> Sig {
        Sig {
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

pub(super) struct Node {
    /// Path inside the image ("/" for the root).
    pub(super) path: String,
    pub(super) host: PathBuf,
    pub(super) typ: u32,
    pub(super) mode: u16,
    pub(super) sig: Sig,
    /// Children (name, node index), sorted by name bytes, for directories.
    pub(super) children: Vec<(String, usize)>,
    pub(super) parent: usize,
    pub(super) nlinks: u16,
    pub(super) id: u64,
}

pub(super) fn fmt_io(e: &std::io::Error) -> String {
    e.to_string()
}

/// One directory entry as the source walk saw it.
#[derive(Clone)]
pub(super) struct Stat {
    pub(super) typ: u32,
    pub(super) mode: u16,
    pub(super) sig: Sig,
    pub(super) nlink: u64,
}

/// Directory listings by image path ("/", "/a", …), each sorted by name bytes. A full walk fills
/// it from disk; a hinted pack starts from the previous pack's listings (see `Warm`).
pub(super) type Listings = HashMap<String, Vec<(String, Stat)>>;

pub(super) fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{}", name)
    } else {
        format!("{}/{}", parent, name)
    }
}

/// Check a name and classify its lstat result (errors name the host path and say how to fix).
pub(super) fn stat_entry(
    hp: &Path,
    name: &std::ffi::OsStr,
    m: std::io::Result<std::fs::Metadata>,
) -> Result<(String, Stat)> {
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

/// The entries of directory `host`, which must be `expected` (see safe_file::check_reached): it is
/// opened, checked (a link anywhere on the way is refused, the root's own path aside), and listed
/// through its descriptor.
pub(super) fn list_dir(host: &Path, expected: &Path) -> Result<Vec<(String, Stat)>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e| Error::io(e, &format!("{}: cannot list directory", host.display()));
    let d = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(safe_file::O_DIRECTORY)
        .open(host)
        .map_err(cannot)?;
    safe_file::check_reached(d.as_raw_fd(), host, expected)?;
    let rd = std::fs::read_dir(format!("/proc/self/fd/{}", d.as_raw_fd())).map_err(cannot)?;
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
pub(super) fn scan(src: &Path, lists: &mut Listings) -> Result<Vec<Node>> {
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

pub(super) fn scan_dir(
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
        let real = safe_file::real_root(&nodes[0].host)?;
        let l = list_dir(&host, &safe_file::below(&real, &dir_path))?;
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

/// Forget listings of `path` and everything below it (they are read from disk again).
pub(super) fn drop_subtree(lists: &mut Listings, path: &str) {
    let prefix = format!("{}/", path);
    lists.retain(|k, _| k != path && !k.starts_with(&prefix));
}

/// Bring the listings up to date for one hinted path (relative to src): every component from the
/// root down is re-stat'ed in its parent's listing (added, replaced or removed); a hinted
/// directory is re-read with its whole subtree. Directories that are not listed yet (new ones)
/// are read from disk by the scan.
pub(super) fn apply_hint(src: &Path, lists: &mut Listings, rel: &str) -> Result<()> {
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
