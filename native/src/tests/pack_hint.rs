//! Incremental pack with a `changed` hint: after edits, adds, deletes, renames, type and mode
//! changes the hinted image holds exactly the source tree and verifies; a wrong hint misses
//! changes but never yields an inconsistent image.
use super::Scratch;
use crate::crypto::{Gcm, Tag};
use crate::pack::{pack_hinted, PackOpts};
use crate::pf::{KeyMode, WriteKey};
use crate::progress::Progress;
use crate::sefs::{Sefs, T_DIR, T_FILE, T_SYMLINK};
use crate::verify::verify;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// path -> (type, mode, content or link target, link count); dirs carry no content.
type Tree = BTreeMap<String, (u32, u16, Vec<u8>, u16)>;

fn source_tree(dir: &Path, at: &str, out: &mut Tree) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let path = if at == "/" {
            format!("/{name}")
        } else {
            format!("{at}/{name}")
        };
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let mode = (m.permissions().mode() & 0o777) as u16;
        if m.is_dir() {
            out.insert(path.clone(), (T_DIR, mode, vec![], 0));
            source_tree(&e.path(), &path, out);
        } else if m.file_type().is_symlink() {
            out.insert(
                path,
                (
                    T_SYMLINK,
                    mode,
                    std::fs::read_link(e.path())
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                    1,
                ),
            );
        } else {
            out.insert(path, (T_FILE, mode, std::fs::read(e.path()).unwrap(), m.nlink() as u16));
        }
    }
}

fn image_tree(root: &Path, km: &KeyMode) -> Tree {
    let mut g = Gcm::new();
    let fs = Sefs::open(root, km, &mut g).unwrap();
    let (entries, problems) = fs.walk(&mut g).unwrap();
    assert!(problems.is_empty());
    let mut t = Tree::new();
    for (path, i) in entries.into_iter().skip(1) {
        let data = if i.typ == T_DIR {
            vec![]
        } else {
            fs.read_data(&i, &mut g).unwrap()
        };
        t.insert(
            path,
            (
                i.typ,
                if i.typ == T_SYMLINK { 0o777 } else { i.mode },
                data,
                if i.typ == T_DIR { 0 } else { i.nlinks },
            ),
        );
    }
    t
}

fn src_tree(src: &Path) -> Tree {
    let mut t = Tree::new();
    source_tree(src, "/", &mut t);
    for v in t.values_mut() {
        if v.0 == T_SYMLINK {
            v.1 = 0o777;
        }
    }
    t
}

fn check(out: &Path, km: &KeyMode, mac: Tag, src: &Path, what: &str) {
    let v = verify(out, km, Some(mac), &Progress::new());
    assert!(
        v.ok,
        "{what}: {:?}",
        v.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
    );
    assert_eq!(
        image_tree(out, km),
        src_tree(src),
        "{what}: image tree differs from the source"
    );
}

fn hinted(o: &PackOpts, changed: &[&str]) -> crate::pack::PackResult {
    let ch: Vec<String> = changed.iter().map(|s| s.to_string()).collect();
    pack_hinted(o, Some(&ch), &Progress::new()).unwrap()
}

