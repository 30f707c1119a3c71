//! Verify the real image, tamper with copies, pack (full, incremental, crash) and reproduce it.
use super::{copy_tree, wamr, Scratch};
use crate::crypto::{mac_string, parse_dashed16, Gcm};
use crate::pack::{pack, PackOpts};
use crate::pf::{KeyMode, WriteKey};
use crate::progress::Progress;
use crate::sefs::Sefs;
use crate::verify::verify;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn real_root() -> std::path::PathBuf {
    wamr().join("build/mount/__ROOT")
}
fn real_mac() -> [u8; 16] {
    parse_dashed16(&std::fs::read_to_string(wamr().join("build/mount/.ROOT_MAC")).unwrap()).unwrap()
}

#[test]
fn verify_real_image_reports_exactly_the_missing_files() {
    let p = Progress::new();
    let r = verify(&real_root(), &KeyMode::IntegrityOnly, Some(real_mac()), &p);
    assert_eq!(r.root_mac, Some(real_mac()));
    let mut missing: Vec<&str> = r
        .problems
        .iter()
        .map(|p| {
            assert_eq!(p.kind, "missing", "{}", p.message);
            p.path.as_str()
        })
        .collect();
    missing.sort();
    assert_eq!(
        missing,
        [
            "/bin/mywamrc",
            "/bin/wamrc",
            "/lib/libstdc++.so.6",
            "/opt/occlum/glibc/lib/libc.so.6",
            "/opt/occlum/glibc/lib/libm.so.6"
        ]
    );
    assert_eq!(r.files, 36); // metadata + 35 inodes
    assert!(r.note.is_some());
    assert_eq!(p.done.load(std::sync::atomic::Ordering::Relaxed), 35);
    // A different expected MAC is a mismatch at the root.
    let r = verify(&real_root(), &KeyMode::IntegrityOnly, Some([1u8; 16]), &p);
    assert!(r.problems.iter().any(|p| p.kind == "mac-mismatch" && p.path == "/"));
}

#[test]
fn tampering_is_reported_by_path_and_node() {
    let s = Scratch::new("tamper");
    let root = s.join("__ROOT");
    copy_tree(&real_root(), &root);
    // Data node 3 (physical 5) of /bin/hello.wasm (inode 5) and node 0 of /etc/hosts (inode 0x0b).
    let f = root.join("05000000000000000000000000000000");
    let mut b = std::fs::read(&f).unwrap();
    b[5 * 4096 + 100] ^= 1;
    std::fs::write(&f, b).unwrap();
    let h = root.join("0b000000000000000000000000000000");
    let mut b = std::fs::read(&h).unwrap();
    b[95 + 320] ^= 1;
    std::fs::write(&h, b).unwrap();
    // Swap two same-size inode files: each is intact but named wrongly.
    let r = verify(&root, &KeyMode::IntegrityOnly, Some(real_mac()), &Progress::new());
    let wasm = r
        .problems
        .iter()
        .find(|p| p.path == "/bin/hello.wasm")
        .expect("hello.wasm reported");
    assert_eq!((wasm.kind, wasm.node), ("corrupt", Some(5)));
    assert_eq!(wasm.host_file.as_deref(), Some("05000000000000000000000000000000"));
    let hosts = r
        .problems
        .iter()
        .find(|p| p.path == "/etc/hosts")
        .expect("hosts reported");
    assert_eq!((hosts.kind, hosts.node), ("corrupt", Some(0)));
    // Forging the PF MAC (possible: integrity-only GMAC key is public) moves the break up a level.
    let mut g = Gcm::new();
    let mut b = std::fs::read(&h).unwrap();
    let tag = g.gmac(&[0u8; 16], &b[95..95 + 3392]);
    b[77..93].copy_from_slice(&tag);
    std::fs::write(&h, b).unwrap();
    let r = verify(&root, &KeyMode::IntegrityOnly, Some(real_mac()), &Progress::new());
    let hosts = r.problems.iter().find(|p| p.path == "/etc/hosts").unwrap();
    assert_eq!(hosts.kind, "mac-mismatch");
    // A wrong key is reported, not thrown.
    let r = verify(&root, &KeyMode::UserKey([1u8; 16]), None, &Progress::new());
    assert_eq!(r.problems[0].kind, "wrong-key");
}

