//! The warm incremental pack: re-sealing a few nodes of a protected file equals sealing it
//! afresh; hinted edits update `metadata` in place and stay crash-safe at every step (readers see
//! the previous image until the commit, `recover` finishes or undoes); the appended pack state
//! carries over to a fresh process.
use super::Scratch;
use crate::crypto::{mac_string, parse_dashed16, Gcm};
use crate::pack::{forget_warm, pack_hinted, recover, PackOpts, STATE_FILE};
use crate::pf::{self, KeyMode, SealedPf, WriteKey, NODE};
use crate::progress::Progress;
use crate::sefs::Sefs;
use crate::verify::verify;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).rotate_left(seed as u32) as u8)
        .collect()
}

#[test]
fn reseal_equals_a_fresh_seal_and_returns_the_replaced_nodes() {
    // 40 MHT nodes: data under the root MHT, under its children and under a grandchild.
    let len = 3072 + 40 * 96 * NODE - 1000;
    let old_data = pattern(len, 3);
    let mut data = old_data.clone();
    let dirty = [
        100..140,
        3072 + 5 * NODE + 10..3072 + 5 * NODE + 20,
        3072 + 200 * NODE - 8..3072 + 200 * NODE + 8,
        len - 50..len,
    ];
    for r in &dirty {
        data[r.clone()].iter_mut().for_each(|b| *b ^= 0x5a);
    }
    let mut g = Gcm::new();
    let wk = WriteKey::IntegrityOnly;
    let mut pf = SealedPf::seal("metadata", &old_data, &wk, &mut g).unwrap();
    let before = pf.bytes.clone();
    let old = pf.reseal(&data, &dirty, &wk, &mut g);
    assert_eq!(
        pf.bytes,
        SealedPf::seal("metadata", &data, &wk, &mut g).unwrap().bytes,
        "integrity-only re-seal is byte-identical to a fresh seal"
    );
    assert_eq!(old.last().unwrap().0, 0, "node 0 comes last");
    for (phys, image) in &old {
        assert_eq!(&before[*phys as usize * NODE..][..NODE], &image[..]);
    }
    // data nodes 5, 199, 200 and the last; MHTs 0, 2, 3 (the grandchild of 200's chain) and the last's; node 0
    let changed: Vec<u64> = (0..(before.len() / NODE) as u64)
        .filter(|&p| before[p as usize * NODE..][..NODE] != pf.bytes[p as usize * NODE..][..NODE])
        .collect();
    let mut returned: Vec<u64> = old.iter().map(|(p, _)| *p).collect();
    returned.sort();
    assert_eq!(changed, returned, "exactly the returned nodes changed");

    // With a key: fresh node keys, so compare by reading back; the old images restore the old file.
    let wk = WriteKey::UserKey([9u8; 16]);
    let km = KeyMode::from(&wk);
    let mut pf = SealedPf::seal("metadata", &old_data, &wk, &mut g).unwrap();
    let old = pf.reseal(&data, &dirty, &wk, &mut g);
    let f = pf::open_bytes("metadata", pf.bytes.clone(), None, &km, &mut g).unwrap();
    assert_eq!(f.read_all(&mut g, &mut |_| {}).unwrap(), data);
    assert_eq!(f.mac(), pf.mac());
    let mut journal = Vec::new();
    for (phys, image) in &old {
        journal.extend_from_slice(&phys.to_le_bytes());
        journal.extend_from_slice(image);
    }
    let mut flagged = pf.bytes.clone();
    flagged[93] = 1;
    let f = pf::open_bytes("metadata", flagged, Some(journal), &km, &mut g).unwrap();
    assert_eq!(
        f.read_all(&mut g, &mut |_| {}).unwrap(),
        old_data,
        "the journal brings back the previous file"
    );
}

fn read(root: &Path, km: &KeyMode, path: &str) -> Vec<u8> {
    let mut g = Gcm::new();
    let s = Sefs::open(root, km, &mut g).unwrap();
    let i = s.lookup(path, &mut g).unwrap();
    s.read_data(&i, &mut g).unwrap()
}

fn verified(out: &Path, km: &KeyMode, mac: &str, what: &str) {
    let v = verify(out, km, parse_dashed16(mac), &Progress::new());
    assert!(
        v.ok,
        "{what}: {:?}",
        v.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
    );
}

fn metadata_ino(out: &Path) -> u64 {
    std::fs::metadata(out.join("metadata")).unwrap().ino()
}