#[test]
fn hinted_incremental_tracks_edits_adds_deletes_renames() {
    for key in [WriteKey::IntegrityOnly, WriteKey::UserKey([7u8; 16])] {
        let km = KeyMode::from(&key);
        let s = Scratch::new("hint");
        let src = s.join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(src.join("c")).unwrap();
        for i in 0..30 {
            std::fs::write(src.join(format!("c/f{i}")), format!("file {i}")).unwrap();
        }
        std::fs::write(src.join("a/one"), b"one").unwrap();
        std::fs::write(src.join("a/b/two"), b"two").unwrap();
        std::os::unix::fs::symlink("../c/f1", src.join("a/link")).unwrap();
        let out = s.join("__ROOT");
        let o = PackOpts {
            src: src.clone(),
            out_root: out.clone(),
            mac_file: s.join(".ROOT_MAC"),
            key,
            incremental: true,
            fsync: false,
            crash_after: None,
        };
        // The first pack walks everything (no listings yet, even with a hint).
        let r = hinted(&o, &["a/one"]);
        check(&out, &km, r.root_mac, &src, "first pack");

        std::fs::write(src.join("a/one"), b"ONE, edited").unwrap();
        let r = hinted(&o, &["a/one"]);
        assert_eq!(r.files_packed, 1, "an edit rewrites only the file");
        check(&out, &km, r.root_mac, &src, "edit");

        std::fs::create_dir_all(src.join("n/m")).unwrap();
        std::fs::write(src.join("n/m/x"), b"new in a new dir").unwrap();
        let r = hinted(&o, &["n/m/x"]);
        check(&out, &km, r.root_mac, &src, "add under new directories");

        std::fs::remove_file(src.join("a/b/two")).unwrap();
        let r = hinted(&o, &["/a/b/two"]);
        check(&out, &km, r.root_mac, &src, "delete");

        std::fs::create_dir_all(src.join("c/sub")).unwrap();
        std::fs::rename(src.join("a/one"), src.join("c/sub/one2")).unwrap();
        std::fs::rename(src.join("c/f2"), src.join("c/f2-renamed")).unwrap();
        let r = hinted(&o, &["a/one", "c/sub/one2", "c/f2", "c/f2-renamed"]);
        check(&out, &km, r.root_mac, &src, "renames");

        // A directory replaced by a file, and the reverse.
        std::fs::remove_dir_all(src.join("n")).unwrap();
        std::fs::write(src.join("n"), b"now a file").unwrap();
        std::fs::remove_file(src.join("c/f3")).unwrap();
        std::fs::create_dir(src.join("c/f3")).unwrap();
        std::fs::write(src.join("c/f3/inner"), b"inner").unwrap();
        let r = hinted(&o, &["n", "c/f3"]);
        check(&out, &km, r.root_mac, &src, "type changes");

        // Mode change, a hard link, a symlink retarget.
        std::fs::set_permissions(src.join("c/f4"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::hard_link(src.join("c/f5"), src.join("a/hard")).unwrap();
        std::fs::remove_file(src.join("a/link")).unwrap();
        std::os::unix::fs::symlink("../c/f6", src.join("a/link")).unwrap();
        let r = hinted(&o, &["c/f4", "a/hard", "c/f5", "a/link"]);
        check(&out, &km, r.root_mac, &src, "mode, hard link, symlink");

        // Hinting a directory re-reads its whole subtree.
        std::fs::write(src.join("c/sub/deep"), b"deep").unwrap();
        std::fs::write(src.join("c/f7"), b"f7 edited").unwrap();
        std::fs::remove_file(src.join("c/f8")).unwrap();
        let r = hinted(&o, &["c"]);
        check(&out, &km, r.root_mac, &src, "directory hint");

        // An empty hint: nothing re-examined, nothing rewritten.
        let r = hinted(&o, &[]);
        assert_eq!(r.files_packed, 0);
        check(&out, &km, r.root_mac, &src, "empty hint");
    }
}

#[test]
fn wrong_hint_misses_changes_but_keeps_the_image_consistent() {
    let km = KeyMode::IntegrityOnly;
    let s = Scratch::new("hint-wrong");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..10 {
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
    let r0 = hinted(&o, &[]);
    let before = image_tree(&out, &km);
    // Unhinted: an edit, an add and a delete; the hint names something else.
    std::fs::write(src.join("d/f1"), b"edited, not hinted").unwrap();
    std::fs::write(src.join("d/new"), b"added, not hinted").unwrap();
    std::fs::remove_file(src.join("d/f2")).unwrap();
    std::fs::write(src.join("d/f3"), b"edited and hinted").unwrap();
    let r = hinted(&o, &["d/f3", "no/such/path"]);
    assert_ne!(r.root_mac, r0.root_mac);
    let v = verify(&out, &km, Some(r.root_mac), &Progress::new());
    assert!(v.ok, "{:?}", v.problems.iter().map(|p| &p.message).collect::<Vec<_>>());
    let got = image_tree(&out, &km);
    let mut want = before.clone();
    want.get_mut("/d/f3").unwrap().2 = b"edited and hinted".to_vec();
    assert_eq!(
        got, want,
        "only the hinted change is packed; the unhinted ones are missed, not half-applied"
    );
    // A pack without a hint walks the tree and catches up.
    let r = pack_hinted(&o, None, &Progress::new()).unwrap();
    check(&out, &km, r.root_mac, &src, "unhinted pack after a wrong hint");
    // A hint that leaves the source is refused before anything is written; the image stays.
    let ch = vec!["../outside".to_string()];
    let e = pack_hinted(&o, Some(&ch), &Progress::new())
        .err()
        .expect("`..` in a hint is refused");
    assert!(e.to_string().contains(".."), "{e}");
    check(&out, &km, r.root_mac, &src, "after a refused hint");
}
