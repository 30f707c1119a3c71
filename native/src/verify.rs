//! Verify an SEFS image: root MAC → `metadata` PF → every inode's `inode_mac` → every node of
//! every inode PF (spec §3.6, §4.1), in parallel across cores. Every broken link is reported by
//! path, host file and node; nothing stops at the first problem.

use crate::crypto::{mac_string, Gcm, Tag};
use crate::error::{Error, Kind};
use crate::pf::{self, KeyMode};
use crate::progress::{par_map, Progress};
use crate::sefs::{Sefs, T_DIR};
use std::collections::HashSet;
use std::path::Path;

pub struct Problem {
    pub path: String,
    pub host_file: Option<String>,
    pub node: Option<u64>,
    pub kind: &'static str,
    pub message: String,
}

pub struct Report {
    pub ok: bool,
    pub root_mac: Option<Tag>,
    pub expected: Option<Tag>,
    pub files: u64,
    pub bytes: u64,
    pub problems: Vec<Problem>,
    pub note: Option<String>,
    pub era: Option<String>,
    pub mode: &'static str,
}

pub const INTEGRITY_ONLY_NOTE: &str = "integrity-only image: the MAC chain proves the image is consistent with its root MAC, not that it is untampered. Its MACs are GMACs under a public all-zero key, so anyone who can write the files can recompute a matching chain (securefs-format.md 4.5); only the root MAC kept in the signed enclave config anchors it.";

pub fn problem_kind(k: Kind) -> &'static str {
    match k {
        Kind::MacMismatch => "mac-mismatch",
        Kind::Missing => "missing",
        Kind::Corrupt | Kind::NameMismatch | Kind::RecoveryNeeded => "corrupt",
        Kind::WrongKey | Kind::WrongMode => "wrong-key",
        _ => "format",
    }
}

fn problem(path: &str, host: Option<String>, e: &Error) -> Problem {
    Problem {
        path: path.to_string(),
        host_file: host,
        node: e.node,
        kind: problem_kind(e.kind),
        message: e.msg.clone(),
    }
}

pub fn verify(dir: &Path, mode: &KeyMode, expected: Option<Tag>, progress: &Progress) -> Report {
    let mut gcm = Gcm::new();
    let mut rep = Report {
        ok: false,
        root_mac: None,
        expected,
        files: 0,
        bytes: 0,
        problems: Vec::new(),
        note: mode.integrity_only().then(|| INTEGRITY_ONLY_NOTE.to_string()),
        era: None,
        mode: mode.describe(),
    };
    let fs = match Sefs::open(dir, mode, &mut gcm) {
        Ok(fs) => fs,
        Err(e) => {
            rep.problems.push(problem("/", Some("metadata".into()), &e));
            return rep;
        }
    };
    rep.root_mac = Some(fs.root_mac);
    rep.era = Some(
        fs.layout.era.to_string()
            + if fs.garbage_pad {
                "; inode padding holds garbage (2022-01..09)"
            } else {
                ""
            },
    );
    rep.files = 1;
    rep.bytes = std::fs::metadata(dir.join("metadata")).map(|m| m.len()).unwrap_or(0);
    if let Some(exp) = expected {
        if exp != fs.root_mac {
            rep.problems.push(Problem {
                path: "/".into(),
                host_file: Some("metadata".into()),
                node: Some(0),
                kind: "mac-mismatch",
                message: format!(
                    "root MAC is {} but {} was expected: the image is not the one the configuration names",
                    mac_string(&fs.root_mac),
                    mac_string(&exp)
                ),
            });
        }
    }
    let (entries, walk_problems) = match fs.walk(&mut gcm) {
        Ok(x) => x,
        Err(e) => {
            rep.problems.push(problem("/", None, &e));
            return rep;
        }
    };
    for (p, e) in &walk_problems {
        // Unreadable directories are re-reported (with their node) by the per-inode pass below.
        if !matches!(
            e.kind,
            Kind::Corrupt | Kind::MacMismatch | Kind::Missing | Kind::NameMismatch
        ) {
            rep.problems.push(problem(p, None, e));
        }
    }
    let mut seen = HashSet::new();
    let jobs: Vec<(String, crate::sefs::Inode)> = entries.into_iter().filter(|(_, i)| seen.insert(i.id)).collect();
    progress.set_total(jobs.len() as u64);
    let results = par_map(&jobs, |(path, ino), gcm| {
        let host = fs.host_path(ino);
        let mut size = 0u64;
        let r = (|| -> Result<(), Error> {
            // One open+read per inode file; a missing file shows up as NotFound here.
            let f = pf::open_path(&host, mode, gcm).map_err(|e| {
                // Only an absent file gets the short message; a pointer or link left by a
                // checkout keeps the open's, which says what it is and what to run.
                if e.kind == Kind::Missing && host.symlink_metadata().is_err() {
                    Error::new(
                        Kind::Missing,
                        format!("host file {} of inode {} is missing", ino.host_file(), ino.id),
                    )
                } else {
                    e
                }
            })?;
            size = f.host_nodes() * pf::NODE as u64;
            f.verify_all(gcm)?;
            if ino.has_mac() && f.mac() != ino.inode_mac {
                return Err(Error::new(
                    Kind::MacMismatch,
                    format!(
                        "PF MAC {} differs from the inode_mac {} recorded in metadata for inode {}",
                        mac_string(&f.mac()),
                        mac_string(&ino.inode_mac),
                        ino.id
                    ),
                ));
            }
            if ino.typ != T_DIR && f.size < ino.size && ino.has_mac() {
                return Err(Error::new(
                    Kind::Format,
                    format!("inode size {} exceeds the PF's {} bytes", ino.size, f.size),
                ));
            }
            Ok(())
        })();
        progress.add(1, size);
        (size, r.err().map(|e| problem(path, Some(ino.host_file()), &e)))
    });
    for (size, p) in results {
        rep.files += 1;
        rep.bytes += size;
        if let Some(p) = p {
            rep.problems.push(p);
        }
    }
    rep.ok = rep.problems.is_empty();
    rep
}