/// Host files the image references, plus metadata and the pack state: nothing else may remain.
fn assert_no_leftovers(out: &Path, km: &KeyMode, what: &str) {
    let mut g = Gcm::new();
    let fs = Sefs::open(out, km, &mut g).unwrap();
    let (entries, _) = fs.walk(&mut g).unwrap();
    let mut want: Vec<String> = entries.iter().map(|(_, i)| i.host_file()).collect();
    want.extend(["metadata".to_string(), STATE_FILE.to_string()]);
    want.sort();
    want.dedup();
    let mut have: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    have.sort();
    assert_eq!(have, want, "{what}");
}

#[test]
fn warm_edits_update_metadata_in_place_and_survive_a_crash_at_every_step() {
    for key in [WriteKey::IntegrityOnly, WriteKey::UserKey([5u8; 16])] {
        let km = KeyMode::from(&key);
        let s = Scratch::new("warm");
        let src = s.join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        for i in 0..300 {
            std::fs::write(src.join(format!("d/f{i}")), pattern(100 + i * 37, i as u8)).unwrap();
        }
        std::os::unix::fs::symlink("d/f1", src.join("link")).unwrap();
        let out = s.join("__ROOT");
        let macf = s.join(".ROOT_MAC");
        let o = PackOpts {
            src: src.clone(),
            out_root: out.clone(),
            mac_file: macf.clone(),
            key,
            incremental: true,
            fsync: false,
            crash_after: None,
        };
        let hint = |paths: &[&str], o: &PackOpts| {
            pack_hinted(
                o,
                Some(&paths.iter().map(|p| p.to_string()).collect::<Vec<_>>()),
                &Progress::new(),
            )
        };
        hint(&[], &o).unwrap();
        let ino = metadata_ino(&out);

        // Content, mode and symlink edits: in place (same metadata inode), only the edited files.
        std::fs::write(src.join("d/f7"), b"edited").unwrap();
        std::fs::set_permissions(src.join("d/f8"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::remove_file(src.join("link")).unwrap();
        std::os::unix::fs::symlink("d/f2", src.join("link")).unwrap();
        let r = hint(&["d/f7", "d/f8", "link", "d/f7"], &o).unwrap();
        assert_eq!(r.files_packed, 3);
        assert_eq!(metadata_ino(&out), ino, "warm path: metadata updated in place");
        verified(&out, &km, &std::fs::read_to_string(&macf).unwrap(), "after warm edits");
        assert_eq!(read(&out, &km, "/d/f7"), b"edited");
        assert_eq!(read(&out, &km, "/link"), b"d/f2");
        let mut g = Gcm::new();
        assert_eq!(
            Sefs::open(&out, &km, &mut g)
                .unwrap()
                .lookup("/d/f8", &mut g)
                .unwrap()
                .mode,
            0o600
        );
        assert_no_leftovers(&out, &km, "after warm edits");
        // An unchanged hinted file: nothing written, same root MAC.
        let again = hint(&["d/f7"], &o).unwrap();
        assert_eq!((again.files_packed, again.root_mac), (0, r.root_mac));

        // A crash after each step. Before the commit (1, 2) readers see the previous image, even
        // with metadata half rewritten (2); after it (3, 4) the new one. Recovery then leaves a
        // clean image, and the next pack is warm again.
        for step in 1..=4u32 {
            let before = std::fs::read_to_string(&macf).unwrap();
            let content = pattern(5000 + step as usize, 40 + step as u8);
            std::fs::write(src.join("d/f9"), &content).unwrap();
            hint(&["d/f10"], &o).unwrap(); // make sure the cache is warm (nothing to do)
            let e = hint(
                &["d/f9"],
                &PackOpts {
                    crash_after: Some(step),
                    ..PackOpts {
                        src: src.clone(),
                        out_root: out.clone(),
                        mac_file: macf.clone(),
                        key,
                        incremental: true,
                        fsync: false,
                        crash_after: None,
                    }
                },
            );
            assert!(e.is_err(), "step {step}");
            // In flight (2) the journal is live; right after the commit (3) it is stale (flag clear).
            assert_eq!(
                out.join("metadata_recovery").exists(),
                step == 2 || step == 3,
                "step {step}: recovery journal"
            );
            // A reader (no cleanup): the image is consistent and names its root MAC.
            recover(&out, &macf, false).unwrap();
            let mac = std::fs::read_to_string(&macf).unwrap();
            verified(&out, &km, &mac, &format!("step {step}, reader"));
            if step <= 2 {
                assert_eq!(mac, before, "step {step}: previous image");
                assert_ne!(read(&out, &km, "/d/f9"), content);
            } else {
                assert_eq!(read(&out, &km, "/d/f9"), content, "step {step}: new image");
            }
            // The packer's recovery, then a hinted pack: clean image, source content.
            recover(&out, &macf, true).unwrap();
            assert_no_leftovers(&out, &km, &format!("step {step}, after recovery"));
            let r = hint(&["d/f9"], &o).unwrap();
            verified(&out, &km, &mac_string(&r.root_mac), &format!("step {step}, next pack"));
            assert_eq!(read(&out, &km, "/d/f9"), content);
            assert_no_leftovers(&out, &km, &format!("step {step}, next pack"));
        }

        // A fresh process reads the appended state: nothing to rewrite.
        std::fs::write(src.join("d/f11"), b"eleven").unwrap();
        let r = hint(&["d/f11"], &o).unwrap();
        forget_warm();
        let r2 = pack_hinted(&o, None, &Progress::new()).unwrap();
        assert_eq!(r2.files_packed, 0, "the appended state describes the image");
        if matches!(key, WriteKey::IntegrityOnly) {
            assert_eq!(
                r2.root_mac, r.root_mac,
                "integrity-only: the warm metadata equals a fresh one"
            );
        }
        // A cut-short append (entries without their commit line) is ignored: the state then names
        // an older image, so the next pack does not trust it and rewrites everything, correctly.
        std::fs::write(src.join("d/f12"), b"twelve").unwrap();
        hint(&["d/f12"], &o).unwrap();
        let state = std::fs::read_to_string(out.join(STATE_FILE)).unwrap();
        let cut = state.trim_end_matches('\n').rfind('\n').unwrap() + 1;
        std::fs::write(out.join(STATE_FILE), &state[..cut]).unwrap();
        forget_warm();
        let r4 = pack_hinted(&o, None, &Progress::new()).unwrap();
        assert_eq!(r4.files_packed, r4.inodes, "untrusted state: everything rewritten");
        verified(&out, &km, &mac_string(&r4.root_mac), "after a cut-short state");
        assert_eq!(read(&out, &km, "/d/f12"), b"twelve");
    }
}

#[test]
fn structural_hints_and_shared_metadata_take_the_regular_path() {
    let km = KeyMode::IntegrityOnly;
    let s = Scratch::new("warm-decline");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..20 {
        std::fs::write(src.join(format!("d/f{i}")), format!("file {i}")).unwrap();
    }
    let out = s.join("__ROOT");
    let macf = s.join(".ROOT_MAC");
    let o = PackOpts {
        src: src.clone(),
        out_root: out.clone(),
        mac_file: macf.clone(),
        key: WriteKey::IntegrityOnly,
        incremental: true,
        fsync: false,
        crash_after: None,
    };
    let hint = |paths: &[&str]| {
        pack_hinted(
            &o,
            Some(&paths.iter().map(|p| p.to_string()).collect::<Vec<_>>()),
            &Progress::new(),
        )
        .unwrap()
    };
    hint(&[]);
    // Added, removed, hard-linked, a directory: the regular path (metadata replaced by rename).
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Box<dyn Fn()>, Vec<&str>)> = vec![
        (
            "add",
            Box::new(|| std::fs::write(src.join("d/new"), b"new").unwrap()),
            vec!["d/new"],
        ),
        (
            "remove",
            Box::new(|| std::fs::remove_file(src.join("d/f3")).unwrap()),
            vec!["d/f3"],
        ),
        (
            "hard link",
            Box::new(|| std::fs::hard_link(src.join("d/f4"), src.join("d/f4-link")).unwrap()),
            vec!["d/f4", "d/f4-link"],
        ),
        (
            "directory",
            Box::new(|| std::fs::write(src.join("d/f5"), b"five").unwrap()),
            vec!["d"],
        ),
    ];
    for (what, change, paths) in cases {
        let ino = metadata_ino(&out);
        change();
        let r = hint(&paths);
        assert_ne!(metadata_ino(&out), ino, "{what}: regular path");
        verified(&out, &km, &mac_string(&r.root_mac), what);
    }
    // Metadata shared with another image through a hard link is never written in place.
    let twin = s.join("twin-metadata");
    std::fs::hard_link(out.join("metadata"), &twin).unwrap();
    let twin_bytes = std::fs::read(&twin).unwrap();
    std::fs::write(src.join("d/f6"), b"six").unwrap();
    let r = hint(&["d/f6"]);
    assert_eq!(
        std::fs::read(&twin).unwrap(),
        twin_bytes,
        "the other image's metadata is untouched"
    );
    verified(&out, &km, &mac_string(&r.root_mac), "shared metadata");
    assert_eq!(read(&out, &km, "/d/f6"), b"six");
}

#[test]
fn packs_into_one_destination_wait_for_each_other() {
    // Two threads (separate open file descriptions, as two processes would have) pack edits of
    // the same tree into one outRoot, hinted and not, at the same time.
    let km = KeyMode::IntegrityOnly;
    let s = Scratch::new("pack-lock");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..50 {
        std::fs::write(src.join(format!("d/f{i}")), format!("file {i}")).unwrap();
    }
    let out = s.join("__ROOT");
    let o = PackOpts {
        src: src.clone(),
        out_root: out.clone(),
        mac_file: s.join(".ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: true,
        fsync: false,
        crash_after: None,
    };
    pack_hinted(&o, None, &Progress::new()).unwrap();
    std::thread::scope(|sc| {
        for t in 0..2 {
            let (o, src) = (&o, &src);
            sc.spawn(move || {
                for k in 0..15 {
                    let f = format!("d/f{}", t * 20 + k);
                    std::fs::write(src.join(&f), format!("thread {t} round {k}")).unwrap();
                    let hint = (k % 3 != 0).then(|| vec![f]);
                    pack_hinted(o, hint.as_deref(), &Progress::new()).unwrap();
                }
            });
        }
    });
    let r = pack_hinted(&o, None, &Progress::new()).unwrap();
    verified(&out, &km, &mac_string(&r.root_mac), "after concurrent packs");
    for t in 0..2 {
        for k in 0..15 {
            assert_eq!(
                read(&out, &km, &format!("/d/f{}", t * 20 + k)),
                format!("thread {t} round {k}").into_bytes()
            );
        }
    }
    assert_no_leftovers(&out, &km, "after concurrent packs");
    assert!(
        s.join("__ROOT.lock").exists(),
        "the lock file is kept next to the image"
    );
}

#[test]
fn opened_images_are_shared_until_their_metadata_changes_even_in_place() {
    use std::sync::Arc;
    let km = KeyMode::IntegrityOnly;
    let s = Scratch::new("open-shared");
    let src = s.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"one").unwrap();
    let out = s.join("__ROOT");
    let o = PackOpts {
        src: src.clone(),
        out_root: out.clone(),
        mac_file: s.join(".ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: true,
        fsync: false,
        crash_after: None,
    };
    pack_hinted(&o, None, &Progress::new()).unwrap();
    let mut g = Gcm::new();
    let a = Sefs::open_shared(&out, &km, &mut g).unwrap();
    let b = Sefs::open_shared(&out, &km, &mut g).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "unchanged metadata: the opened image is shared");
    // A warm pack rewrites metadata in place (same inode, same size, possibly the same mtime tick).
    let ino = metadata_ino(&out);
    std::fs::write(src.join("f"), b"two").unwrap();
    pack_hinted(&o, Some(&["f".to_string()]), &Progress::new()).unwrap();
    assert_eq!(metadata_ino(&out), ino);
    let c = Sefs::open_shared(&out, &km, &mut g).unwrap();
    assert!(!Arc::ptr_eq(&a, &c), "metadata rewritten in place: opened afresh");
    assert_eq!(c.read_data(&c.lookup("/f", &mut g).unwrap(), &mut g).unwrap(), b"two");
    // Mid-update (flag set, journal next to it): never cached, the journal decides.
    let mut m = std::fs::read(out.join("metadata")).unwrap();
    let mut journal = 0u64.to_le_bytes().to_vec();
    journal.extend_from_slice(&m[..NODE]);
    std::fs::write(out.join("metadata_recovery"), &journal).unwrap();
    m[93] = 1;
    std::fs::write(out.join("metadata"), &m).unwrap();
    let d = Sefs::open_shared(&out, &km, &mut g).unwrap();
    let e = Sefs::open_shared(&out, &km, &mut g).unwrap();
    assert!(!Arc::ptr_eq(&d, &e), "an image mid-update is not cached");
    assert_eq!(d.read_data(&d.lookup("/f", &mut g).unwrap(), &mut g).unwrap(), b"two");
}