/// The fixture's image/ is a git copy: empty dirs are gone, the 5 big files are absent and one
/// symlink was materialised as a file. Rebuild the tree sefs-cli saw, from the image's own listing.
fn stage_source(dst: &Path) {
    copy_tree(&wamr().join("image"), dst);
    for d in ["dev", "host", "proc", "root", "tmp"] {
        std::fs::create_dir_all(dst.join(d)).unwrap();
    }
    for f in [
        "bin/mywamrc",
        "bin/wamrc",
        "lib/libstdc++.so.6",
        "opt/occlum/glibc/lib/libc.so.6",
        "opt/occlum/glibc/lib/libm.so.6",
    ] {
        std::fs::write(dst.join(f), b"placeholder for a file missing from the fixture").unwrap();
    }
    let l = dst.join("opt/occlum/glibc/lib/ld-linux-x86-64.so.2");
    let target = std::fs::read_to_string(&l).unwrap();
    std::fs::remove_file(&l).unwrap();
    std::os::unix::fs::symlink(target.trim_end_matches('\n'), &l).unwrap();
    // The read-only copy lost the permission bits (all 0555/0444); restore the ones the image
    // records so that the metadata comparison below covers everything else.
    let mut g = Gcm::new();
    let img = Sefs::open(&real_root(), &KeyMode::IntegrityOnly, &mut g).unwrap();
    for (path, ino) in img.walk(&mut g).unwrap().0 {
        if path != "/" && ino.typ != crate::sefs::T_SYMLINK {
            std::fs::set_permissions(dst.join(&path[1..]), std::fs::Permissions::from_mode(ino.mode as u32)).unwrap();
        }
    }
}

