//! Ranged reads: bytes [off, off + len) of a protected file, an image file and a merged file equal
//! the same slice of the whole read, at node 0 / data node / MHT boundaries, past EOF and for zero
//! length, in both key modes; only the nodes on the range's chain are authenticated, so damage
//! elsewhere does not fail it and damage on the chain does (with the node number).
use super::{vectors, Rng, Scratch};
use crate::crypto::Gcm;
use crate::error::Kind;
use crate::ops::{dispatch, Out};
use crate::pack::{pack, PackOpts};
use crate::pf::{self, KeyMode, WriteKey, MD_DATA, NODE};
use crate::progress::Progress;
use std::path::Path;

const KEY: [u8; 16] = [7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// Data nodes per MHT node, and child MHTs per MHT node (pf.rs).
const DS: u64 = 96;
const CS: u64 = 32;

fn modes() -> [(WriteKey, KeyMode); 2] {
    [
        (WriteKey::IntegrityOnly, KeyMode::IntegrityOnly),
        (WriteKey::UserKey(KEY), KeyMode::UserKey(KEY)),
    ]
}

/// Start of data node `d` in the file.
fn at(d: u64) -> u64 {
    MD_DATA as u64 + d * NODE as u64
}

fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect()
}

/// A PF of `size` bytes written to `dir/name`; returns its plaintext.
fn write(dir: &Scratch, name: &str, size: usize, wk: &WriteKey) -> Vec<u8> {
    let data = content(size);
    let (bytes, _) = pf::write_pf(name, &data, wk, &mut Gcm::new()).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    data
}

fn slice(all: &[u8], off: u64, len: u64) -> Vec<u8> {
    let end = off.saturating_add(len).min(all.len() as u64);
    if off >= end {
        return vec![];
    }
    all[off as usize..end as usize].to_vec()
}

/// Ranges at the interesting places of a file with `data` data nodes and `size` bytes.
fn ranges(size: u64) -> Vec<(u64, u64)> {
    let mut r = vec![
        (0, 0),
        (0, 1),
        (0, MD_DATA as u64),
        (0, MD_DATA as u64 + 1),
        (MD_DATA as u64 - 2, 4),
        (100, 10_000),
        (at(1) - 1, 2),
        (at(0), NODE as u64),
        (at(DS) - 3, 6),             // last data node of MHT 0 / first of MHT 1
        (at(DS * (CS + 1)) - 5, 10), // MHT 32 (child of 0) / MHT 33 (first child of MHT 1)
        (at(DS * (CS + 1)) + 7, 3 * NODE as u64 + 11),
        (at(DS - 2), DS * 2 * NODE as u64), // spans three MHT nodes
        (size - 1, 1),
        (size - 3, 100),
        (size, 10),
        (size + 5000, 10),
        (3, u64::MAX),
        (u64::MAX - 1, 5),
        (at(5) + 17, 0),
    ];
    r.retain(|&(o, _)| o <= size + 5000 || o > u64::MAX / 2);
    r
}

#[test]
fn ranges_equal_the_whole_read_in_both_key_modes_and_both_host_readers() {
    let s = Scratch::new("range");
    // Two MHT levels: more than 1 + 32 MHT nodes (96 data nodes each).
    let size = at(DS * (CS + 3)) as usize + 1234;
    for (wk, km) in modes() {
        let all = write(&s, "big", size, &wk);
        let mut g = Gcm::new();
        let whole = pf::open_path(&s.join("big"), &km, &mut g).unwrap();
        assert_eq!(whole.read_all(&mut g, &mut |_| {}).unwrap(), all);
        let ranged = pf::open_path_ranged(&s.join("big"), &km, &mut g).unwrap();
        assert_eq!(
            (ranged.size, ranged.mac(), ranged.host_nodes()),
            (whole.size, whole.mac(), whole.host_nodes())
        );
        for (off, len) in ranges(size as u64) {
            let want = slice(&all, off, len);
            assert_eq!(
                ranged.read_range(off, len, &mut g).unwrap(),
                want,
                "{:?} off {} len {}",
                km.describe(),
                off,
                len
            );
            assert_eq!(
                whole.read_range(off, len, &mut g).unwrap(),
                want,
                "in memory: off {} len {}",
                off,
                len
            );
        }
        // Small files: node 0 only, and exactly one data node.
        for n in [0usize, 1, MD_DATA, MD_DATA + 1, MD_DATA + NODE] {
            let all = write(&s, "small", n, &wk);
            let f = pf::open_path_ranged(&s.join("small"), &km, &mut g).unwrap();
            for (off, len) in [
                (0, 0),
                (0, n as u64 + 10),
                (1, 2),
                (MD_DATA as u64 - 1, 2),
                (n as u64, 1),
            ] {
                assert_eq!(
                    f.read_range(off, len, &mut g).unwrap(),
                    slice(&all, off, len),
                    "size {} off {} len {}",
                    n,
                    off,
                    len
                );
            }
        }
    }
}

