//! Streaming PF writer: the same bytes as the in-memory writer for every size class (inside node
//! 0, exact node and MHT-group boundaries, two MHT levels), readable back with a key.
use super::Scratch;
use crate::crypto::Gcm;
use crate::pf::{self, KeyMode, WriteKey};

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2246822519).rotate_right(7) as u8)
        .collect()
}

#[test]
fn stream_writes_what_the_in_memory_writer_writes() {
    let s = Scratch::new("pf-stream");
    let group = 96 * 4096;
    let sizes = [
        0,
        1,
        3071,
        3072,
        3073,
        3072 + 4096,
        3072 + 4096 + 1,
        3072 + group - 1,
        3072 + group,
        3072 + group + 1,
        3072 + 33 * group + 5,
    ];
    let mut g = Gcm::new();
    for (k, &len) in sizes.iter().enumerate() {
        let d = data(len);
        let name = format!("f{k}");
        let p = s.join(&name);
        let out = std::fs::File::create(&p).unwrap();
        let (size, mac) = pf::write_pf_stream(&name, &mut &d[..], &out, &WriteKey::IntegrityOnly, &mut g).unwrap();
        let (bytes, want) = pf::write_pf(&name, &d, &WriteKey::IntegrityOnly, &mut g).unwrap();
        assert_eq!((size, mac), (len as u64, want), "size {len}");
        assert!(std::fs::read(&p).unwrap() == bytes, "size {len}: bytes differ");

        let key = WriteKey::UserKey([3u8; 16]);
        let out = std::fs::File::create(&p).unwrap();
        let (_, mac) = pf::write_pf_stream(&name, &mut &d[..], &out, &key, &mut g).unwrap();
        let f = pf::open_path(&p, &KeyMode::from(&key), &mut g).unwrap_or_else(|e| panic!("size {len}: {e}"));
        assert_eq!(f.mac(), mac);
        assert!(
            f.read_all(&mut g, &mut |_| {}).unwrap() == d,
            "size {len}: content differs"
        );
    }
}

#[test]
fn pack_streams_big_files_into_the_same_image() {
    use crate::pack::{pack, pack_hinted, PackOpts};
    use crate::progress::Progress;
    use crate::sefs::Sefs;
    let s = Scratch::new("pack-stream");
    let src = s.join("src");
    std::fs::create_dir_all(src.join("m")).unwrap();
    let big = data(9 << 20 | 123);
    std::fs::write(src.join("m/model.bin"), &big).unwrap();
    std::fs::write(src.join("small"), b"small").unwrap();
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
    let r = pack(&o, &Progress::new()).unwrap();
    let mut g = Gcm::new();
    let fs = Sefs::open(&out, &KeyMode::IntegrityOnly, &mut g).unwrap();
    let ino = fs.lookup("/m/model.bin", &mut g).unwrap();
    assert!(fs.read_data(&ino, &mut g).unwrap() == big);
    let (want, _) = pf::write_pf(&ino.host_file(), &big, &WriteKey::IntegrityOnly, &mut g).unwrap();
    assert!(
        std::fs::read(out.join(ino.host_file())).unwrap() == want,
        "streamed inode file equals the in-memory one"
    );
    assert!(crate::verify::verify(&out, &KeyMode::IntegrityOnly, Some(r.root_mac), &Progress::new()).ok);
    // An edit of the big file through the warm path streams too.
    let mut big2 = big.clone();
    big2[5 << 20] ^= 1;
    std::fs::write(src.join("m/model.bin"), &big2).unwrap();
    let r = pack_hinted(&o, Some(&["m/model.bin".to_string()]), &Progress::new()).unwrap();
    assert_eq!(r.files_packed, 1);
    let fs = Sefs::open(&out, &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert!(
        fs.read_data(&fs.lookup("/m/model.bin", &mut g).unwrap(), &mut g)
            .unwrap()
            == big2
    );
    assert!(crate::verify::verify(&out, &KeyMode::IntegrityOnly, Some(r.root_mac), &Progress::new()).ok);
}