#[test]
fn packing_image_dir_reproduces_the_real_inode_files() {
    let s = Scratch::new("repro");
    let src = s.join("image");
    stage_source(&src);
    let out = s.join("build/mount/__ROOT");
    let macf = s.join("build/mount/.ROOT_MAC");
    let opts = PackOpts {
        src: src.clone(),
        out_root: out.clone(),
        mac_file: macf.clone(),
        key: WriteKey::IntegrityOnly,
        incremental: false,
        fsync: false,
        crash_after: None,
    };
    let r = pack(&opts, &Progress::new()).unwrap();
    assert_eq!(r.inodes, 35);
    let mut same = 0;
    let mut differ = vec![];
    for e in std::fs::read_dir(real_root()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name == "metadata" {
            continue;
        }
        if std::fs::read(real_root().join(&name)).unwrap() == std::fs::read(out.join(&name)).unwrap() {
            same += 1;
        } else {
            differ.push(name);
        }
    }
    // /bin/writefile (inode 8): the fixture's image/ source (8256 bytes) is not what was built (8216).
    assert_eq!(differ, ["08000000000000000000000000000000"]);
    assert_eq!(same, 29);
    // metadata: records differ only in the 0.28-era garbage padding (bytes 28..31, spec 2.3) and in
    // the size/MAC of the inodes whose content differs (writefile, placeholders): hence the root MAC.
    let mut g = Gcm::new();
    let a = Sefs::open(&real_root(), &KeyMode::IntegrityOnly, &mut g).unwrap();
    let b = Sefs::open(&out, &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert_eq!(a.meta.len(), b.meta.len());
    let diffs: Vec<usize> = (0..a.meta.len()).filter(|&i| a.meta[i] != b.meta[i]).collect();
    for &i in &diffs {
        let (id, off) = (i / 128, i % 128);
        // Inodes 6, 7, 0x13, 0x1d, 0x1f are the placeholders for the files missing from the copy.
        assert!(
            (28..32).contains(&off) || [8, 6, 7, 0x13, 0x1d, 0x1f].contains(&id),
            "unexpected metadata difference at {} (inode {}, offset {})",
            i,
            id,
            off
        );
    }
    assert!(diffs.iter().any(|&i| i % 128 >= 28 && i % 128 < 32));
    // The packed image verifies against the .ROOT_MAC it wrote.
    let mac = parse_dashed16(&std::fs::read_to_string(&macf).unwrap()).unwrap();
    assert_eq!(mac, r.root_mac);
    let v = verify(&out, &KeyMode::IntegrityOnly, Some(mac), &Progress::new());
    assert!(v.ok, "{:?}", v.problems.iter().map(|p| &p.message).collect::<Vec<_>>());
    // Determinism: packing again gives the same root MAC.
    let s2 = Scratch::new("repro2");
    let o2 = PackOpts {
        out_root: s2.join("__ROOT"),
        mac_file: s2.join(".ROOT_MAC"),
        ..opts
    };
    assert_eq!(pack(&o2, &Progress::new()).unwrap().root_mac, r.root_mac);
}

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("a/one"), vec![1u8; 10_000]).unwrap();
    std::fs::write(dir.join("a/b/two"), b"two").unwrap();
    std::fs::write(dir.join("zero"), b"").unwrap();
    std::fs::write(dir.join("x".repeat(255)), b"long name").unwrap();
    std::fs::set_permissions(dir.join("a/b/two"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("../zero", dir.join("a/link")).unwrap();
    std::fs::hard_link(dir.join("a/one"), dir.join("hard")).unwrap();
}

fn read(root: &Path, key: &KeyMode, path: &str) -> Vec<u8> {
    let mut g = Gcm::new();
    let s = Sefs::open(root, key, &mut g).unwrap();
    let i = s.lookup(path, &mut g).unwrap();
    s.read_data(&i, &mut g).unwrap()
}

#[test]
fn pack_modes_links_incremental_and_crash_safety() {
    for key in [WriteKey::IntegrityOnly, WriteKey::UserKey([3u8; 16])] {
        let km = KeyMode::from(&key);
        let s = Scratch::new("pack");
        let src = s.join("src");
        tree(&src);
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
        let r1 = pack(&o, &Progress::new()).unwrap();
        assert_eq!(r1.files_reused, 0);
        let mut g = Gcm::new();
        let fs = Sefs::open(&out, &km, &mut g).unwrap();
        let one = fs.lookup("/a/one", &mut g).unwrap();
        let hard = fs.lookup("/hard", &mut g).unwrap();
        assert_eq!((one.id, one.nlinks), (hard.id, 2));
        assert_eq!(fs.lookup("/a/b/two", &mut g).unwrap().mode, 0o600);
        assert_eq!(
            fs.read_data(&fs.lookup("/a/link", &mut g).unwrap(), &mut g).unwrap(),
            b"../zero"
        );
        assert_eq!(fs.lookup("/empty", &mut g).unwrap().blocks, 2);
        assert_eq!(read(&out, &km, &format!("/{}", "x".repeat(255))), b"long name");
        // Incremental: change one file; only it, its directory chain and metadata are rewritten.
        std::fs::write(src.join("a/b/two"), b"TWO!").unwrap();
        let r2 = pack(&o, &Progress::new()).unwrap();
        assert_eq!(
            r2.files_packed, 1,
            "only the changed file is rewritten (dirs unchanged)"
        );
        assert!(r2.files_reused >= 8);
        assert_eq!(read(&out, &km, "/a/b/two"), b"TWO!");
        assert!(verify(&out, &km, Some(r2.root_mac), &Progress::new()).ok);
        // Adding a file rewrites its directory too.
        std::fs::write(src.join("a/new"), b"new").unwrap();
        let r3 = pack(&o, &Progress::new()).unwrap();
        assert_eq!(r3.files_packed, 2);
        // Simulated crash after each commit step: the image at outRoot stays consistent with
        // .ROOT_MAC (after recovery, which every pack and open runs first).
        for (step, incremental) in (1..=4).flat_map(|s| [(s, true), (s, false)]) {
            let step: u32 = step;
            std::fs::write(
                src.join("a/one"),
                vec![step as u8 + if incremental { 0 } else { 100 }; 5000],
            )
            .unwrap();
            let before = std::fs::read_to_string(&macf).unwrap();
            let e = pack(
                &PackOpts {
                    crash_after: Some(step),
                    ..PackOpts {
                        src: src.clone(),
                        out_root: out.clone(),
                        mac_file: macf.clone(),
                        key,
                        incremental,
                        fsync: false,
                        crash_after: None,
                    }
                },
                &Progress::new(),
            );
            assert!(e.is_err());
            crate::pack::recover(&out, &macf, true).unwrap();
            let mac = parse_dashed16(&std::fs::read_to_string(&macf).unwrap()).unwrap();
            let v = verify(&out, &km, Some(mac), &Progress::new());
            assert!(
                v.ok,
                "step {step}: {:?}",
                v.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
            );
            let content = read(&out, &km, "/a/one");
            if step <= 2 {
                assert_eq!(mac_string(&mac), before.trim(), "step {step}: old image kept");
            } else {
                assert_eq!(
                    content,
                    vec![step as u8 + if incremental { 0 } else { 100 }; 5000],
                    "step {step}: new image completed"
                );
            }
            // A following pack cleans up everything the crash left behind.
            pack(
                &PackOpts {
                    src: src.clone(),
                    out_root: out.clone(),
                    mac_file: macf.clone(),
                    key,
                    incremental: true,
                    fsync: false,
                    crash_after: None,
                },
                &Progress::new(),
            )
            .unwrap();
            let leftovers: Vec<_> = std::fs::read_dir(&s.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains(".tmp-") || n.ends_with(".new"))
                .collect();
            assert!(leftovers.is_empty(), "{:?}", leftovers);
            // No orphan host files: exactly metadata, the pack state and one file per inode.
            let mut g = Gcm::new();
            let fs = Sefs::open(&out, &km, &mut g).unwrap();
            let mut want: Vec<String> = fs.walk(&mut g).unwrap().0.iter().map(|(_, i)| i.host_file()).collect();
            want.sort();
            want.dedup();
            let mut have: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.len() == 32)
                .collect();
            have.sort();
            assert_eq!(have, want, "step {step} incremental {incremental}");
        }
    }
}

