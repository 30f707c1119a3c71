//! SGX protected files as Occlum's fork of the Intel SDK writes them (spec securefs-format.md §3).
//! Reader: all three key modes, recovery journal applied in memory, extra trailing nodes accepted.
//! Writer: integrity-only (deterministic) and user key (random node keys, like the SDK).

use crate::crypto::{cmac, random_bytes, Gcm, Key, Tag};
use crate::error::{err, Error, Kind, Result};
use crate::safe_file;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub const NODE: usize = 4096;
pub const MD_DATA: usize = 3072;
/// Occlum's plain header part (Intel's is 94 bytes: no `integrity_only`).
pub const PLAIN_LEN: usize = 95;
pub const ENC_LEN: usize = 3392;
const DATA_SLOTS: u64 = 96;
const CHILD_SLOTS: u64 = 32;
pub const MAGIC: &[u8; 8] = b"ELIF_XGS"; // 0x5347585F46494C45 little-endian
const JOURNAL_REC: usize = 8 + NODE;

pub const DEFAULT_CPUSVN: [u8; 16] = [
    0x48, 0x20, 0xf3, 0x37, 0x6a, 0xe6, 0xb2, 0xf2, 0x03, 0x4d, 0x3b, 0x7a, 0x4b, 0x48, 0xa7, 0x78,
];
const BASE_SEAL_KEY: Key = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];
/// MRSIGNER of Occlum's public default sign key (etc/template/Enclave.pem).
pub const DEFAULT_MRSIGNER: [u8; 32] = [
    0x83, 0xd7, 0x19, 0xe7, 0x7d, 0xea, 0xca, 0x14, 0x70, 0xf6, 0xba, 0xf6, 0x2a, 0x4d, 0x77, 0x43, 0x03, 0xc8, 0x99,
    0xdb, 0x69, 0x02, 0x0f, 0x9c, 0x70, 0xee, 0x1d, 0xfc, 0x08, 0xc7, 0xce, 0x9e,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimIdentity {
    pub mrsigner: [u8; 32],
    pub prod_id: u16,
    pub isv_svn: u16,
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    IntegrityOnly,
    UserKey(Key),
    SimAuto(SimIdentity),
}

impl KeyMode {
    pub fn describe(&self) -> &'static str {
        match self {
            KeyMode::IntegrityOnly => "integrity-only",
            KeyMode::UserKey(_) => "image key",
            KeyMode::SimAuto(_) => "SGX-simulation auto key",
        }
    }
    pub fn integrity_only(&self) -> bool {
        matches!(self, KeyMode::IntegrityOnly)
    }
}

/// NIST SP 800-108 KDF as the SDK does it: CMAC over the naturally aligned 120-byte kdf_input_t.
pub fn kdf(kdk: &Key, label: &str, node_number: u64, nonce: &[u8; 32]) -> Key {
    let mut b = [0u8; 120];
    b[0..4].copy_from_slice(&1u32.to_le_bytes());
    b[4..4 + label.len()].copy_from_slice(label.as_bytes());
    b[72..80].copy_from_slice(&node_number.to_le_bytes());
    b[80..112].copy_from_slice(nonce);
    b[112..116].copy_from_slice(&0x80u32.to_le_bytes());
    cmac(kdk, &b)
}

/// SGX simulation EGETKEY(SEAL, MRSIGNER policy) (spec §4.4).
pub fn sim_seal_key(id: &SimIdentity, cpu_svn: &[u8; 16], isv_svn: u16, key_id: &[u8; 32]) -> Key {
    let mut d = [0u8; 280];
    d[0..2].copy_from_slice(&4u16.to_le_bytes());
    d[2..4].copy_from_slice(&2u16.to_le_bytes());
    let flags: u64 = if id.debug { 0x3 } else { 0x1 };
    d[8..16].copy_from_slice(&flags.to_le_bytes());
    d[24..32].copy_from_slice(&0xFF0000000000000Bu64.to_le_bytes());
    d[44..48].copy_from_slice(&0x0FFFFFFFu32.to_le_bytes());
    d[48..64].copy_from_slice(b"THISISOWNEREPOCH");
    let svn = if cpu_svn.iter().all(|&b| b == 0) {
        DEFAULT_CPUSVN
    } else {
        *cpu_svn
    };
    d[64..80].copy_from_slice(&svn);
    d[80..82].copy_from_slice(&isv_svn.to_le_bytes());
    d[82..84].copy_from_slice(&id.prod_id.to_le_bytes());
    d[214..246].copy_from_slice(&id.mrsigner);
    d[246..278].copy_from_slice(key_id);
    cmac(&BASE_SEAL_KEY, &d)
}

