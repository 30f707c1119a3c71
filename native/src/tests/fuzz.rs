//! Fuzz harness (std only, seeded): mutates real PF vectors and SEFS images — truncated and extra
//! nodes, bad magic and versions, huge sizes, cyclic and self-referencing directories, names with
//! '/', '..', NUL, hostile symlinks — and requires clean errors: no panic, no hang, bounded memory.
//! Structural mutations are re-sealed with valid MACs (integrity-only keys are public), so the
//! parsers behind the crypto see them too. FUZZ_ITERS (default 3000) and FUZZ_SEED tune it.
use super::Rng;
use super::{vectors, wamr, Scratch};
use crate::crypto::Gcm;
use crate::pf::{self, KeyMode, WriteKey};
use crate::progress::Progress;
use crate::sefs::Sefs;
use crate::union::Union;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

const HUGE: [u64; 6] = [u64::MAX, i64::MAX as u64, 1 << 40, 0xffff_ffff, 14_000_000_000, 1 << 33];

fn mutate_pf(rng: &mut Rng, raw: &[u8], io: bool, g: &mut Gcm) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut b = raw.to_vec();
    let mut journal = None;
    match rng.below(10) {
        0 => b.truncate(rng.below(b.len() + 1)),
        1 => {
            let n = rng.below(4) + 1;
            for _ in 0..n * 4096 {
                b.push(rng.next() as u8);
            }
        }
        2 => {
            for _ in 0..rng.below(8) + 1 {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        3 => {
            let magics: [&[u8; 8]; 4] = [b"GRAFS_PF", b"GRAPH_PF", b"ELIF_XGX", &[0u8; 8]];
            let m = *magics[rng.below(4)];
            b[0..8].copy_from_slice(&m);
        }
        4 => b[8] = *rng.pick(&[0u8, 2, 255]),
        5 => {
            b[93] = 1;
            if rng.below(2) == 0 {
                let mut j = vec![0u8; 4104 * (rng.below(3) + 1)];
                for x in j.iter_mut() {
                    *x = rng.next() as u8;
                }
                if rng.below(2) == 0 {
                    j[0..8].copy_from_slice(&HUGE[rng.below(HUGE.len())].to_le_bytes());
                }
                journal = Some(j);
            }
        }
        6 => b[94] = rng.next() as u8,
        _ if io => {
            // Re-sealed metadata with a hostile size / MHT key / data: passes node-0 authentication.
            let e = 95;
            match rng.below(3) {
                0 => b[e + 260..e + 268].copy_from_slice(&HUGE[rng.below(HUGE.len())].to_le_bytes()),
                1 => b[e + 288..e + 304].copy_from_slice(&[0xaa; 16]),
                _ => {
                    let i = e + rng.below(3392);
                    b[i] = rng.next() as u8;
                }
            }
            let tag = g.gmac(&[0u8; 16], &b[e..e + 3392]);
            b[77..93].copy_from_slice(&tag);
        }
        _ => {
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
        }
    }
    (b, journal)
}

/// Rewrite the plaintext of an integrity-only PF in `root` through `f`, re-sealed.
fn reseal(root: &Path, name: &str, g: &mut Gcm, f: impl FnOnce(&mut Vec<u8>)) {
    let p = root.join(name);
    let Ok(pf) = pf::open_path(&p, &KeyMode::IntegrityOnly, g) else {
        return;
    };
    let Ok(mut data) = pf.read_all(g, &mut |_| {}) else {
        return;
    };
    f(&mut data);
    let (bytes, _) = pf::write_pf(name, &data, &WriteKey::IntegrityOnly, g).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn put_u32(d: &mut [u8], off: usize, v: u32) {
    if off + 4 <= d.len() {
        d[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn mutate_image(rng: &mut Rng, root: &Path, g: &mut Gcm) {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.len() == 32)
        .collect();
    names.sort();
    let dirs = ["02000000000000000000000000000000", "03000000000000000000000000000000"];
    for _ in 0..rng.below(3) + 1 {
        match rng.below(9) {
            0 => {
                // A record field of a random inode: size, type, blocks, nlinks.
                let off = (2 + rng.below(10)) * 128 + *rng.pick(&[0usize, 8, 12, 14, 16]);
                let v = HUGE[rng.below(HUGE.len())];
                reseal(root, "metadata", g, |m| {
                    if off + 8 <= m.len() {
                        m[off..off + 8].copy_from_slice(&v.to_le_bytes());
                    }
                })
            }
            1 => {
                // Superblock: blocks / unused / groups.
                let (off, v) = (4 + 4 * rng.below(3), rng.next() as u32);
                reseal(root, "metadata", g, |m| put_u32(m, off, v))
            }
            2 => {
                let r = rng.next() as usize;
                reseal(root, "metadata", g, |m| m.truncate(r % (m.len() + 1)))
            }
            3 => {
                // Cycle: an entry pointing at the root, at the directory itself, or out of range.
                let (dir, r, id) = (
                    dirs[rng.below(2)],
                    rng.next() as usize,
                    *rng.pick(&[2u32, 3, 0, 1, 1023, 1025, u32::MAX]),
                );
                reseal(root, dir, g, |d| {
                    let k = 2 + r % (d.len() / 264).saturating_sub(2).max(1);
                    put_u32(d, k * 264, id);
                    put_u32(d, k * 264 + 260, 2);
                })
            }
            4 => {
                let (dir, r) = (dirs[rng.below(2)], rng.next() as usize);
                let names: [&[u8]; 6] = [b"a/b\0", b"..\0", b".\0", b"\0", b"\xff\xfe\0", b"x"];
                let name: &[u8] = names[rng.below(6)];
                reseal(root, dir, g, |d| {
                    let k = r % (d.len() / 264 + 1);
                    let off = k * 264 + 4;
                    if off + 256 <= d.len() {
                        d[off..off + 256].fill(if name == b"x" { b'x' } else { 0 });
                        d[off..off + name.len()].copy_from_slice(name);
                    }
                })
            }
            5 => {
                // Hostile symlink target / file content in a random inode.
                let n = rng.pick(&names).clone();
                let long = [b'a'; 5000];
                let targets: [&[u8]; 4] = [b"../../../../etc/passwd", b"/", b"..", &long];
                let t: &[u8] = targets[rng.below(4)];
                reseal(root, &n, g, |d| {
                    d.clear();
                    d.extend_from_slice(t);
                });
            }
            6 => {
                let n = rng.pick(&names).clone();
                let p = root.join(&n);
                if let Ok(b) = std::fs::read(&p) {
                    if !b.is_empty() {
                        let (m, _) = mutate_pf(rng, &b, true, g);
                        std::fs::write(&p, m).unwrap();
                    }
                }
            }
            7 => {
                let n = rng.pick(&names).clone();
                let _ = std::fs::remove_file(root.join(n));
            }
            _ => {
                // Swap two inode files.
                let a = rng.pick(&names).clone();
                let b = rng.pick(&names).clone();
                let (da, db) = (
                    std::fs::read(root.join(&a)).unwrap_or_default(),
                    std::fs::read(root.join(&b)).unwrap_or_default(),
                );
                let _ = std::fs::write(root.join(&a), db);
                let _ = std::fs::write(root.join(&b), da);
            }
        }
    }
}

/// Everything a user can do with an image; returns without panicking.
fn exercise_image(root: &Path, run: &Path, g: &mut Gcm) {
    if let Ok(fs) = Sefs::open(root, &KeyMode::IntegrityOnly, g) {
        if let Ok((all, _)) = fs.walk(g) {
            for (_, ino) in all.iter().take(200) {
                let _ = fs.read_data(ino, g);
            }
        }
        let _ = fs.lookup("/a/b/../c", g);
        if let Ok(runfs) = Sefs::open(run, &KeyMode::IntegrityOnly, g) {
            let u = Union {
                image: std::sync::Arc::new(fs),
                run: std::sync::Arc::new(runfs),
            };
            let _ = u.walk(g);
            let _ = u.list("/", g);
            let _ = u.binding(g);
        }
    }
    let _ = crate::verify::verify(root, &KeyMode::IntegrityOnly, None, &Progress::new());
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn fuzz_mutations() {
    let iters: usize = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0cc1);
    let mut rng = Rng(seed | 1);
    let mut g = Gcm::new();
    let pfs: Vec<(String, Vec<u8>, KeyMode)> = [
        "io-pattern",
        "io-3073",
        "io-1",
        "uk-pattern",
        "sim-dbg-100",
        "io-interrupted",
    ]
    .iter()
    .map(|n| {
        let mode = if n.starts_with("io") {
            KeyMode::IntegrityOnly
        } else if n.starts_with("uk") {
            KeyMode::UserKey(
                crate::crypto::parse_hex("00112233445566778899aabbccddeeff")
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )
        } else {
            KeyMode::SimAuto(pf::SimIdentity {
                mrsigner: pf::DEFAULT_MRSIGNER,
                prod_id: 0,
                isv_svn: 0,
                debug: true,
            })
        };
        (n.to_string(), std::fs::read(vectors().join(n)).unwrap(), mode)
    })
    .collect();
    // A small image with a run layer over it, and a copy of the real image's smaller files.
    let s = Scratch::new("fuzz");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("a/f"), vec![5u8; 9000]).unwrap();
    std::fs::write(src.join("a/b/g"), b"g").unwrap();
    std::os::unix::fs::symlink("../../x", src.join("a/l")).unwrap();
    let o = crate::pack::PackOpts {
        src: src.clone(),
        out_root: s.join("base/__ROOT"),
        mac_file: s.join("base/.ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: false,
        fsync: false,
        crash_after: None,
    };
    crate::pack::pack(&o, &Progress::new()).unwrap();
    std::fs::write(src.join(".ufs.wh.zz"), b"").unwrap();
    crate::pack::pack(
        &crate::pack::PackOpts {
            out_root: s.join("baserun/__ROOT"),
            mac_file: s.join("baserun/.ROOT_MAC"),
            ..o
        },
        &Progress::new(),
    )
    .unwrap();
    let bases = [s.join("base/__ROOT"), wamr().join("build/mount/__ROOT")];
    let mut slowest = Duration::ZERO;
    let mut errors = 0usize;
    for i in 0..iters {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            if i % 2 == 0 {
                let (name, raw, mode) = &pfs[rng.below(pfs.len())];
                let (m, j) = mutate_pf(&mut rng, raw, matches!(mode, KeyMode::IntegrityOnly), &mut g);
                match pf::open_bytes(name, m, j, mode, &mut g) {
                    Ok(f) => {
                        if f.read_all(&mut g, &mut |_| {}).is_err() {
                            errors += 1;
                        }
                    }
                    Err(e) => {
                        assert!(!e.msg.is_empty());
                        errors += 1;
                    }
                }
            } else {
                let base = &bases[if i % 25 == 1 { 1 } else { 0 }];
                let root = s.join("case/__ROOT");
                let _ = std::fs::remove_dir_all(s.join("case"));
                super::copy_tree(base, &root);
                mutate_image(&mut rng, &root, &mut g);
                let run = s.join("caserun/__ROOT");
                if !run.exists() {
                    super::copy_tree(&s.join("baserun/__ROOT"), &run);
                }
                exercise_image(&root, &run, &mut g);
                // The mutated image as the run layer too.
                exercise_image(&s.join("base/__ROOT"), &root, &mut g);
            }
        }));
        let el = t.elapsed();
        slowest = slowest.max(el);
        assert!(r.is_ok(), "iteration {i} (seed {seed}) panicked");
        assert!(el < Duration::from_secs(10), "iteration {i} (seed {seed}) took {el:?}");
    }
    let rss = peak_rss_kb();
    eprintln!(
        "fuzz: {iters} iterations, {errors} PF cases refused cleanly, slowest {slowest:?}, peak RSS {} MiB",
        rss / 1024
    );
    assert!(rss < 1024 * 1024, "peak RSS {} KiB", rss);
}
