//! Every vector of fixtures/pf-vectors reads to its plaintext and MAC; wrong keys/modes are refused.
use super::vectors;
use crate::crypto::{mac_string, parse_hex, Gcm};
use crate::error::Kind;
use crate::pf::{self, KeyMode, SimIdentity, WriteKey, DEFAULT_MRSIGNER};

const KEY1: &str = "00112233445566778899aabbccddeeff";

fn key1() -> KeyMode {
    KeyMode::UserKey(parse_hex(KEY1).unwrap().try_into().unwrap())
}
fn sim(debug: bool) -> KeyMode {
    KeyMode::SimAuto(SimIdentity {
        mrsigner: DEFAULT_MRSIGNER,
        prod_id: 0,
        isv_svn: 0,
        debug,
    })
}

/// Plaintext of the two 14 MB vectors, from the MANIFEST's formula.
fn formula(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let (k, j) = (i / 4096, i % 4096);
            if j < 8 {
                (k as u64).to_le_bytes()[j]
            } else {
                ((j + k) % 256) as u8
            }
        })
        .collect()
}

fn plain(name: &str) -> Vec<u8> {
    let p = vectors().join(format!("{name}.plain"));
    if p.exists() {
        std::fs::read(p).unwrap()
    } else {
        formula(14_000_000)
    }
}

const TABLE: &[(&str, &str)] = &[
    ("io-0", "7f-53-87-79-41-13-e8-65-24-31-a4-ae-6c-6a-74-3c"),
    ("io-1", "4d-e6-47-1f-86-a2-ea-d0-f4-09-08-30-0b-ea-a8-9e"),
    ("io-3072", "c7-bb-16-36-b6-78-c4-4b-e4-19-8b-5a-e3-6e-4f-e7"),
    ("io-3073", "39-5a-18-17-22-a9-09-88-12-b7-ec-0e-de-07-8c-ca"),
    ("io-396288", "a0-c0-2e-92-1d-6e-b4-78-2c-0a-e5-96-23-0c-3b-41"),
    ("io-396289", "d3-65-e6-73-5a-ce-20-08-29-19-41-fd-00-6c-48-85"),
    ("io-14000000", "1c-6b-60-40-ca-d0-de-67-6d-1e-aa-f2-27-61-8b-4a"),
    ("uk-0", "46-08-4b-da-8d-24-a2-e7-bd-23-f2-68-69-e3-b2-27"),
    ("uk-100", "f0-05-7e-6a-26-19-bd-35-a3-0d-98-6e-28-d3-ce-2c"),
    ("uk-3072", "ee-24-02-0b-41-66-41-8d-63-5c-47-52-0a-32-f9-02"),
    ("uk-5000", "9c-b8-88-cc-18-98-a7-e9-c6-0b-65-bf-d3-36-a0-1d"),
    ("uk-500000", "87-88-05-a3-08-5e-59-9e-28-01-a5-3a-1c-5f-d8-df"),
    ("uk-14000000", "0e-49-ea-d8-1b-41-1b-94-ef-65-44-96-b8-e6-81-e9"),
    ("sim-dbg-100", "27-1f-aa-2b-fd-50-db-8e-7e-af-af-59-ef-e7-76-6b"),
    ("sim-dbg-500000", "1f-5e-b2-7c-79-3b-5b-9c-9c-e1-ad-e9-d4-1a-5e-20"),
    ("io-pattern", "ee-41-0a-8a-b7-05-84-61-4f-25-07-2f-dd-af-79-32"),
    ("uk-pattern", "9b-9a-69-f1-cd-61-e2-ef-ff-89-6f-04-a9-d6-39-2d"),
    ("io-interrupted", "d8-77-15-c4-16-84-91-6c-b5-48-76-5e-c4-02-06-af"),
    ("uk-interrupted", "e1-91-20-d8-eb-b5-97-6b-bb-d8-49-e8-21-0b-a4-65"),
];