const META_LABEL: &str = "SGX-PROTECTED-FS-METADATA-KEY";

/// Plain (unauthenticated) header fields of node 0.
#[derive(Debug, Clone)]
pub struct Header {
    pub major: u8,
    pub minor: u8,
    pub key_id: [u8; 32],
    pub cpu_svn: [u8; 16],
    pub isv_svn: u16,
    pub use_user_kdk_key: u8,
    pub gmac: Tag,
    pub update_flag: u8,
    pub integrity_only: u8,
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

impl Header {
    fn parse(n0: &[u8]) -> Header {
        Header {
            major: n0[8],
            minor: n0[9],
            key_id: arr(&n0[10..42]),
            cpu_svn: arr(&n0[42..58]),
            isv_svn: u16::from_le_bytes([n0[58], n0[59]]),
            use_user_kdk_key: n0[60],
            gmac: arr(&n0[77..93]),
            update_flag: n0[93],
            integrity_only: n0[94],
        }
    }
    /// The key mode the header says the file was written in.
    pub fn mode_name(&self) -> &'static str {
        if self.use_user_kdk_key == 0 {
            "auto-key"
        } else if self.integrity_only == 1 {
            "integrity-only"
        } else {
            "user-key"
        }
    }
}

/// Where the host bytes of an opened PF come from. Whole reads, verify and pack hold them all in
/// memory (one read, integrity-only nodes checked in place); a ranged read keeps the host file open
/// and reads only the nodes it authenticates, so its cost does not grow with the file.
enum Host {
    Mem(Vec<u8>),
    File {
        file: std::fs::File,
        /// Nodes in the host file, extended by journal records past its end.
        nodes: u64,
        /// Nodes the host file itself holds.
        on_disk: u64,
        /// Nodes replaced by the recovery journal (applied in memory, the file is never modified).
        patched: HashMap<u64, Vec<u8>>,
        /// Host bytes of a run of nodes read in one go (first node, bytes): a range spanning many
        /// nodes costs one read, not one per node.
        window: RefCell<(u64, Vec<u8>)>,
        what: String,
    },
}

impl Host {
    fn nodes(&self) -> u64 {
        match self {
            Host::Mem(raw) => (raw.len() / NODE) as u64,
            Host::File { nodes, .. } => *nodes,
        }
    }
    /// Copies node `phys` into `buf` (nodes a journal added past the file end read as zeros, as
    /// the in-memory journal application leaves them).
    fn read_node(&self, phys: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Host::Mem(raw) => buf.copy_from_slice(&raw[phys as usize * NODE..][..NODE]),
            Host::File {
                file,
                patched,
                what,
                on_disk,
                window,
                ..
            } => {
                let w = window.borrow();
                let in_window = phys >= w.0 && (phys - w.0 + 1) * NODE as u64 <= w.1.len() as u64;
                if let Some(n) = patched.get(&phys) {
                    buf.copy_from_slice(n);
                } else if in_window {
                    buf.copy_from_slice(&w.1[(phys - w.0) as usize * NODE..][..NODE]);
                } else if phys < *on_disk {
                    file.read_exact_at(buf, phys * NODE as u64)
                        .map_err(|e| Error::io(e, what))?;
                } else {
                    buf.fill(0);
                }
            }
        }
        Ok(())
    }
    /// Reads the host nodes first..=last (as far as the file holds them) in one go for read_node.
    fn prefetch(&self, first: u64, last: u64) -> Result<()> {
        if let Host::File {
            file,
            on_disk,
            window,
            what,
            ..
        } = self
        {
            let last = last.min(on_disk.saturating_sub(1));
            if last > first {
                let mut w = window.borrow_mut();
                w.0 = first;
                w.1.resize((last - first + 1) as usize * NODE, 0);
                file.read_exact_at(&mut w.1, first * NODE as u64)
                    .map_err(|e| Error::io(e, what))?;
            }
        }
        Ok(())
    }
}

/// An opened, authenticated protected file.
pub struct Pf {
    pub name: String,
    /// Host bytes with the recovery journal (if any) applied; the source file is never modified.
    raw: Host,
    pub header: Header,
    pub mode: KeyMode,
    pub size: u64,
    pub mht_key: Key,
    pub mht_gmac: Tag,
    pub data0: Vec<u8>,
    /// A journal was applied in memory.
    pub recovered: bool,
    /// Nodes of the host file (with the journal applied), extra trailing ones included.
    nodes: u64,
}

