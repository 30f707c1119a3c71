//! Older SEFS layouts (spec 2.3): an image packed today is rewritten into the 72-byte (u32 times)
//! and 68-byte (u32 size) inode layouts, with 260- or 264-byte directory entries, and must read
//! back identically with the era detected.
use super::Scratch;
use crate::crypto::Gcm;
use crate::pack::{pack, PackOpts};
use crate::pf::{self, KeyMode, WriteKey};
use crate::progress::Progress;
use crate::sefs::{Sefs, T_DIR};

fn put(b: &mut [u8], off: usize, v: &[u8]) {
    b[off..off + v.len()].copy_from_slice(v);
}

/// Rewrite `root` (112-byte era) into an older era.
fn downgrade(root: &std::path::Path, rec_len: usize, dirent: usize) {
    let mut g = Gcm::new();
    let fs = Sefs::open(root, &KeyMode::IntegrityOnly, &mut g).unwrap();
    let (all, _) = fs.walk(&mut g).unwrap();
    let mut meta = fs.meta.clone();
    for (_, ino) in &all {
        let mut mac = ino.inode_mac;
        if ino.typ == T_DIR && dirent == 260 {
            // Drop the type field of every entry and re-seal the directory file.
            let f = pf::open_path(&fs.host_path(ino), &KeyMode::IntegrityOnly, &mut g).unwrap();
            let data = f.read_all(&mut g, &mut |_| {}).unwrap();
            let old: Vec<u8> = data.chunks(264).flat_map(|e| e[..260].to_vec()).collect();
            let (bytes, m) = pf::write_pf(&ino.host_file(), &old, &WriteKey::IntegrityOnly, &mut g).unwrap();
            std::fs::write(fs.host_path(ino), bytes).unwrap();
            mac = m;
        }
        let off = ino.id as usize * 128;
        if meta.len() < off + 128 {
            meta.resize(off + 128, 0);
        }
        let r = &mut meta[off..off + 128];
        r.fill(0);
        if rec_len == 68 {
            put(r, 0, &(ino.size as u32).to_le_bytes());
            put(r, 4, &ino.typ.to_le_bytes());
            put(r, 8, &ino.mode.to_le_bytes());
            put(r, 10, &ino.nlinks.to_le_bytes());
            put(r, 12, &ino.blocks.to_le_bytes());
            put(r, 36, &ino.disk_filename);
            put(r, 52, &mac);
        } else {
            put(r, 0, &ino.size.to_le_bytes());
            put(r, 8, &ino.typ.to_le_bytes());
            put(r, 12, &ino.mode.to_le_bytes());
            put(r, 14, &ino.nlinks.to_le_bytes());
            put(r, 16, &ino.blocks.to_le_bytes());
            put(r, 40, &ino.disk_filename);
            put(r, 56, &mac);
        }
    }
    let (bytes, _) = pf::write_pf("metadata", &meta, &WriteKey::IntegrityOnly, &mut g).unwrap();
    std::fs::write(root.join("metadata"), bytes).unwrap();
}

#[test]
fn older_layouts_are_detected_and_read() {
    let s = Scratch::new("eras");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    std::fs::write(src.join("d/f"), vec![3u8; 20_000]).unwrap();
    std::fs::write(src.join("d/e/g"), b"g").unwrap();
    std::os::unix::fs::symlink("d/f", src.join("l")).unwrap();
    let listing = |root: &std::path::Path| {
        let mut g = Gcm::new();
        let fs = Sefs::open(root, &KeyMode::IntegrityOnly, &mut g).unwrap();
        let (all, problems) = fs.walk(&mut g).unwrap();
        assert!(problems.is_empty(), "{:?}", problems);
        let v: Vec<(String, u32, u64, Vec<u8>)> = all
            .iter()
            .map(|(p, i)| {
                (
                    p.clone(),
                    i.typ,
                    i.size,
                    if i.typ == T_DIR {
                        vec![]
                    } else {
                        fs.read_data(i, &mut g).unwrap()
                    },
                )
            })
            .collect();
        (
            fs.layout.era,
            v,
            crate::verify::verify(root, &KeyMode::IntegrityOnly, Some(fs.root_mac), &Progress::new()).ok,
        )
    };
    let mut reference = None;
    for (name, rec, dirent, want) in [
        ("now", 112, 264, "112-byte"),
        ("v72", 72, 264, "72-byte inode, u32 times"),
        ("v72old", 72, 260, "260-byte dirent"),
        ("v68", 68, 260, "68-byte"),
    ] {
        let root = s.join(&format!("{name}/__ROOT"));
        let o = PackOpts {
            src: src.clone(),
            out_root: root.clone(),
            mac_file: s.join(&format!("{name}/.ROOT_MAC")),
            key: WriteKey::IntegrityOnly,
            incremental: false,
            fsync: false,
            crash_after: None,
        };
        pack(&o, &Progress::new()).unwrap();
        if rec != 112 {
            downgrade(&root, rec, dirent);
        }
        let (era, items, ok) = listing(&root);
        assert!(era.contains(want), "{name}: detected {era}");
        assert!(ok, "{name}: verify");
        match &reference {
            None => reference = Some(items),
            Some(r) => assert!(*r == items, "{name}: differs from the current layout"),
        }
    }
}