fn mode_of(name: &str) -> KeyMode {
    if name.starts_with("io-") {
        KeyMode::IntegrityOnly
    } else if name.starts_with("uk-") {
        key1()
    } else {
        sim(true)
    }
}

#[test]
fn every_vector_reads_to_plaintext_and_mac() {
    let mut g = Gcm::new();
    for (name, mac) in TABLE {
        let f = pf::open_path(&vectors().join(name), &mode_of(name), &mut g).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(mac_string(&f.mac()), *mac, "{name} MAC");
        let data = f
            .read_all(&mut g, &mut |_| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(data, plain(name), "{name} plaintext");
        assert_eq!(f.recovered, name.ends_with("interrupted"), "{name}");
    }
}

#[test]
fn wrong_keys_and_modes_are_refused() {
    let mut g = Gcm::new();
    let open = |n: &str, m: KeyMode, g: &mut Gcm| pf::open_path(&vectors().join(n), &m, g).err().map(|e| e.kind);
    let other = KeyMode::UserKey([9u8; 16]);
    assert_eq!(open("uk-100", other, &mut g), Some(Kind::WrongKey));
    assert_eq!(open("uk-100", KeyMode::IntegrityOnly, &mut g), Some(Kind::WrongMode));
    assert_eq!(open("io-1", key1(), &mut g), Some(Kind::WrongMode));
    assert_eq!(open("io-1", sim(true), &mut g), Some(Kind::WrongMode));
    assert_eq!(open("sim-dbg-100", sim(false), &mut g), Some(Kind::WrongKey));
    assert_eq!(open("sim-dbg-100", key1(), &mut g), Some(Kind::WrongMode));
    let mut other_signer = sim(true);
    if let KeyMode::SimAuto(ref mut id) = other_signer {
        id.mrsigner[0] ^= 1;
    }
    assert_eq!(open("sim-dbg-100", other_signer, &mut g), Some(Kind::WrongKey));
}

#[test]
fn interrupted_without_journal_and_corrupt_nodes() {
    let mut g = Gcm::new();
    let raw = std::fs::read(vectors().join("io-interrupted")).unwrap();
    let e = pf::open_bytes("io-interrupted", raw.clone(), None, &KeyMode::IntegrityOnly, &mut g)
        .err()
        .unwrap();
    assert_eq!(e.kind, Kind::RecoveryNeeded);
    // Ignoring the flag: node 5 carries the half-flushed data and fails (spec 3.7).
    let mut ignored = raw.clone();
    ignored[93] = 0;
    let f = pf::open_bytes("io-interrupted", ignored, None, &KeyMode::IntegrityOnly, &mut g).unwrap();
    let e = f.read_all(&mut g, &mut |_| {}).err().unwrap();
    assert_eq!((e.kind, e.node), (Kind::Corrupt, Some(5)));
    // A flipped byte in data node 7 (physical 9) is reported with its node number.
    let mut bad = std::fs::read(vectors().join("io-pattern")).unwrap();
    bad[9 * 4096 + 17] ^= 0x40;
    let f = pf::open_bytes("io-pattern", bad, None, &KeyMode::IntegrityOnly, &mut g).unwrap();
    let e = f.read_all(&mut g, &mut |_| {}).err().unwrap();
    assert_eq!((e.kind, e.node), (Kind::Corrupt, Some(9)));
    // Renamed copy is refused by the stored-name check.
    let raw = std::fs::read(vectors().join("io-1")).unwrap();
    let e = pf::open_bytes("io-2", raw, None, &KeyMode::IntegrityOnly, &mut g)
        .err()
        .unwrap();
    assert_eq!(e.kind, Kind::NameMismatch);
}

#[test]
fn foreign_formats_are_told_apart() {
    let mut g = Gcm::new();
    let mut gram = vec![0u8; 4096];
    gram[..8].copy_from_slice(b"GRAFS_PF");
    gram[8] = 2;
    assert_eq!(
        pf::open_bytes("x", gram, None, &KeyMode::IntegrityOnly, &mut g)
            .err()
            .unwrap()
            .kind,
        Kind::Gramine
    );
    assert_eq!(
        pf::open_bytes("x", vec![0u8; 100], None, &KeyMode::IntegrityOnly, &mut g)
            .err()
            .unwrap()
            .kind,
        Kind::NotPf
    );
    // A stock-Intel layout: shift Occlum's encrypted part to offset 94 and re-seal it there.
    let raw = std::fs::read(vectors().join("uk-100")).unwrap();
    let f = pf::open_path(&vectors().join("uk-100"), &key1(), &mut g).unwrap();
    let mut intel = raw.clone();
    let key = pf::kdf(
        &parse_hex(KEY1).unwrap().try_into().unwrap(),
        "SGX-PROTECTED-FS-METADATA-KEY",
        0,
        &f.header.key_id,
    );
    let mut part = raw[95..95 + 3392].to_vec();
    assert!(g.decrypt(&key, &mut part, &f.mac()));
    let tag = g.encrypt(&key, &mut part);
    intel[94..94 + 3392].copy_from_slice(&part);
    intel[77..93].copy_from_slice(&tag);
    let e = pf::open_bytes("uk-100", intel, None, &key1(), &mut g).err().unwrap();
    assert_eq!(e.kind, Kind::StockIntel, "{e}");
    // Extra trailing nodes are accepted (size comes from the header only).
    let mut extra = std::fs::read(vectors().join("io-3073")).unwrap();
    extra.extend_from_slice(&[0u8; 8192]);
    let f = pf::open_bytes("io-3073", extra, None, &KeyMode::IntegrityOnly, &mut g).unwrap();
    assert_eq!(f.extra_nodes(), 2);
    assert_eq!(f.read_all(&mut g, &mut |_| {}).unwrap(), plain("io-3073"));
}

#[test]
fn writer_reproduces_integrity_only_vectors_and_roundtrips_user_key() {
    let mut g = Gcm::new();
    for name in [
        "io-0",
        "io-1",
        "io-3072",
        "io-3073",
        "io-396288",
        "io-396289",
        "io-14000000",
        "io-pattern",
    ] {
        let (bytes, mac) = pf::write_pf(name, &plain(name), &WriteKey::IntegrityOnly, &mut g).unwrap();
        let orig = std::fs::read(vectors().join(name)).unwrap();
        assert!(bytes == orig, "{name}: written PF differs from the SDK's");
        assert_eq!(
            mac,
            pf::open_bytes(name, orig, None, &KeyMode::IntegrityOnly, &mut g)
                .unwrap()
                .mac()
        );
    }
    // SIM auto key: written files open with the same identity only.
    let id = SimIdentity {
        mrsigner: DEFAULT_MRSIGNER,
        prod_id: 3,
        isv_svn: 2,
        debug: true,
    };
    let (bytes, _) = pf::write_pf("s", &[9u8; 7000], &WriteKey::SimAuto(id), &mut g).unwrap();
    let f = pf::open_bytes("s", bytes.clone(), None, &KeyMode::SimAuto(id), &mut g).unwrap();
    assert_eq!(f.read_all(&mut g, &mut |_| {}).unwrap(), vec![9u8; 7000]);
    let other = SimIdentity { prod_id: 0, ..id };
    assert_eq!(
        pf::open_bytes("s", bytes, None, &KeyMode::SimAuto(other), &mut g)
            .err()
            .unwrap()
            .kind,
        Kind::WrongKey
    );
    let k = [5u8; 16];
    for len in [0usize, 100, 3072, 3073, 500_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let (bytes, mac) = pf::write_pf("f", &data, &WriteKey::UserKey(k), &mut g).unwrap();
        let f = pf::open_bytes("f", bytes, None, &KeyMode::UserKey(k), &mut g).unwrap();
        assert_eq!(f.mac(), mac);
        assert_eq!(f.read_all(&mut g, &mut |_| {}).unwrap(), data);
    }
}