pub fn data_nodes(size: u64) -> u64 {
    if size <= MD_DATA as u64 {
        0
    } else {
        (size - MD_DATA as u64).div_ceil(NODE as u64)
    }
}
pub fn phys_data(d: u64) -> u64 {
    d + 2 + d / DATA_SLOTS
}
pub fn phys_mht(m: u64) -> u64 {
    1 + 97 * m
}
/// Nodes a cleanly written file of `size` bytes has on disk.
pub fn nodes_for(size: u64) -> u64 {
    let d = data_nodes(size);
    if d == 0 {
        1
    } else {
        phys_data(d - 1) + 1
    }
}

fn basename(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Host files of at most this many bytes are read whole by `open_path` (one read; integrity-only
/// nodes are then checked in place); bigger ones are read one MHT group (97 nodes) at a time.
const MEM_MAX: u64 = 64 << 20;
/// Largest plaintext `read_all` returns (one Buffer on the JS side; callers page through bigger
/// files with ranged reads). A header claiming more is refused before anything is allocated.
pub const MAX_WHOLE: u64 = 1 << 30;

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
fn read_journal(path: &Path, nodes: u64) -> Option<Vec<u8>> {
    let mut jp = path.as_os_str().to_owned();
    jp.push("_recovery");
    safe_file::read_regular(Path::new(&jp), "recovery journal", (2 * nodes + 2) * JOURNAL_REC as u64).ok()
}

/// Apply recovery records `{u64 node, 4096-byte image}` to the host bytes (in memory).
fn apply_journal(host: &mut Host, j: &[u8]) -> Result<()> {
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
fn classify_magic(len: u64, raw: &[u8]) -> Result<()> {
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

/// Derive the metadata key for `mode` from the header.
fn meta_key(h: &Header, mode: &KeyMode) -> Key {
    match mode {
        KeyMode::IntegrityOnly => [0u8; 16],
        KeyMode::UserKey(k) => kdf(k, META_LABEL, 0, &h.key_id),
        KeyMode::SimAuto(id) => sim_seal_key(id, &h.cpu_svn, h.isv_svn, &h.key_id),
    }
}

/// Authenticate (and decrypt) the metadata part at `off` with length `len`; returns the plaintext.
fn open_meta(n0: &[u8], off: usize, len: usize, key: &Key, tag: &Tag, io: bool, gcm: &mut Gcm) -> Option<Vec<u8>> {
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

fn node0(host: &Host, len: u64) -> Result<Vec<u8>> {
    let mut n0 = vec![0u8; NODE];
    if len >= NODE as u64 {
        host.read_node(0, &mut n0)?;
    }
    Ok(n0)
}

fn open_host(
    name: &str,
    mut raw: Host,
    len: u64,
    journal: Option<Vec<u8>>,
    mode: &KeyMode,
    gcm: &mut Gcm,
) -> Result<Pf> {
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
    let key = meta_key(&h, mode);
    let io = mode.integrity_only();
    let enc = match open_meta(&n0, PLAIN_LEN, ENC_LEN, &key, &h.gmac, io, gcm) {
        Some(p) => p,
        None => {
            // Would the stock Intel layouts (part at 94, 3392 or 3372 bytes) authenticate?
            if open_meta(&n0, 94, ENC_LEN, &key, &h.gmac, io, gcm).is_some()
                || open_meta(&n0, 94, 3372, &key, &h.gmac, io, gcm).is_some()
            {
                return err(Kind::StockIntel, "stock Intel SGX SDK protected file (94-byte header); Occlum's fork uses 95 bytes and is not compatible");
            }
            return Err(match mode {
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
            });
        }
    };
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

impl Pf {
    pub fn mac(&self) -> Tag {
        self.header.gmac
    }
    pub fn host_nodes(&self) -> u64 {
        self.nodes
    }

    /// Reads the nodes the content needs (not extra trailing ones) into memory, if they fit in
    /// MEM_MAX; else they stay on disk and are read group by group.
    fn load(&mut self) -> Result<()> {
        let need = nodes_for(self.size);
        if let Host::File {
            file,
            on_disk,
            patched,
            what,
            ..
        } = &self.raw
        {
            if need * NODE as u64 > MEM_MAX {
                return Ok(());
            }
            let mut raw = vec![0u8; need as usize * NODE];
            let from_disk = need.min(*on_disk) as usize * NODE;
            file.read_exact_at(&mut raw[..from_disk], 0)
                .map_err(|e| Error::io(e, what))?;
            for (&n, node) in patched.iter().filter(|(&n, _)| n < need) {
                raw[n as usize * NODE..][..NODE].copy_from_slice(node);
            }
            self.raw = Host::Mem(raw);
        }
        Ok(())
    }
    pub fn extra_nodes(&self) -> u64 {
        self.host_nodes() - nodes_for(self.size)
    }

    /// Authenticate one node; returns its plaintext (the host bytes themselves when in memory and
    /// integrity-only, so verification copies nothing), or nothing when `plain` is false.
    fn open_node<'a>(
        &'a self,
        phys: u64,
        key: &Key,
        tag: &Tag,
        plain: bool,
        scratch: &'a mut [u8],
        gcm: &mut Gcm,
    ) -> Result<&'a [u8]> {
        let io = self.mode.integrity_only();
        let ok: Option<&'a [u8]> = match &self.raw {
            Host::Mem(raw) => {
                let src = &raw[phys as usize * NODE..][..NODE];
                if io {
                    (gcm.gmac(key, src) == *tag).then_some(src)
                } else if !plain {
                    gcm.check_tag(key, src, tag).then_some(&[][..])
                } else {
                    gcm.decrypt_to(key, src, scratch, tag).then_some(&*scratch)
                }
            }
            Host::File { .. } => {
                self.raw.read_node(phys, scratch)?;
                if io {
                    (gcm.gmac(key, scratch) == *tag).then_some(&*scratch)
                } else if !plain {
                    gcm.check_tag(key, scratch, tag).then_some(&[][..])
                } else {
                    gcm.decrypt(key, scratch, tag).then_some(&*scratch)
                }
            }
        };
        ok.ok_or_else(|| {
            Error::node(
                Kind::Corrupt,
                phys,
                format!(
                    "node {} fails its {} check (modified, or swapped with another node)",
                    phys,
                    if io { "GMAC" } else { "GCM" }
                ),
            )
        })
    }

    /// Walk the MHT tree, authenticating every node; `sink(d, plaintext)` gets each data node
    /// (an empty slice when `plain` is false: the data nodes are then only authenticated).
    fn walk(&self, gcm: &mut Gcm, plain: bool, sink: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        let d_count = data_nodes(self.size);
        if d_count == 0 {
            return Ok(());
        }
        let m_count = d_count.div_ceil(DATA_SLOTS);
        let mut mhts: Vec<Vec<u8>> = Vec::with_capacity(m_count as usize);
        let mut scratch = vec![0u8; NODE];
        for m in 0..m_count {
            let (key, tag) = if m == 0 {
                (self.mht_key, self.mht_gmac)
            } else {
                let p = &mhts[((m - 1) / CHILD_SLOTS) as usize];
                let s = 3072 + 32 * ((m - 1) % CHILD_SLOTS) as usize;
                (arr(&p[s..s + 16]), arr(&p[s + 16..s + 32]))
            };
            // One read per MHT group when the file is read from disk (an MHT node, then its data nodes).
            self.raw.prefetch(phys_mht(m), phys_mht(m) + DATA_SLOTS)?;
            let mht = self
                .open_node(phys_mht(m), &key, &tag, true, &mut scratch, gcm)?
                .to_vec();
            for d in m * DATA_SLOTS..d_count.min((m + 1) * DATA_SLOTS) {
                let s = 32 * (d % DATA_SLOTS) as usize;
                let (k, t): (Key, Tag) = (arr(&mht[s..s + 16]), arr(&mht[s + 16..s + 32]));
                let node = self.open_node(phys_data(d), &k, &t, plain, &mut scratch, gcm)?;
                sink(d, node);
            }
            mhts.push(mht);
        }
        Ok(())
    }

    /// Authenticate every node without producing the plaintext.
    pub fn verify_all(&self, gcm: &mut Gcm) -> Result<()> {
        self.walk(gcm, false, &mut |_, _| {})
    }

    /// Authenticate every node and return the plaintext (`size` bytes).
    /// `on_node` is called after each data node (for progress).
    pub fn read_all(&self, gcm: &mut Gcm, on_node: &mut dyn FnMut(u64)) -> Result<Vec<u8>> {
        if self.size > MAX_WHOLE {
            return err(
                Kind::Unsupported,
                format!(
                    "holds {} bytes; whole reads are limited to {} (read it in ranges, e.g. fs cat)",
                    self.size, MAX_WHOLE
                ),
            );
        }
        let size = self.size as usize;
        let mut out = vec![0u8; size];
        let first = size.min(MD_DATA);
        out[..first].copy_from_slice(&self.data0[..first]);
        self.walk(gcm, true, &mut |d, node| {
            let start = MD_DATA + d as usize * NODE;
            let end = size.min(start + NODE);
            out[start..end].copy_from_slice(&node[..end - start]);
            on_node(d);
        })?;
        Ok(out)
    }
}

impl Pf {
    /// Plaintext of MHT node `m`, authenticated through its parents up to node 0 (memoised in `cache`).
    fn mht_node<'c>(&self, m: u64, cache: &'c mut HashMap<u64, Vec<u8>>, gcm: &mut Gcm) -> Result<&'c [u8]> {
        if !cache.contains_key(&m) {
            let (key, tag): (Key, Tag) = if m == 0 {
                (self.mht_key, self.mht_gmac)
            } else {
                let p = self.mht_node((m - 1) / CHILD_SLOTS, cache, gcm)?;
                let s = 3072 + 32 * ((m - 1) % CHILD_SLOTS) as usize;
                (arr(&p[s..s + 16]), arr(&p[s + 16..s + 32]))
            };
            let mut scratch = vec![0u8; NODE];
            let plain = self
                .open_node(phys_mht(m), &key, &tag, true, &mut scratch, gcm)?
                .to_vec();
            cache.insert(m, plain);
        }
        Ok(&cache[&m])
    }

    /// Plaintext bytes [off, off + len) cut at the file size. Authenticates only what the range
    /// needs: node 0 (at open), the MHT nodes from the root down to the data nodes it touches, and
    /// those data nodes; a damaged node elsewhere in the file does not fail it.
    pub fn read_range(&self, off: u64, len: u64, gcm: &mut Gcm) -> Result<Vec<u8>> {
        let end = off.saturating_add(len).min(self.size);
        if off >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - off) as usize];
        let md = MD_DATA as u64;
        if off < md {
            let e = end.min(md);
            out[..(e - off) as usize].copy_from_slice(&self.data0[off as usize..e as usize]);
        }
        if end > md {
            let (first, last) = ((off.max(md) - md) / NODE as u64, (end - 1 - md) / NODE as u64);
            let mut mhts = HashMap::new();
            let mut scratch = vec![0u8; NODE];
            // The data nodes and the MHT nodes between them are contiguous on disk: one read.
            self.raw.prefetch(phys_data(first), phys_data(last))?;
            for d in first..=last {
                let mht = self.mht_node(d / DATA_SLOTS, &mut mhts, gcm)?;
                let s = 32 * (d % DATA_SLOTS) as usize;
                let (k, t): (Key, Tag) = (arr(&mht[s..s + 16]), arr(&mht[s + 16..s + 32]));
                let node = self.open_node(phys_data(d), &k, &t, true, &mut scratch, gcm)?;
                // The part of this node inside [off, end), in file and in node coordinates.
                let n_start = md + d * NODE as u64;
                let (a, b) = (off.max(n_start), end.min(n_start + NODE as u64));
                out[(a - off) as usize..(b - off) as usize]
                    .copy_from_slice(&node[(a - n_start) as usize..(b - n_start) as usize]);
            }
        }
        Ok(out)
    }
}

