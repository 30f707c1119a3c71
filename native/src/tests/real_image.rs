//! The real Occlum 0.28 image in fixtures/occlum-wamr-0.28.
use super::wamr;
use crate::crypto::Gcm;
use crate::error::Kind;
use crate::pf::KeyMode;
use crate::sefs::{Sefs, T_DIR, T_FILE, T_SYMLINK};

#[test]
fn real_image_lists_and_reads_back() {
    let mut g = Gcm::new();
    let s = Sefs::open(&wamr().join("build/mount/__ROOT"), &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert_eq!(
        crate::crypto::mac_string(&s.root_mac),
        std::fs::read_to_string(wamr().join("build/mount/.ROOT_MAC"))
            .unwrap()
            .trim()
    );
    assert!(s.garbage_pad, "0.28 is from the garbage-pad era");
    let (all, problems) = s.walk(&mut g).unwrap();
    assert!(problems.is_empty(), "{:?}", problems);
    assert_eq!(all.len(), 35, "35 inodes");
    let mut missing = Vec::new();
    let mut differ: Vec<String> = Vec::new();
    for (path, ino) in &all {
        if std::env::var("SHOW").is_ok() {
            eprintln!(
                "{:5} {:8} {:o} {} {}",
                ino.id,
                ino.size,
                ino.mode,
                crate::sefs::type_name(ino.typ),
                path
            );
        }
        if ino.typ == T_DIR {
            continue;
        }
        match s.read_data(ino, &mut g) {
            Ok(data) => {
                let src = wamr().join("image").join(&path[1..]);
                if ino.typ == T_FILE {
                    let want = std::fs::read(&src).unwrap();
                    if data != want {
                        differ.push(path.clone());
                    }
                } else if ino.typ == T_SYMLINK {
                    let t = std::fs::read_link(&src)
                        .map(|t| t.into_os_string().into_encoded_bytes())
                        .or_else(|_| std::fs::read(&src))
                        .unwrap();
                    assert!(data == t, "{path}");
                }
            }
            Err(e) => {
                assert_eq!(e.kind, Kind::Missing, "{path}: {e}");
                missing.push(path.clone());
            }
        }
    }
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
    // Every present file equals its image/ source except /bin/writefile: the fixture's source
    // (8256 bytes) was rebuilt after the image was made (8216 bytes; the image's own MAC chain
    // verifies, so the image is what Occlum built).
    assert_eq!(differ, ["/bin/writefile"]);
}
