//! Writing a PF: sealing in memory (and re-sealing a small change), or streamed into a file.

use super::*;

pub(super) fn seal_node(wk: &WriteKey, key: &Key, node: &mut [u8], gcm: &mut Gcm) -> Tag {
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

    pub(super) fn seal_data(&mut self, d: u64, data: &[u8], key: Key, wk: &WriteKey, gcm: &mut Gcm) {
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

    pub(super) fn seal_mht(&mut self, m: u64, key: Key, wk: &WriteKey, gcm: &mut Gcm) {
        let node = &mut self.bytes[phys_mht(m) as usize * NODE..][..NODE];
        if let Some(root) = seal_mht(&mut self.mhts, m, key, node, wk, gcm) {
            (self.mht_key, self.mht_gmac) = root;
        }
    }

    pub(super) fn seal_meta(&mut self, data: &[u8], wk: &WriteKey, gcm: &mut Gcm) {
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
pub(super) fn seal_mht(
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
pub(super) fn seal_meta(
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
pub(super) fn read_full(src: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
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