/// How a written PF is keyed.
#[derive(Debug, Clone, Copy)]
pub enum WriteKey {
    IntegrityOnly,
    UserKey(Key),
    /// SGX-simulation auto (seal) key, as a simulation-mode enclave writes its run layer.
    SimAuto(SimIdentity),
}

/// Per-node keys of one file: all zero when integrity-only, else fresh random keys drawn in one
/// RAND_bytes call (the SDK derives them from a random master key; any fresh key is valid).
struct KeyPool {
    bytes: Vec<u8>,
    next: usize,
}

impl KeyPool {
    fn new(wk: &WriteKey, nodes: u64) -> KeyPool {
        let mut bytes = Vec::new();
        if !matches!(wk, WriteKey::IntegrityOnly) {
            bytes = vec![0u8; 16 * nodes as usize];
            random_bytes(&mut bytes);
        }
        KeyPool { bytes, next: 0 }
    }
    fn take(&mut self) -> Key {
        if self.bytes.is_empty() {
            return [0u8; 16];
        }
        let k = arr(&self.bytes[self.next..self.next + 16]);
        self.next += 16;
        k
    }
}

fn seal_node(wk: &WriteKey, key: &Key, node: &mut [u8], gcm: &mut Gcm) -> Tag {
    match wk {
        WriteKey::IntegrityOnly => gcm.gmac(key, node),
        WriteKey::UserKey(_) | WriteKey::SimAuto(_) => gcm.encrypt(key, node),
    }
}