#[test]
fn pack_refuses_unrepresentable_input() {
    let s = Scratch::new("bad");
    let src = s.join("src");
    std::fs::create_dir_all(&src).unwrap();
    // (Names over 255 bytes cannot exist on Linux file systems; the 255-byte limit is checked in scan.)
    let o = PackOpts {
        src: src.clone(),
        out_root: s.join("__ROOT"),
        mac_file: s.join(".ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: false,
        fsync: false,
        crash_after: None,
    };
    let _l = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let e = pack(&o, &Progress::new()).err().unwrap();
    assert!(e.msg.contains("socket"), "{}", e.msg);
    assert!(!s.join("__ROOT").exists());
    // Never replaces a directory or file that is not an image / MAC file.
    std::fs::remove_file(src.join("sock")).unwrap();
    std::fs::create_dir_all(s.join("precious")).unwrap();
    std::fs::write(s.join("precious/notes.txt"), b"keep me").unwrap();
    let e = pack(
        &PackOpts {
            out_root: s.join("precious"),
            ..PackOpts {
                src: src.clone(),
                out_root: s.join("x"),
                mac_file: s.join(".ROOT_MAC"),
                key: WriteKey::IntegrityOnly,
                incremental: false,
                fsync: false,
                crash_after: None,
            }
        },
        &Progress::new(),
    )
    .err()
    .unwrap();
    assert!(e.msg.contains("refusing"), "{}", e.msg);
    assert_eq!(std::fs::read(s.join("precious/notes.txt")).unwrap(), b"keep me");
    let e = pack(
        &PackOpts {
            mac_file: s.join("precious/notes.txt"),
            ..PackOpts {
                src: src.clone(),
                out_root: s.join("y"),
                mac_file: s.join("z"),
                key: WriteKey::IntegrityOnly,
                incremental: false,
                fsync: false,
                crash_after: None,
            }
        },
        &Progress::new(),
    )
    .err()
    .unwrap();
    assert!(e.msg.contains("not a root MAC file"), "{}", e.msg);
}

#[test]
#[ignore]
fn bench_write_pf() {
    let mut g = Gcm::new();
    let data = vec![7u8; 104857];
    for key in [WriteKey::IntegrityOnly, WriteKey::UserKey([1u8; 16])] {
        let t = std::time::Instant::now();
        for _ in 0..2000 {
            let _ = crate::pf::write_pf("02000000000000000000000000000000", &data, &key, &mut g).unwrap();
        }
        eprintln!("{:?}: {:?} for 200 MiB", key, t.elapsed());
    }
}

#[test]
#[ignore]
fn bench_verify_phases() {
    let s = Scratch::new("bv");
    let src = s.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..500 {
        std::fs::write(src.join(format!("f{i}")), vec![i as u8; 104857]).unwrap();
    }
    for key in [WriteKey::IntegrityOnly, WriteKey::UserKey([1u8; 16])] {
        let out = s.join("out");
        let _ = std::fs::remove_dir_all(&out);
        pack(
            &PackOpts {
                src: src.clone(),
                out_root: out.clone(),
                mac_file: s.join("mac"),
                key,
                incremental: false,
                fsync: false,
                crash_after: None,
            },
            &Progress::new(),
        )
        .unwrap();
        let _ = std::fs::remove_file(s.join("mac"));
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().len() == 32)
            .collect();
        let t = std::time::Instant::now();
        let mut n = 0;
        for p in &names {
            n += std::fs::read(p).unwrap().len();
        }
        let read = t.elapsed();
        let mut g = Gcm::new();
        let km = KeyMode::from(&key);
        let t = std::time::Instant::now();
        for p in &names {
            let f = crate::pf::open_path(p, &km, &mut g).unwrap();
            f.verify_all(&mut g).unwrap();
        }
        let one = t.elapsed();
        let t = std::time::Instant::now();
        let r = verify(&out, &km, None, &Progress::new());
        assert!(r.ok);
        let par = t.elapsed();
        let mb = n as f64 / 1048576.0;
        eprintln!(
            "{:?}: {:.0} MiB; read only {:.0} MiB/s; read+verify 1 thread {:.0} MiB/s; verify() {:.0} MiB/s",
            km.describe(),
            mb,
            mb / read.as_secs_f64(),
            mb / one.as_secs_f64(),
            mb / par.as_secs_f64()
        );
    }
}

