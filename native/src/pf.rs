//! SGX protected files as Occlum's fork of the Intel SDK writes them (spec securefs-format.md §3).
//! Reader: all three key modes, recovery journal applied in memory, extra trailing nodes accepted.
//! Writer: integrity-only (deterministic) and user key (random node keys, like the SDK).
//! This module holds the layout (node size, header, node numbering); `keys`, `open`, `read` and
//! `write` the rest.

use crate::crypto::{cmac, random_bytes, Gcm, Key, Tag};
use crate::error::{err, Error, Kind, Result};
use crate::safe_file;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

mod keys;
mod open;
mod read;
mod write;
pub use keys::*;
pub use open::*;
pub use read::*;
pub use write::*;

pub const NODE: usize = 4096;
pub const MD_DATA: usize = 3072;
/// Occlum's plain header part (Intel's is 94 bytes: no `integrity_only`).
pub const PLAIN_LEN: usize = 95;
pub const ENC_LEN: usize = 3392;
const DATA_SLOTS: u64 = 96;
const CHILD_SLOTS: u64 = 32;
pub const MAGIC: &[u8; 8] = b"ELIF_XGS"; // 0x5347585F46494C45 little-endian
const JOURNAL_REC: usize = 8 + NODE;

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