/// Build the host bytes of a PF named `name` holding `data`; returns (bytes, MAC).
/// Integrity-only output is a pure function of (name, data), like Occlum's `sefs-cli zip`.
pub fn write_pf(name: &str, data: &[u8], wk: &WriteKey, gcm: &mut Gcm) -> Result<(Vec<u8>, Tag)> {
    let pf = SealedPf::seal(name, data, wk, gcm)?;
    let mac = pf.mac();
    Ok((pf.bytes, mac))
}

/// A PF sealed in memory, kept with its MHT plaintexts so that a small change of its data
/// re-seals only the nodes on the way from the changed data nodes up to node 0 (the warm
/// incremental pack updates one inode record of a many-megabyte `metadata` this way).
pub struct SealedPf {
    /// The host bytes.
    pub bytes: Vec<u8>,
    name: String,
    size: u64,
    /// Plaintext of every MHT node: (key, tag) of each data node and child MHT.
    mhts: Vec<Vec<u8>>,
    mht_key: Key,
    mht_gmac: Tag,
}

impl SealedPf {
    pub fn seal(name: &str, data: &[u8], wk: &WriteKey, gcm: &mut Gcm) -> Result<SealedPf> {
        if name.len() >= 260 {
            return err(
                Kind::Unsupported,
                format!("protected file name {:?} is longer than 259 bytes", name),
            );
        }
        let size = data.len() as u64;
        let d_count = data_nodes(size);
        let m_count = d_count.div_ceil(DATA_SLOTS);
        let mut pf = SealedPf {
            bytes: vec![0u8; nodes_for(size) as usize * NODE],
            name: name.to_string(),
            size,
            mhts: vec![vec![0u8; NODE]; m_count as usize],
            mht_key: [0; 16],
            mht_gmac: [0; 16],
        };
        let mut keys = KeyPool::new(wk, d_count + m_count);
        for d in 0..d_count {
            pf.seal_data(d, data, keys.take(), wk, gcm);
        }
        // Children have higher indices than their parents: seal from the last MHT down to the root.
        for m in (0..m_count).rev() {
            pf.seal_mht(m, keys.take(), wk, gcm);
        }
        pf.seal_meta(data, wk, gcm);
        Ok(pf)
    }

