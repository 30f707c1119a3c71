//! Key modes and key derivation: the SDK's KDF, SGX-simulation seal keys, the keys a writer draws.

use super::*;

pub const DEFAULT_CPUSVN: [u8; 16] = [
    0x48, 0x20, 0xf3, 0x37, 0x6a, 0xe6, 0xb2, 0xf2, 0x03, 0x4d, 0x3b, 0x7a, 0x4b, 0x48, 0xa7, 0x78,
];
pub(super) const BASE_SEAL_KEY: Key = [
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

pub(super) const META_LABEL: &str = "SGX-PROTECTED-FS-METADATA-KEY";

/// Derive the metadata key for `mode` from the header.
pub(super) fn meta_key(h: &Header, mode: &KeyMode) -> Key {
    match mode {
        KeyMode::IntegrityOnly => [0u8; 16],
        KeyMode::UserKey(k) => kdf(k, META_LABEL, 0, &h.key_id),
        KeyMode::SimAuto(id) => sim_seal_key(id, &h.cpu_svn, h.isv_svn, &h.key_id),
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
pub(super) struct KeyPool {
    pub(super) bytes: Vec<u8>,
    pub(super) next: usize,
}

impl KeyPool {
    pub(super) fn new(wk: &WriteKey, nodes: u64) -> KeyPool {
        let mut bytes = Vec::new();
        if !matches!(wk, WriteKey::IntegrityOnly) {
            bytes = vec![0u8; 16 * nodes as usize];
            random_bytes(&mut bytes);
        }
        KeyPool { bytes, next: 0 }
    }
    pub(super) fn take(&mut self) -> Key {
        if self.bytes.is_empty() {
            return [0u8; 16];
        }
        let k = arr(&self.bytes[self.next..self.next + 16]);
        self.next += 16;
        k
    }
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
