//! The image's own layout: inode ids, host file names, directory contents, inode records, metadata.

use super::*;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

pub(super) fn id_name(id: u64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.to_le_bytes());
    hex(&b)
}

pub(super) fn dir_content(nodes: &[Node], i: usize) -> Vec<u8> {
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
pub(super) fn assign_ids(nodes: &mut [Node], prev: Option<&PrevState>) -> u64 {
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
pub(super) const STREAM_MIN: u64 = 8 << 20;

/// Write the inode file `dir/name` of file or symlink `n`; returns (size, MAC, source signature,
/// identity of the written file).
pub(super) fn write_inode(
    n: &Node,
    real_src: &Path,
    dir: &Path,
    name: &str,
    key: &WriteKey,
    gcm: &mut Gcm,
    fsync: bool,
) -> Result<(u64, Tag, Sig, OutId)> {
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
            safe_file::check_reached(f.as_raw_fd(), &n.host, &safe_file::below(real_src, &n.path))?;
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
                let id = out.metadata().map_err(|e| Error::io(e, &path.display().to_string()))?;
                return Ok((size, mac, Sig::of(&m), OutId::of(&id)));
            }
            let mut data = Vec::with_capacity(m.len() as usize + 1);
            f.read_to_end(&mut data).map_err(vanished)?;
            (data, Sig::of(&m))
        }
        T_SYMLINK => {
            // Through its parent as opened and checked: a link's target is host data too.
            let parent = n.host.parent().unwrap_or(Path::new("/"));
            let d = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(safe_file::O_DIRECTORY)
                .open(parent)
                .map_err(vanished)?;
            let parent_path = n
                .path
                .rsplit_once('/')
                .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
            safe_file::check_reached(d.as_raw_fd(), &n.host, &safe_file::below(real_src, parent_path))?;
            let at =
                Path::new(&format!("/proc/self/fd/{}", d.as_raw_fd())).join(n.host.file_name().unwrap_or_default());
            let t = std::fs::read_link(&at).map_err(|e| {
                if e.raw_os_error() == Some(22 /* EINVAL */) {
                    Error::new(
                        Kind::Unsupported,
                        format!(
                            "{}: is no longer a symbolic link (the source tree changed during the pack; retry)",
                            shown
                        ),
                    )
                } else {
                    vanished(e)
                }
            })?;
            let m = std::fs::symlink_metadata(&at).map_err(vanished)?;
            (t.as_os_str().as_bytes().to_vec(), Sig::of(&m))
        }
        _ => unreachable!(),
    };
    let (bytes, mac) = pf::write_pf(name, &data, key, gcm)?;
    let id = write_file(&path, &bytes, fsync)?;
    Ok((data.len() as u64, mac, sig, id))
}

pub(super) fn inode_record(n: &Node, host: &str, size: u64, blocks: u32, mac: &Tag) -> [u8; 112] {
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
pub(super) fn metadata_bytes(records: &[(u64, [u8; 112])], max_id: u64) -> Vec<u8> {
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

/// Host file name of a rewritten inode in an incremental pack: the id and the pack generation,
/// so it never collides with a name the current image uses.
pub(super) fn gen_name(id: u64, generation: u64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..].copy_from_slice(&generation.to_le_bytes());
    hex(&b)
}
