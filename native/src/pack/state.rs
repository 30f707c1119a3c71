//! The pack state file: what the previous pack recorded per inode, read back by the next one.

use super::*;

const STATE_MAGIC: &str = "occlum-studio-pack 4";

/// What the previous pack recorded about each inode.
pub(super) struct PrevEntry {
    pub(super) id: u64,
    pub(super) host: String,
    pub(super) typ: u32,
    pub(super) sig: Sig,
    pub(super) fingerprint: Tag,
    pub(super) mac: Tag,
    pub(super) out: OutId,
}

pub(super) struct PrevState {
    pub(super) key_fp: String,
    pub(super) root_mac: Tag,
    pub(super) generation: u64,
    pub(super) by_path: HashMap<String, PrevEntry>,
}

/// What a pack records per inode for the next one: the plaintext size, its MAC, the source
/// signature it was packed from, the content fingerprint (directories) and the identity of the
/// inode file it left.
#[derive(Clone, Copy)]
pub(super) struct Rec {
    pub(super) size: u64,
    pub(super) mac: Tag,
    pub(super) sig: Sig,
    pub(super) fp: Tag,
    pub(super) out: OutId,
}

/// Identity of an output file as the pack left it. A file is reused (its recorded MAC trusted)
/// only while this is unchanged: any write changes its mtime, a replacement its inode. Inode,
/// size and mtime survive the hard links a staged build seeds with; ctime does not (link()
/// changes it), so it is left out: a write followed by restoring the mtime (`touch -r`) is not
/// seen (a `--full` pack rewrites everything).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) struct OutId {
    pub(super) ino: u64,
    pub(super) size: u64,
    pub(super) mtime_ns: i128,
}

impl OutId {
    pub(super) fn of(m: &std::fs::Metadata) -> OutId {
        OutId {
            ino: m.ino(),
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        }
    }

    /// The identity of `name` in the directory `dir` now, if it is still the regular file
    /// recorded as `self`. One statx relative to the directory: tens of thousands of them run
    /// before a warm pack, and a lookup of the whole path each cost twice as much.
    pub(super) fn still(&self, dir: &std::fs::File, name: &str) -> Option<OutId> {
        use crate::bom_state::{Statx, S_IFMT, S_IFREG};
        use std::os::fd::AsRawFd;
        extern "C" {
            fn statx(dirfd: i32, path: *const std::ffi::c_char, flags: i32, mask: u32, buf: *mut Statx) -> i32;
        }
        const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
        // STATX_TYPE | STATX_MTIME | STATX_INO | STATX_SIZE
        const MASK: u32 = 0x1 | 0x40 | 0x100 | 0x200;
        let c = CString::new(name).ok()?;
        let mut st = Statx::default();
        if unsafe { statx(dir.as_raw_fd(), c.as_ptr(), AT_SYMLINK_NOFOLLOW, MASK, &mut st) } != 0 {
            return None;
        }
        let now = OutId {
            ino: st.ino,
            size: st.size,
            mtime_ns: crate::bom_state::ns(st.mtime),
        };
        (st.mode & S_IFMT == S_IFREG && now == *self).then_some(now)
    }
}

/// The image directory, for `OutId::still`.
pub(super) fn open_dir(dir: &Path) -> Option<std::fs::File> {
    std::fs::File::open(dir).ok()
}

pub(super) fn key_fingerprint(k: &WriteKey) -> String {
    match k {
        WriteKey::IntegrityOnly => "integrity-only".into(),
        WriteKey::UserKey(key) => hex(&cmac(key, b"occlum-studio pack-state key fingerprint")),
        WriteKey::SimAuto(id) => format!("sim-{}-{}-{}-{}", hex(&id.mrsigner), id.prod_id, id.isv_svn, id.debug),
    }
}

/// The pack state file: a head line (magic, key fingerprint), then entry lines, each group
/// closed by a commit line `@ <root MAC> <generation>`. A full pack writes it whole (one group);
/// a warm pack appends the entries it changed and their commit line. Entries after the last
/// commit line (an append cut short) are ignored.
pub(super) fn state_line(n: &Node, host: &str, r: &Rec) -> String {
    let s = &r.sig;
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        n.id,
        n.typ,
        s.size,
        s.mtime_ns,
        s.ctime_ns,
        s.ino,
        s.dev,
        hex(&r.fp),
        hex(&r.mac),
        r.out.ino,
        r.out.size,
        r.out.mtime_ns,
        hex(n.path.as_bytes()),
        host
    )
}

/// The whole state file: head, one entry per inode, one commit line.
pub(super) fn state_text(
    key_fp: &str,
    nodes: &[Node],
    names: &[String],
    recs: &[Rec],
    root_mac: &Tag,
    generation: u64,
) -> String {
    let mut state = format!("{}\t{}\n", STATE_MAGIC, key_fp);
    for (k, r) in recs.iter().enumerate() {
        state.push_str(&state_line(&nodes[k], &names[k], r));
    }
    state.push_str(&commit_line(root_mac, generation));
    state
}

pub(super) fn commit_line(root_mac: &Tag, generation: u64) -> String {
    format!("@\t{}\t{}\n", mac_string(root_mac), generation)
}

pub(super) fn parse_entry(l: &str) -> Option<(String, PrevEntry)> {
    let f: Vec<&str> = l.split('\t').collect();
    if f.len() != 14 || f[13].len() != 32 || parse_hex(f[13]).is_none() {
        return None;
    }
    let path = String::from_utf8(parse_hex(f[12])?).ok()?;
    let tag = |s: &str| -> Option<Tag> { parse_hex(s)?.try_into().ok() };
    let e = PrevEntry {
        id: f[0].parse().ok()?,
        host: f[13].to_string(),
        typ: f[1].parse().ok()?,
        sig: Sig {
            size: f[2].parse().ok()?,
            mtime_ns: f[3].parse().ok()?,
            ctime_ns: f[4].parse().ok()?,
            ino: f[5].parse().ok()?,
            dev: f[6].parse().ok()?,
        },
        fingerprint: tag(f[7])?,
        mac: tag(f[8])?,
        out: OutId {
            ino: f[9].parse().ok()?,
            size: f[10].parse().ok()?,
            mtime_ns: f[11].parse().ok()?,
        },
    };
    Some((path, e))
}

pub(super) fn read_state(out_root: &Path) -> Option<PrevState> {
    let text = safe_file::read_text(&out_root.join(STATE_FILE), STATE_MAX)?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split('\t').collect();
    if head.len() != 2 || head[0] != STATE_MAGIC {
        return None;
    }
    let mut by_path = HashMap::new();
    let mut pending = Vec::new();
    let mut commit = None;
    for l in lines {
        if let Some(c) = l.strip_prefix("@\t") {
            let Some((mac, generation)) = c
                .split_once('\t')
                .and_then(|(m, g)| Some((parse_dashed16(m)?, g.parse::<u64>().ok()?)))
            else {
                break;
            };
            by_path.extend(pending.drain(..));
            commit = Some((mac, generation));
        } else {
            let Some(e) = parse_entry(l) else { break };
            pending.push(e);
        }
    }
    let (root_mac, generation) = commit?;
    Some(PrevState {
        key_fp: head[1].to_string(),
        root_mac,
        generation,
        by_path,
    })
}
