//! Opening a PF: node 0 read, classified and authenticated, the recovery journal applied in memory.

use super::*;

/// Open a PF host file (and, if its update flag is set, its `<name>_recovery` journal) for whole
/// reads and verification.
pub fn open_path(path: &Path, mode: &KeyMode, gcm: &mut Gcm) -> Result<Pf> {
    let mut f = open_path_ranged(path, mode, gcm)?;
    f.load().map_err(|e| e.at(&path.display().to_string()))?;
    Ok(f)
}

/// Open a PF host file for ranged reads: node 0 (and the recovery journal, if its update flag is
/// set) is read and authenticated now; other nodes are read from the file when a range needs them.
/// The file must be a regular file (never a link, FIFO or device: see safe_file).
pub fn open_path_ranged(path: &Path, mode: &KeyMode, gcm: &mut Gcm) -> Result<Pf> {
    let what = path.display().to_string();
    let file = safe_file::open_regular(path, "protected file")?;
    let len = file.metadata().map_err(|e| Error::io(e, &what))?.len();
    let mut n0 = vec![0u8; NODE];
    if len >= NODE as u64 {
        file.read_exact_at(&mut n0, 0).map_err(|e| Error::io(e, &what))?;
    }
    let nodes = len / NODE as u64;
    let journal = if len >= NODE as u64 && &n0[0..8] == MAGIC && n0[93] == 1 {
        read_journal(path, nodes)
    } else {
        None
    };
    let host = Host::File {
        file,
        nodes,
        on_disk: nodes,
        patched: HashMap::new(),
        window: RefCell::new((0, Vec::new())),
        what: what.clone(),
    };
    open_host(&basename(path), host, len, journal, mode, gcm).map_err(|e| e.at(&what))
}

/// The `<name>_recovery` journal: one record per node, so at most about as many records as the
/// file has nodes (a flush may add nodes; twice is generous).
pub(super) fn read_journal(path: &Path, nodes: u64) -> Option<Vec<u8>> {
    let mut jp = path.as_os_str().to_owned();
    jp.push("_recovery");
    safe_file::read_regular(Path::new(&jp), "recovery journal", (2 * nodes + 2) * JOURNAL_REC as u64).ok()
}

/// Apply recovery records `{u64 node, 4096-byte image}` to the host bytes (in memory).
pub(super) fn apply_journal(host: &mut Host, j: &[u8]) -> Result<()> {
    if j.is_empty() || j.len() % JOURNAL_REC != 0 {
        return err(
            Kind::RecoveryNeeded,
            format!("recovery journal size {} is not a multiple of {}", j.len(), JOURNAL_REC),
        );
    }
    for rec in j.chunks(JOURNAL_REC) {
        let n = u64::from_le_bytes(arr(&rec[0..8]));
        let limit = host.nodes() * NODE as u64 + j.len() as u64;
        let off = n.checked_mul(NODE as u64).filter(|&o| o <= limit).ok_or_else(|| {
            Error::new(
                Kind::RecoveryNeeded,
                format!("recovery record for node {} lies far beyond the file end", n),
            )
        })? as usize;
        match host {
            Host::Mem(raw) => {
                if off + NODE > raw.len() {
                    raw.resize(off + NODE, 0);
                }
                raw[off..off + NODE].copy_from_slice(&rec[8..]);
            }
            Host::File { nodes, patched, .. } => {
                *nodes = (*nodes).max(n + 1);
                patched.insert(n, rec[8..].to_vec());
            }
        }
    }
    Ok(())
}