#[test]
fn only_the_chain_of_the_range_is_authenticated() {
    let s = Scratch::new("range-corrupt");
    let size = at(DS * (CS + 3)) as usize + 100;
    let far = DS * (CS + 2) + 5; // a data node under MHT 34, whose parent is MHT 1
    for (wk, km) in modes() {
        let all = write(&s, "f", size, &wk);
        let clean = std::fs::read(s.join("f")).unwrap();
        let flip = |phys: u64| {
            let mut b = clean.clone();
            b[phys as usize * NODE + 200] ^= 0x40;
            std::fs::write(s.join("f"), b).unwrap();
        };
        let mut g = Gcm::new();
        let read = |off: u64, len: u64, g: &mut Gcm| {
            pf::open_path_ranged(&s.join("f"), &km, g)
                .unwrap()
                .read_range(off, len, g)
        };
        let corrupt_at = |r: crate::error::Result<Vec<u8>>| {
            let e = r.expect_err("range over the damaged node fails");
            assert_eq!(e.kind, Kind::Corrupt, "{}", e);
            e.node
        };

        // A damaged data node: ranges elsewhere (node 0 part, other data nodes, the same MHT) read.
        flip(pf::phys_data(far));
        assert_eq!(read(0, 5000, &mut g).unwrap(), slice(&all, 0, 5000));
        assert_eq!(
            read(at(far - 1), NODE as u64, &mut g).unwrap(),
            slice(&all, at(far - 1), NODE as u64)
        );
        assert_eq!(read(at(far + 1), 10, &mut g).unwrap(), slice(&all, at(far + 1), 10));
        assert_eq!(corrupt_at(read(at(far) + 4095, 1, &mut g)), Some(pf::phys_data(far)));
        assert_eq!(
            corrupt_at(read(at(far - 1) + 10, NODE as u64, &mut g)),
            Some(pf::phys_data(far))
        );
        let whole = pf::open_path(&s.join("f"), &km, &mut g).unwrap();
        assert!(whole.read_all(&mut g, &mut |_| {}).is_err(), "the whole read does fail");

        // A damaged MHT node fails the ranges below it (and those of its child MHTs), nothing else.
        flip(pf::phys_mht(1));
        assert_eq!(corrupt_at(read(at(DS) + 3, 10, &mut g)), Some(pf::phys_mht(1)));
        assert_eq!(
            corrupt_at(read(at(far), 10, &mut g)),
            Some(pf::phys_mht(1)),
            "MHT 34 is reached through MHT 1"
        );
        assert_eq!(
            read(at(DS * 2), 10, &mut g).unwrap(),
            slice(&all, at(DS * 2), 10),
            "MHT 2 hangs off MHT 0"
        );
        assert_eq!(read(at(3), 10, &mut g).unwrap(), slice(&all, at(3), 10));
        flip(pf::phys_mht(34));
        assert_eq!(corrupt_at(read(at(far), 10, &mut g)), Some(pf::phys_mht(34)));
        assert_eq!(read(at(DS) + 3, 10, &mut g).unwrap(), slice(&all, at(DS) + 3, 10));

        // Node 0 is always authenticated (at open).
        flip(0);
        let e = pf::open_path_ranged(&s.join("f"), &km, &mut g)
            .err()
            .expect("node 0 is checked at open");
        assert!(matches!(e.kind, Kind::Corrupt | Kind::WrongKey), "{}", e);
        std::fs::write(s.join("f"), &clean).unwrap();
    }
}

