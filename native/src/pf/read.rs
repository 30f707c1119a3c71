//! Reading an opened PF: host nodes (in memory or from the file), whole reads, verification, ranges.

use super::*;

/// Where the host bytes of an opened PF come from. Whole reads, verify and pack hold them all in
/// memory (one read, integrity-only nodes checked in place); a ranged read keeps the host file open
/// and reads only the nodes it authenticates, so its cost does not grow with the file.
pub(super) enum Host {
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
    pub(super) fn nodes(&self) -> u64 {
        match self {
            Host::Mem(raw) => (raw.len() / NODE) as u64,
            Host::File { nodes, .. } => *nodes,
        }
    }
    /// The first bytes (at most 1 KiB) of a host file of `len` bytes, best effort: only to tell
    /// what a file that is not a PF is instead.
    pub(super) fn head(&self, len: u64) -> Vec<u8> {
        let n = len.min(1024) as usize;
        match self {
            Host::Mem(raw) => raw[..n.min(raw.len())].to_vec(),
            Host::File { file, .. } => {
                let mut buf = vec![0u8; n];
                match file.read_at(&mut buf, 0) {
                    Ok(got) => buf.truncate(got),
                    Err(_) => buf.clear(),
                }
                buf
            }
        }
    }
    /// Copies node `phys` into `buf` (nodes a journal added past the file end read as zeros, as
    /// the in-memory journal application leaves them).
    pub(super) fn read_node(&self, phys: u64, buf: &mut [u8]) -> Result<()> {
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
    pub(super) fn prefetch(&self, first: u64, last: u64) -> Result<()> {
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
    pub(super) raw: Host,
    pub header: Header,
    pub mode: KeyMode,
    pub size: u64,
    pub mht_key: Key,
    pub mht_gmac: Tag,
    pub data0: Vec<u8>,
    /// A journal was applied in memory.
    pub recovered: bool,
    /// Nodes of the host file (with the journal applied), extra trailing ones included.
    pub(super) nodes: u64,
}

/// Host files of at most this many bytes are read whole by `open_path` (one read; integrity-only
/// nodes are then checked in place); bigger ones are read one MHT group (97 nodes) at a time.
pub(super) const MEM_MAX: u64 = 64 << 20;
/// Largest plaintext `read_all` returns (one Buffer on the JS side; callers page through bigger
/// files with ranged reads). A header claiming more is refused before anything is allocated.
pub const MAX_WHOLE: u64 = 1 << 30;

impl Pf {
    pub fn mac(&self) -> Tag {
        self.header.gmac
    }
    pub fn host_nodes(&self) -> u64 {
        self.nodes
    }

    /// Reads the nodes the content needs (not extra trailing ones) into memory, if they fit in
    /// MEM_MAX; else they stay on disk and are read group by group.
    pub(super) fn load(&mut self) -> Result<()> {
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
    pub(super) fn open_node<'a>(
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
    pub(super) fn walk(&self, gcm: &mut Gcm, plain: bool, sink: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
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
    pub(super) fn mht_node<'c>(&self, m: u64, cache: &'c mut HashMap<u64, Vec<u8>>, gcm: &mut Gcm) -> Result<&'c [u8]> {
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
