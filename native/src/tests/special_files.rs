//! Special files in an image (issue 11, defect 2): a FIFO, a symlink to /dev/zero or a sparse
//! file claiming gigabytes in place of `metadata`, an inode file, a recovery journal or
//! `.ROOT_MAC.new` must give a clear error at once: never block, never read without bound.
use super::Scratch;
use crate::crypto::Gcm;
use crate::ops::{dispatch, Out};
use crate::pack::{pack, PackOpts};
use crate::pf::{self, KeyMode, WriteKey};
use crate::progress::Progress;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

extern "C" {
    fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

fn make_fifo(p: &Path) {
    let _ = std::fs::remove_file(p);
    let c = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", p.display());
}

fn link_to_dev_zero(p: &Path) {
    let _ = std::fs::remove_file(p);
    std::os::unix::fs::symlink("/dev/zero", p).unwrap();
}

/// A small packed image: / with d/ (file a) and top; returns (scratch, __ROOT).
fn image(tag: &str) -> (Scratch, PathBuf) {
    let s = Scratch::new(tag);
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/a"), b"hello\n").unwrap();
    std::fs::write(src.join("top"), vec![7u8; 10_000]).unwrap();
    let root = s.join("mount/__ROOT");
    let o = PackOpts {
        src,
        out_root: root.clone(),
        mac_file: s.join("mount/.ROOT_MAC"),
        key: WriteKey::IntegrityOnly,
        incremental: false,
        fsync: false,
        crash_after: None,
    };
    pack(&o, &Progress::new()).unwrap();
    (s, root)
}

/// Runs an engine operation on another thread; its error message, failing the test if it blocks.
fn op_error(op: &'static str, args: Vec<String>) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = dispatch(op, &args, &Progress::new());
        let _ = tx.send(match r {
            Ok(Out::Json(j)) => format!("ok: {}", j),
            Ok(Out::Bytes(b)) => format!("ok: {} bytes", b.len()),
            Err(e) => e.msg,
        });
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("`{}` blocked on a special file", op))
}

fn args(root: &Path, rest: &[&str]) -> Vec<String> {
    let mut a = vec![root.display().to_string(), "io".to_string()];
    a.extend(rest.iter().map(|s| s.to_string()));
    a
}

/// The host file of `path` in the image.
fn host_file(root: &Path, path: &str) -> PathBuf {
    let Out::Json(j) = dispatch("stat", &args(root, &[path]), &Progress::new()).unwrap() else {
        panic!()
    };
    let i = j.find("\"hostFile\":\"").unwrap() + 12;
    root.join(&j[i..i + 32])
}

#[test]
fn special_files_in_place_of_metadata_are_refused_without_blocking() {
    let (_s, root) = image("special-meta");
    let meta = root.join("metadata");
    let saved = std::fs::read(&meta).unwrap();
    for (what, make, expect) in [
        ("fifo", make_fifo as fn(&Path), "FIFO"),
        ("link to /dev/zero", link_to_dev_zero as fn(&Path), "symbolic link"),
    ] {
        make(&meta);
        for op in ["info", "list", "walk", "verify"] {
            let a = if op == "list" {
                args(&root, &["/"])
            } else {
                args(&root, &[])
            };
            let m = op_error(op, a);
            assert!(
                m.contains(expect) && m.contains("metadata") && m.contains("rebuild"),
                "{} with {}: {}",
                op,
                what,
                m
            );
        }
    }
    // A sparse file whose (authenticated, re-sealed) header claims 3 GiB: refused before reading.
    let mut forged = saved.clone();
    forged[95 + 260..95 + 268].copy_from_slice(&(3u64 << 30).to_le_bytes());
    let tag = Gcm::new().gmac(&[0u8; 16], &forged[95..95 + 3392]);
    forged[77..93].copy_from_slice(&tag);
    let _ = std::fs::remove_file(&meta);
    std::fs::write(&meta, &forged).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&meta)
        .unwrap()
        .set_len((3u64 << 30) + (64 << 20))
        .unwrap();
    let m = op_error("info", args(&root, &[]));
    assert!(m.contains("claims 3221225472 bytes"), "{}", m);
    // The real metadata followed by gigabytes of sparse trailing nodes: only its own nodes are read.
    std::fs::write(&meta, &saved).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&meta)
        .unwrap()
        .set_len(4u64 << 30)
        .unwrap();
    assert!(op_error("list", args(&root, &["/d"])).contains("\"name\":\"a\""));
}

#[test]
fn special_inode_files_journals_and_pending_macs_are_refused_without_blocking() {
    let (_s, root) = image("special-inode");
    let file = host_file(&root, "/d/a");
    let dir = host_file(&root, "/d");
    let saved = std::fs::read(&dir).unwrap();
    for (make, expect) in [
        (make_fifo as fn(&Path), "FIFO"),
        (link_to_dev_zero as fn(&Path), "symbolic link"),
    ] {
        let _ = std::fs::remove_file(&dir);
        std::fs::write(&dir, &saved).unwrap();
        make(&file);
        for (op, rest) in [("read", vec!["/d/a"]), ("readRange", vec!["/d/a", "0", "100"])] {
            let m = op_error(op, args(&root, &rest));
            assert!(
                m.contains(expect) && m.contains(&file.file_name().unwrap().to_string_lossy().to_string()),
                "{}: {}",
                op,
                m
            );
        }
        let v = op_error("verify", args(&root, &[]));
        assert!(v.contains(expect), "verify: {}", v);
        make(&dir);
        let m = op_error("list", args(&root, &["/d"]));
        assert!(m.contains(expect), "list: {}", m);
    }
    // A pending .ROOT_MAC.new and a pack journal that are FIFOs are ignored by readers.
    let (_s2, root2) = image("special-mac");
    make_fifo(&root2.parent().unwrap().join(".ROOT_MAC.new"));
    make_fifo(&root2.join(crate::pack::JOURNAL_FILE));
    assert!(op_error("info", args(&root2, &[])).starts_with("ok: "));
    // A PF whose update flag is set with a FIFO as its journal: a recovery error, not a hang.
    let (_s3, root3) = image("special-journal");
    let top = host_file(&root3, "/top");
    let mut b = std::fs::read(&top).unwrap();
    b[93] = 1;
    std::fs::write(&top, b).unwrap();
    let mut j = top.as_os_str().to_owned();
    j.push("_recovery");
    make_fifo(Path::new(&j));
    let m = op_error("read", args(&root3, &["/top"]));
    assert!(m.contains("recovery"), "{}", m);
    assert!(pf::open_path(&top, &KeyMode::IntegrityOnly, &mut Gcm::new()).is_err());
}