    pub fn mac(&self) -> Tag {
        arr(&self.bytes[77..93])
    }

    /// Re-seal after `data` (same size as before) changed only inside the byte ranges `dirty`:
    /// fresh keys for the data nodes they touch, their MHT ancestors and node 0. Returns each
    /// re-sealed physical node with its previous host bytes, node 0 last.
    pub fn reseal(
        &mut self,
        data: &[u8],
        dirty: &[std::ops::Range<usize>],
        wk: &WriteKey,
        gcm: &mut Gcm,
    ) -> Vec<(u64, Vec<u8>)> {
        assert_eq!(data.len() as u64, self.size, "reseal keeps the size");
        let d_count = data_nodes(self.size);
        let mut ds: Vec<u64> = dirty
            .iter()
            .filter(|r| r.end > MD_DATA && !r.is_empty())
            .flat_map(|r| ((r.start.max(MD_DATA) - MD_DATA) / NODE) as u64..=((r.end - 1 - MD_DATA) / NODE) as u64)
            .filter(|&d| d < d_count)
            .collect();
        ds.sort_unstable();
        ds.dedup();
        let mut ms: Vec<u64> = Vec::new();
        for &d in &ds {
            let mut m = d / DATA_SLOTS;
            loop {
                ms.push(m);
                if m == 0 {
                    break;
                }
                m = (m - 1) / CHILD_SLOTS;
            }
        }
        ms.sort_unstable();
        ms.dedup();
        let mut old = Vec::with_capacity(ds.len() + ms.len() + 1);
        let mut keep = |pf: &SealedPf, phys: u64| old.push((phys, pf.bytes[phys as usize * NODE..][..NODE].to_vec()));
        let mut keys = KeyPool::new(wk, (ds.len() + ms.len()) as u64);
        for &d in &ds {
            keep(self, phys_data(d));
            self.seal_data(d, data, keys.take(), wk, gcm);
        }
        for &m in ms.iter().rev() {
            keep(self, phys_mht(m));
            self.seal_mht(m, keys.take(), wk, gcm);
        }
        keep(self, 0);
        self.seal_meta(data, wk, gcm);
        old
    }