#[test]
fn ranged_open_applies_the_recovery_journal_like_the_whole_read() {
    let mut g = Gcm::new();
    let p = vectors().join("io-interrupted");
    let whole = pf::open_path(&p, &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert!(whole.recovered);
    let all = whole.read_all(&mut g, &mut |_| {}).unwrap();
    let ranged = pf::open_path_ranged(&p, &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert!(ranged.recovered);
    let size = all.len() as u64;
    for (off, len) in [
        (0, size),
        (0, 100),
        (MD_DATA as u64 - 7, 5000),
        (size / 2, 9000),
        (size.saturating_sub(10), 50),
    ] {
        assert_eq!(
            ranged.read_range(off, len, &mut g).unwrap(),
            slice(&all, off, len),
            "off {} len {}",
            off,
            len
        );
    }
    // The same errors as a whole open: wrong key, not a PF.
    let key = KeyMode::UserKey(KEY);
    assert_eq!(
        pf::open_path_ranged(&vectors().join("io-3073"), &key, &mut g)
            .err()
            .unwrap()
            .kind,
        Kind::WrongMode
    );
    assert_eq!(
        pf::open_path_ranged(&vectors().join("MANIFEST.md"), &key, &mut g)
            .err()
            .unwrap()
            .kind,
        Kind::NotPf
    );
}

fn bytes(o: Out) -> Vec<u8> {
    match o {
        Out::Bytes(b) => b,
        Out::Json(j) => panic!("expected bytes, got {j}"),
    }
}

fn op(name: &str, args: &[&str]) -> crate::error::Result<Vec<u8>> {
    dispatch(
        name,
        &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        &Progress::new(),
    )
    .map(bytes)
}

fn pack_dir(src: &Path, out: &Path, wk: WriteKey) {
    let o = PackOpts {
        src: src.into(),
        out_root: out.join("__ROOT"),
        mac_file: out.join(".ROOT_MAC"),
        key: wk,
        incremental: false,
        fsync: false,
        crash_after: None,
    };
    pack(&o, &Progress::new()).unwrap();
}

#[test]
fn read_range_and_u_read_range_ops_equal_read_and_u_read() {
    let s = Scratch::new("range-ops");
    let big = content(at(DS * 2) as usize + 77);
    std::fs::create_dir_all(s.join("img/data")).unwrap();
    std::fs::write(s.join("img/data/big.bin"), &big).unwrap();
    std::fs::write(s.join("img/data/small.txt"), b"hello\n").unwrap();
    std::fs::write(s.join("img/empty"), b"").unwrap();
    std::fs::create_dir_all(s.join("run/data")).unwrap();
    std::fs::write(s.join("run/data/small.txt"), b"written at run time\n").unwrap();
    for (wk, spec) in [
        (WriteKey::IntegrityOnly, "io".to_string()),
        (WriteKey::UserKey(KEY), format!("uk:{}", crate::crypto::hex(&KEY))),
    ] {
        let out = s.join(&format!("out-{}", &spec[..2]));
        pack_dir(&s.join("img"), &out.join("image"), wk);
        pack_dir(&s.join("run"), &out.join("run"), wk);
        let (img, run) = (
            out.join("image/__ROOT").display().to_string(),
            out.join("run/__ROOT").display().to_string(),
        );
        for path in ["/data/big.bin", "/data/small.txt", "/empty"] {
            let all = op("read", &[&img, &spec, path]).unwrap();
            let merged = op("uRead", &[&img, &spec, &run, &spec, path]).unwrap();
            for (off, len) in ranges(all.len() as u64)
                .into_iter()
                .filter(|&(o, l)| o < u64::MAX / 2 && l < u64::MAX / 2)
            {
                let (o, l) = (off.to_string(), len.to_string());
                assert_eq!(
                    op("readRange", &[&img, &spec, path, &o, &l]).unwrap(),
                    slice(&all, off, len),
                    "{path} {off}+{len}"
                );
                assert_eq!(
                    op("uReadRange", &[&img, &spec, &run, &spec, path, &o, &l]).unwrap(),
                    slice(&merged, off, len),
                    "merged {path} {off}+{len}"
                );
            }
        }
        assert_eq!(
            op("uReadRange", &[&img, &spec, &run, &spec, "/data/small.txt", "0", "100"]).unwrap(),
            b"written at run time\n"
        );
        // Errors as for whole reads.
        let e = |r: crate::error::Result<Vec<u8>>| r.expect_err("an error");
        assert_eq!(
            e(op("readRange", &[&img, &spec, "/data", "0", "10"])).msg,
            e(op("read", &[&img, &spec, "/data"])).msg
        );
        assert_eq!(
            e(op("readRange", &[&img, &spec, "/nope", "0", "10"])).kind,
            Kind::Missing
        );
        assert_eq!(
            e(op("readRange", &[&img, &spec, "/empty", "x", "10"])).kind,
            Kind::Usage
        );
        assert_eq!(e(op("readRange", &[&img, &spec, "/empty", "0"])).kind, Kind::Usage);
        let big_ino =
            crate::sefs::Sefs::open(Path::new(&img), &crate::ops::parse_key(&spec).unwrap(), &mut Gcm::new()).unwrap();
        let ino = big_ino.lookup("/data/big.bin", &mut Gcm::new()).unwrap();
        let host = big_ino.host_path(&ino);
        let clean = std::fs::read(&host).unwrap();
        let mut b = clean.clone();
        b[pf::phys_data(DS + 1) as usize * NODE + 9] ^= 1;
        std::fs::write(&host, &b).unwrap();
        let whole = e(op("read", &[&img, &spec, "/data/big.bin"]));
        let ranged = e(op(
            "readRange",
            &[&img, &spec, "/data/big.bin", &at(DS + 1).to_string(), "1"],
        ));
        assert_eq!(
            (ranged.kind, ranged.node, &ranged.msg),
            (whole.kind, whole.node, &whole.msg),
            "the same error as the whole read"
        );
        assert_eq!(
            op("readRange", &[&img, &spec, "/data/big.bin", "0", "8192"]).unwrap(),
            big[..8192].to_vec(),
            "a range before the damage reads"
        );
        std::fs::remove_file(&host).unwrap();
        assert_eq!(
            e(op("readRange", &[&img, &spec, "/data/big.bin", "0", "1"])).msg,
            e(op("read", &[&img, &spec, "/data/big.bin"])).msg
        );
    }
}

#[test]
fn mutated_files_never_panic_and_agree_with_the_whole_read_when_it_succeeds() {
    let s = Scratch::new("range-fuzz");
    let size = at(DS * 3) as usize + 100;
    let mut rng = Rng(std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_2026));
    for (wk, km) in modes() {
        write(&s, "f", size, &wk);
        let clean = std::fs::read(s.join("f")).unwrap();
        let mut g = Gcm::new();
        for _ in 0..150 {
            let mut b = clean.clone();
            match rng.below(4) {
                0 => b.truncate(rng.below(b.len() + 1)),
                1 => b.truncate(NODE * rng.below(b.len() / NODE + 1)),
                2 => b.extend(std::iter::repeat_n(0x33, NODE * (1 + rng.below(3)))),
                _ => {
                    for _ in 0..1 + rng.below(6) {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
            }
            std::fs::write(s.join("f"), &b).unwrap();
            let whole = pf::open_path(&s.join("f"), &km, &mut g).and_then(|f| f.read_all(&mut g, &mut |_| {}));
            let Ok(f) = pf::open_path_ranged(&s.join("f"), &km, &mut g) else {
                assert!(
                    whole.is_err(),
                    "the ranged open refuses only what the whole open refuses"
                );
                continue;
            };
            for _ in 0..6 {
                let off = rng.below(size + 2 * NODE) as u64;
                let len = rng.below(3 * NODE * DS as usize) as u64;
                let r = f.read_range(off, len, &mut g);
                if let Ok(all) = &whole {
                    assert_eq!(
                        r.expect("a range of a file that reads whole reads"),
                        slice(all, off, len)
                    );
                }
            }
        }
    }
}