/// `raw` is node 0 (when `len` is a non-zero multiple of the node size).
pub(super) fn classify_magic(len: u64, raw: &[u8]) -> Result<()> {
    if len == 0 || len % NODE as u64 != 0 {
        return err(
            Kind::NotPf,
            format!(
                "not an SGX protected file: host size {} is not a non-zero multiple of 4096",
                len
            ),
        );
    }
    let id = &raw[0..8];
    if id == b"GRAPH_PF" || id == b"GRAFS_PF" {
        return err(
            Kind::Gramine,
            format!(
                "this is a Gramine protected file ({}), not an Occlum one; Gramine's format is not compatible",
                String::from_utf8_lossy(id)
            ),
        );
    }
    if id != MAGIC {
        return err(Kind::NotPf, "not an SGX protected file: no SGX_FILE magic at offset 0");
    }
    if raw[8] != 1 {
        return err(
            Kind::BadVersion,
            format!("unsupported SGX_FILE version {}.{} (only 1.x exists)", raw[8], raw[9]),
        );
    }
    Ok(())
}

/// Authenticate (and decrypt) the metadata part at `off` with length `len`; returns the plaintext.
pub(super) fn open_meta(
    n0: &[u8],
    off: usize,
    len: usize,
    key: &Key,
    tag: &Tag,
    io: bool,
    gcm: &mut Gcm,
) -> Option<Vec<u8>> {
    let part = &n0[off..off + len];
    if io {
        (gcm.gmac(key, part) == *tag).then(|| part.to_vec())
    } else {
        let mut p = part.to_vec();
        gcm.decrypt(key, &mut p, tag).then_some(p)
    }
}

pub fn open_bytes(name: &str, raw: Vec<u8>, journal: Option<Vec<u8>>, mode: &KeyMode, gcm: &mut Gcm) -> Result<Pf> {
    let len = raw.len() as u64;
    open_host(name, Host::Mem(raw), len, journal, mode, gcm)
}

pub(super) fn node0(host: &Host, len: u64) -> Result<Vec<u8>> {
    let mut n0 = vec![0u8; NODE];
    if len >= NODE as u64 {
        host.read_node(0, &mut n0)?;
    }
    Ok(n0)
}

pub(super) fn open_host(
    name: &str,
    mut raw: Host,
    len: u64,
    journal: Option<Vec<u8>>,
    mode: &KeyMode,
    gcm: &mut Gcm,
) -> Result<Pf> {
    if len == 0 || len % NODE as u64 != 0 {
        if let Some(note) = crate::checkout::pointer_note(&raw.head(len)) {
            return err(Kind::Missing, note);
        }
    }
    let mut n0 = node0(&raw, len)?;
    classify_magic(len, &n0)?;
    let mut recovered = false;
    if n0[93] == 1 {
        match journal {
            Some(j) => {
                apply_journal(&mut raw, &j)?;
                recovered = true;
                n0 = node0(&raw, raw.nodes() * NODE as u64)?;
                classify_magic(raw.nodes() * NODE as u64, &n0)?;
            }
            None => {
                return err(
                    Kind::RecoveryNeeded,
                    "update_flag is set (a flush was interrupted) and no usable <name>_recovery journal is next to it",
                )
            }
        }
    }
    let h = Header::parse(&n0);
    check_mode(&h, mode)?;
    let enc = open_meta_part(&n0, &h, mode, gcm)?;
    let nul = enc[0..260].iter().position(|&b| b == 0).unwrap_or(260);
    let clean = String::from_utf8_lossy(&enc[0..nul]).into_owned();
    if clean != name {
        return err(
            Kind::NameMismatch,
            format!(
                "protected file stores the name {:?} but its host file is named {:?} (renamed or swapped file)",
                clean, name
            ),
        );
    }
    let size = i64::from_le_bytes(arr(&enc[260..268]));
    if size < 0 {
        return Err(Error::node(Kind::Corrupt, 0, format!("negative size {}", size)));
    }
    let size = size as u64;
    let need = nodes_for(size);
    let have = raw.nodes();
    if need > have {
        return Err(Error::node(
            Kind::Corrupt,
            have,
            format!(
                "truncated: size {} needs {} nodes but the host file has {}",
                size, need, have
            ),
        ));
    }
    Ok(Pf {
        name: name.to_string(),
        raw,
        mode: *mode,
        size,
        mht_key: arr(&enc[288..304]),
        mht_gmac: arr(&enc[304..320]),
        data0: enc[320..320 + MD_DATA].to_vec(),
        header: h,
        recovered,
        nodes: have,
    })
}