#[test]
fn incremental_into_a_hard_link_seeded_copy_leaves_the_original_intact() {
    let s = Scratch::new("seed");
    let src = s.join("src");
    tree(&src);
    let a = s.join("a/__ROOT");
    let ra = pack(
        &PackOpts {
            src: src.clone(),
            out_root: a.clone(),
            mac_file: s.join("a/.ROOT_MAC"),
            key: WriteKey::IntegrityOnly,
            incremental: true,
            fsync: false,
            crash_after: None,
        },
        &Progress::new(),
    )
    .unwrap();
    let b = s.join("b/__ROOT");
    crate::pack::seed_from(&a, &b).unwrap();
    std::fs::write(src.join("zero"), b"now not empty").unwrap();
    let ob = PackOpts {
        src: src.clone(),
        out_root: b.clone(),
        mac_file: s.join("b/.ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: true,
        fsync: false,
        crash_after: None,
    };
    let rb = pack(&ob, &Progress::new()).unwrap();
    assert_eq!(rb.files_packed, 1);
    assert_eq!(read(&b, &KeyMode::IntegrityOnly, "/zero"), b"now not empty");
    assert!(verify(&a, &KeyMode::IntegrityOnly, Some(ra.root_mac), &Progress::new()).ok);
    assert_eq!(read(&a, &KeyMode::IntegrityOnly, "/zero"), b"");
    // The warm path into the seeded copy (inode files still shared with `a`) leaves `a` intact too.
    std::fs::write(src.join("zero"), b"edited again").unwrap();
    let rb2 = crate::pack::pack_hinted(&ob, Some(&["zero".to_string()]), &Progress::new()).unwrap();
    assert_eq!(rb2.files_packed, 1);
    assert_eq!(read(&b, &KeyMode::IntegrityOnly, "/zero"), b"edited again");
    assert!(verify(&b, &KeyMode::IntegrityOnly, Some(rb2.root_mac), &Progress::new()).ok);
    assert!(verify(&a, &KeyMode::IntegrityOnly, Some(ra.root_mac), &Progress::new()).ok);
}