    fn seal_data(&mut self, d: u64, data: &[u8], key: Key, wk: &WriteKey, gcm: &mut Gcm) {
        let start = MD_DATA + d as usize * NODE;
        let end = data.len().min(start + NODE);
        let node = &mut self.bytes[phys_data(d) as usize * NODE..][..NODE];
        node.fill(0);
        node[..end - start].copy_from_slice(&data[start..end]);
        let tag = seal_node(wk, &key, node, gcm);
        let slot = &mut self.mhts[(d / DATA_SLOTS) as usize][32 * (d % DATA_SLOTS) as usize..][..32];
        slot[..16].copy_from_slice(&key);
        slot[16..].copy_from_slice(&tag);
    }

    fn seal_mht(&mut self, m: u64, key: Key, wk: &WriteKey, gcm: &mut Gcm) {
        let node = &mut self.bytes[phys_mht(m) as usize * NODE..][..NODE];
        if let Some(root) = seal_mht(&mut self.mhts, m, key, node, wk, gcm) {
            (self.mht_key, self.mht_gmac) = root;
        }
    }

    fn seal_meta(&mut self, data: &[u8], wk: &WriteKey, gcm: &mut Gcm) {
        let first = data.len().min(MD_DATA);
        seal_meta(
            &mut self.bytes[0..NODE],
            &self.name,
            self.size,
            &self.mht_key,
            &self.mht_gmac,
            &data[..first],
            wk,
            gcm,
        );
    }
}

/// Seal MHT node `m` (its plaintext from `mhts`) into `node`; its key and tag go into its parent's
/// child slot, or are returned for the root MHT (they belong in node 0).
fn seal_mht(
    mhts: &mut [Vec<u8>],
    m: u64,
    key: Key,
    node: &mut [u8],
    wk: &WriteKey,
    gcm: &mut Gcm,
) -> Option<(Key, Tag)> {
    node.copy_from_slice(&mhts[m as usize]);
    let tag = seal_node(wk, &key, node, gcm);
    if m == 0 {
        return Some((key, tag));
    }
    let p = &mut mhts[((m - 1) / CHILD_SLOTS) as usize];
    let s = 3072 + 32 * ((m - 1) % CHILD_SLOTS) as usize;
    p[s..s + 16].copy_from_slice(&key);
    p[s + 16..s + 32].copy_from_slice(&tag);
    None
}

/// Node 0: header and the sealed metadata part, under a fresh key id (a re-sealed node 0 never
/// reuses the key of its previous version). `data0`: the first (up to 3072) data bytes.
#[allow(clippy::too_many_arguments)]
fn seal_meta(
    n0: &mut [u8],
    name: &str,
    size: u64,
    mht_key: &Key,
    mht_gmac: &Tag,
    data0: &[u8],
    wk: &WriteKey,
    gcm: &mut Gcm,
) {
    n0.fill(0);
    n0[0..8].copy_from_slice(MAGIC);
    n0[8] = 1;
    n0[9] = 0;
    n0[60] = !matches!(wk, WriteKey::SimAuto(_)) as u8; // use_user_kdk_key (also 1 when integrity-only)
    let mut key_id = [0u8; 32];
    if !matches!(wk, WriteKey::IntegrityOnly) {
        random_bytes(&mut key_id);
    }
    if let WriteKey::SimAuto(id) = wk {
        // What a simulation enclave records: the SIM CPUSVN and its own ISVSVN.
        n0[42..58].copy_from_slice(&DEFAULT_CPUSVN);
        n0[58..60].copy_from_slice(&id.isv_svn.to_le_bytes());
    }
    n0[10..42].copy_from_slice(&key_id);
    n0[94] = matches!(wk, WriteKey::IntegrityOnly) as u8;
    {
        let e = &mut n0[PLAIN_LEN..PLAIN_LEN + ENC_LEN];
        e[..name.len()].copy_from_slice(name.as_bytes());
        e[260..268].copy_from_slice(&(size as i64).to_le_bytes());
        e[288..304].copy_from_slice(mht_key);
        e[304..320].copy_from_slice(mht_gmac);
        e[320..320 + data0.len()].copy_from_slice(data0);
    }
    let tag = match wk {
        WriteKey::IntegrityOnly => gcm.gmac(&[0u8; 16], &n0[PLAIN_LEN..PLAIN_LEN + ENC_LEN]),
        WriteKey::UserKey(k) => {
            let mk = kdf(k, META_LABEL, 0, &key_id);
            gcm.encrypt(&mk, &mut n0[PLAIN_LEN..PLAIN_LEN + ENC_LEN])
        }
        WriteKey::SimAuto(id) => {
            let mk = sim_seal_key(id, &DEFAULT_CPUSVN, id.isv_svn, &key_id);
            gcm.encrypt(&mk, &mut n0[PLAIN_LEN..PLAIN_LEN + ENC_LEN])
        }
    };
    n0[77..93].copy_from_slice(&tag);
}