/// Refuse a header that is not Occlum's or was written in another key mode than `mode`, saying which.
fn check_mode(h: &Header, mode: &KeyMode) -> Result<()> {
    if h.integrity_only > 1 {
        return err(
            Kind::StockIntel,
            format!(
                "stock Intel SGX SDK protected file ({} mode, 94-byte header: byte 94 is 0x{:02x}, not Occlum's integrity_only flag); Occlum's fork uses a 95-byte header and the two are not compatible",
                h.mode_name(),
                h.integrity_only
            ),
        );
    }
    let want = match mode {
        KeyMode::IntegrityOnly => (1u8, 1u8),
        KeyMode::UserKey(_) => (1, 0),
        KeyMode::SimAuto(_) => (0, 0),
    };
    if (h.use_user_kdk_key, h.integrity_only) != want {
        let hint = match h.mode_name() {
            "integrity-only" => "it is integrity-only: open it without a key",
            "user-key" => "it is encrypted with a user key: pass the image key (--image-key FILE)",
            _ if h.cpu_svn != DEFAULT_CPUSVN && h.cpu_svn != [0u8; 16] => {
                "it is encrypted with an SGX hardware seal (auto) key, which cannot be derived outside that CPU's enclave"
            }
            _ => "it is encrypted with an SGX auto (seal) key: for simulation-mode files use --sgx-sim",
        };
        return err(
            Kind::WrongMode,
            format!(
                "file is {} but was opened as {}: {}",
                h.mode_name(),
                mode.describe(),
                hint
            ),
        );
    }
    if let KeyMode::SimAuto(id) = mode {
        if h.isv_svn > id.isv_svn {
            return err(
                Kind::WrongKey,
                format!(
                    "file was written by an enclave with ISVSVN {} > the given {}",
                    h.isv_svn, id.isv_svn
                ),
            );
        }
    }
    Ok(())
}

/// Authenticate (and decrypt) node 0's metadata part; a failure says what most likely happened.
fn open_meta_part(n0: &[u8], h: &Header, mode: &KeyMode, gcm: &mut Gcm) -> Result<Vec<u8>> {
    let key = meta_key(h, mode);
    let io = mode.integrity_only();
    match open_meta(n0, PLAIN_LEN, ENC_LEN, &key, &h.gmac, io, gcm) {
        Some(p) => Ok(p),
        None => {
            // Would the stock Intel layouts (part at 94, 3392 or 3372 bytes) authenticate?
            if open_meta(n0, 94, ENC_LEN, &key, &h.gmac, io, gcm).is_some()
                || open_meta(n0, 94, 3372, &key, &h.gmac, io, gcm).is_some()
            {
                return err(Kind::StockIntel, "stock Intel SGX SDK protected file (94-byte header); Occlum's fork uses 95 bytes and is not compatible");
            }
            Err(match mode {
                KeyMode::IntegrityOnly => Error::node(
                    Kind::Corrupt,
                    0,
                    "metadata node 0 fails its GMAC check: the header or the first 3072 bytes were modified",
                ),
                KeyMode::UserKey(_) => Error::node(
                    Kind::WrongKey,
                    0,
                    "metadata node 0 does not authenticate: wrong image key (or node 0 is corrupted)",
                ),
                KeyMode::SimAuto(_) => Error::node(
                    Kind::WrongKey,
                    0,
                    if h.cpu_svn != DEFAULT_CPUSVN && h.cpu_svn != [0u8; 16] {
                        "metadata node 0 does not authenticate: the file was written on SGX hardware (CPUSVN is not the simulation default), so its seal key cannot be derived offline".to_string()
                    } else {
                        "metadata node 0 does not authenticate: wrong SGX-simulation identity (MRSIGNER, product id, debug/release), or node 0 is corrupted".to_string()
                    },
                ),
            })
        }
    }
}
