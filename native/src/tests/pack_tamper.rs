//! An output file written since the pack that made it (tampered with, damaged) is never reused:
//! the next pack rewrites it, whether it packs in place, into a directory seeded with hard links
//! to the previous image (a staged build), or takes the warm path, and the image verifies again.
use super::Scratch;
use crate::crypto::{mac_string, parse_dashed16};
use crate::pack::{forget_warm, pack, pack_hinted, seed_from, PackOpts};
use crate::pf::{KeyMode, WriteKey};
use crate::progress::Progress;
use crate::verify::verify;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn opts(src: &Path, out: &Path, mac: &Path) -> PackOpts {
    PackOpts {
        src: src.to_path_buf(),
        out_root: out.to_path_buf(),
        mac_file: mac.to_path_buf(),
        key: WriteKey::IntegrityOnly,
        incremental: true,
        fsync: false,
        crash_after: None,
    }
}

fn source(s: &Scratch) -> PathBuf {
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("d/f{i}")), format!("file {i} ").repeat(50 + i)).unwrap();
    }
    src
}

/// Flips byte 400 of `name` in place (same inode, same size): inside node 0's authenticated
/// part. File timestamps tick coarsely (a few ms): a write in the same tick as the packer's
/// leaves the mtime as it was, so the test waits one out first.
fn tamper(out: &Path, name: &str) {
    std::thread::sleep(std::time::Duration::from_millis(30));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(out.join(name))
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 400).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], 400).unwrap();
}

/// Some inode file of the image (32 hex digits), the same one every time.
fn inode_file(out: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.len() == 32)
        .collect();
    names.sort();
    names.swap_remove(names.len() / 2)
}

fn verifies(out: &Path, mac: &Path) -> bool {
    let text = std::fs::read_to_string(mac).unwrap();
    verify(out, &KeyMode::IntegrityOnly, parse_dashed16(&text), &Progress::new()).ok
}

#[test]
fn a_tampered_inode_file_is_rewritten_by_the_next_incremental_pack() {
    let s = Scratch::new("tamper-in-place");
    let src = source(&s);
    let (out, mac) = (s.join("__ROOT"), s.join(".ROOT_MAC"));
    let o = opts(&src, &out, &mac);
    pack(&o, &Progress::new()).unwrap();
    let name = inode_file(&out);
    tamper(&out, &name);
    assert!(!verifies(&out, &mac), "the tamper is detected");
    forget_warm();
    let r = pack(&o, &Progress::new()).unwrap();
    assert_eq!(r.files_packed, 1, "only the tampered file is written again");
    assert!(verifies(&out, &mac), "the image verifies after the pack");
    assert!(!out.join(&name).exists(), "the tampered file is gone");
    // And the pack after that reuses everything again.
    let r = pack(&o, &Progress::new()).unwrap();
    assert_eq!(r.files_packed, 0);
}

#[test]
fn a_staged_pack_seeded_from_a_tampered_image_rewrites_the_file() {
    let s = Scratch::new("tamper-seeded");
    let src = source(&s);
    let (prev, prev_mac) = (s.join("b1/__ROOT"), s.join("b1/.ROOT_MAC"));
    pack(&opts(&src, &prev, &prev_mac), &Progress::new()).unwrap();
    let name = inode_file(&prev);
    tamper(&prev, &name);
    forget_warm();
    // A staged build: the new directory shares the previous image's inodes through hard links.
    for n in 1..=2 {
        let (out, mac) = (
            s.join(&format!("b{}/__ROOT", n + 1)),
            s.join(&format!("b{}/.ROOT_MAC", n + 1)),
        );
        seed_from(&prev, &out).unwrap();
        let r = pack(&opts(&src, &out, &mac), &Progress::new()).unwrap();
        assert_eq!(r.files_packed, 1, "staged pack {n}: the tampered file is written again");
        assert!(verifies(&out, &mac), "staged pack {n}: the new image verifies");
    }
}

#[test]
fn the_warm_path_declines_when_a_file_of_the_image_changed() {
    let s = Scratch::new("tamper-warm");
    let src = source(&s);
    let (out, mac) = (s.join("__ROOT"), s.join(".ROOT_MAC"));
    let o = opts(&src, &out, &mac);
    let hinted = |paths: &[&str]| {
        let ch: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        pack_hinted(&o, Some(&ch), &Progress::new()).unwrap()
    };
    hinted(&[]);
    // An inode file the edit does not touch, then `metadata` (patched in place by the warm path).
    for (k, victim) in [inode_file(&out), "metadata".to_string()].iter().enumerate() {
        hinted(&[]); // this process's pack is the one on disk: the next hinted pack may be warm
        tamper(&out, victim);
        assert!(!verifies(&out, &mac), "{victim}: the tamper is detected");
        std::fs::write(src.join("d/f7"), format!("edit {k}")).unwrap();
        let r = hinted(&["d/f7"]);
        assert!(r.files_packed >= 1, "{victim}");
        assert!(verifies(&out, &mac), "{victim}: the image verifies after the pack");
        let text = std::fs::read_to_string(&mac).unwrap();
        assert_eq!(text.trim(), mac_string(&r.root_mac));
    }
}