/// Fill `buf` from `src` as far as it goes; returns the bytes read (short only at end of input).
fn read_full(src: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Seal a PF named `name` from `src` (read to its end) straight into the empty file `out`, holding
/// only one MHT group (an MHT node and its 96 data nodes, 388 KiB) and the MHT plaintexts (1/97 of
/// the data) in memory. Same bytes as `write_pf` of the same data. Returns (size, MAC).
pub fn write_pf_stream(
    name: &str,
    src: &mut dyn std::io::Read,
    out: &std::fs::File,
    wk: &WriteKey,
    gcm: &mut Gcm,
) -> std::io::Result<(u64, Tag)> {
    if name.len() >= 260 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("protected file name {:?} is longer than 259 bytes", name),
        ));
    }
    let mut data0 = vec![0u8; MD_DATA];
    let mut size = read_full(src, &mut data0)? as u64;
    data0.truncate(size as usize);
    let mut mhts: Vec<Vec<u8>> = Vec::new();
    // One group: physical nodes 1 + 97m (the MHT, written last) .. 97 + 97m (its data nodes).
    let group_nodes = 1 + DATA_SLOTS as usize;
    let mut group = vec![0u8; group_nodes * NODE];
    let mut d = 0u64;
    while size as usize == MD_DATA + d as usize * NODE {
        let m = d / DATA_SLOTS;
        let got = read_full(src, &mut group[NODE..])?;
        if got == 0 {
            break;
        }
        let nodes = got.div_ceil(NODE);
        group[NODE + got..NODE + nodes * NODE].fill(0);
        let mut keys = KeyPool::new(wk, nodes as u64);
        let mut mht = vec![0u8; NODE];
        for k in 0..nodes {
            let key = keys.take();
            let tag = seal_node(wk, &key, &mut group[(1 + k) * NODE..(2 + k) * NODE], gcm);
            mht[32 * k..32 * k + 16].copy_from_slice(&key);
            mht[32 * k + 16..32 * k + 32].copy_from_slice(&tag);
        }
        mhts.push(mht);
        out.write_all_at(&group[NODE..(1 + nodes) * NODE], phys_data(d) * NODE as u64)?;
        d += nodes as u64;
        size += got as u64;
        debug_assert_eq!(mhts.len() as u64, m + 1);
    }
    let mut keys = KeyPool::new(wk, mhts.len() as u64);
    let (mut mht_key, mut mht_gmac) = ([0u8; 16], [0u8; 16]);
    let mut node = vec![0u8; NODE];
    for m in (0..mhts.len() as u64).rev() {
        if let Some(root) = seal_mht(&mut mhts, m, keys.take(), &mut node, wk, gcm) {
            (mht_key, mht_gmac) = root;
        }
        out.write_all_at(&node, phys_mht(m) * NODE as u64)?;
    }
    seal_meta(&mut node, name, size, &mht_key, &mht_gmac, &data0, wk, gcm);
    out.write_all_at(&node, 0)?;
    Ok((size, arr(&node[77..93])))
}

impl From<&WriteKey> for KeyMode {
    fn from(w: &WriteKey) -> KeyMode {
        match w {
            WriteKey::IntegrityOnly => KeyMode::IntegrityOnly,
            WriteKey::UserKey(k) => KeyMode::UserKey(*k),
            WriteKey::SimAuto(id) => KeyMode::SimAuto(*id),
        }
    }
}
