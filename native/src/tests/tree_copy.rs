//! The bom copy's native file copies: content, mode and nanosecond times kept; a changed file
//! goes through its temporary name; failures are reported by index and leave no temporary file;
//! a symlink planted at the destination, or in place of a directory of the root, is not written
//! through. The attribute batch and the sniff. The host build's copy that hashes what it writes.
use super::Scratch;
use crate::tree_copy::{copy_files, sniff_elf};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, UNIX_EPOCH};

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn copies_content_mode_and_times_and_reports_failures_by_index() {
    let t = Scratch::new("tree-copy");
    let src = t.join("src");
    fs::write(&src, b"program").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
    let when = UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_times(fs::FileTimes::new().set_accessed(when).set_modified(when))
        .unwrap();
    let old = t.join("old");
    fs::write(&old, b"previous version").unwrap();
    let tmp = t.join(".old.tmp");
    let outside = t.join("outside");
    fs::write(&outside, b"keep").unwrap();
    std::os::unix::fs::symlink(&outside, t.join("planted")).unwrap();
    // A directory of the root that is a symlink (swapped in by a racer): not written through.
    let away = t.join("away");
    fs::create_dir(&away).unwrap();
    std::os::unix::fs::symlink(&away, t.join("linkdir")).unwrap();
    let dir = fs::File::open(t.join(".")).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&dir).to_string();
    let rel = |n: &str| n.to_string();
    let args: Vec<String> = [
        vec![fd],
        [s(&src), rel("new"), String::new()].to_vec(),
        [s(&src), rel("old"), rel(".old.tmp")].to_vec(),
        [s(&t.join("missing")), rel("never"), String::new()].to_vec(),
        [s(&src), rel("planted"), String::new()].to_vec(),
        [s(&src), rel("linkdir/f"), String::new()].to_vec(),
        [s(&src), rel("linkdir/g"), rel("linkdir/.g.tmp")].to_vec(),
    ]
    .concat();
    let out = copy_files(&args).unwrap();
    assert!(out.starts_with("{\"errors\":[[2,"), "{}", out);
    assert!(
        out.contains("[3,") && out.contains("[4,") && out.contains("[5,"),
        "{}",
        out
    );
    assert_eq!(
        fs::read_dir(&away).unwrap().count(),
        0,
        "nothing through the linked dir"
    );
    for p in [t.join("new"), old] {
        assert_eq!(fs::read(&p).unwrap(), b"program");
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o750);
        assert_eq!((m.mtime(), m.mtime_nsec()), (1_600_000_000, 123_456_789));
    }
    assert!(!tmp.exists(), "the temporary name was renamed");
    assert!(!t.join("never").exists());
    assert_eq!(
        fs::read(&outside).unwrap(),
        b"keep",
        "not written through the planted link"
    );
    assert_eq!(copy_files(&["a".into()]).unwrap_err().kind, crate::error::Kind::Usage);
    assert_eq!(
        copy_files(&["3".into(), "a".into()]).unwrap_err().kind,
        crate::error::Kind::Usage
    );
}

#[test]
fn keeps_modes_the_umask_would_strip_and_files_of_one_directory_share_its_walk() {
    let t = Scratch::new("tree-copy-modes");
    fs::create_dir_all(t.join("root/d")).unwrap();
    let modes = [0o777, 0o640, 0o4755, 0o1777, 0o000];
    let mut args = vec![];
    let root = fs::File::open(t.join("root")).unwrap();
    args.push(std::os::fd::AsRawFd::as_raw_fd(&root).to_string());
    for (i, m) in modes.iter().enumerate() {
        let src = t.join(&format!("s{i}"));
        fs::write(&src, format!("{i}")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(*m)).unwrap();
        args.extend([s(&src), format!("d/f{i}"), String::new()]);
    }
    // A temporary name outside the destination's directory is refused (the rename would move it).
    args.extend([s(&t.join("s0")), "d/g".into(), "h".into()]);
    let out = copy_files(&args).unwrap();
    assert!(
        out.starts_with("{\"errors\":[[5,") && out.contains("must be in"),
        "{out}"
    );
    for (i, m) in modes.iter().enumerate() {
        let got = fs::metadata(t.join(&format!("root/d/f{i}"))).unwrap().mode() & 0o7777;
        assert_eq!(got, *m, "f{i}: {got:o}");
    }
    assert!(!t.join("root/d/g").exists() && !t.join("root/h").exists());
}

#[test]
fn sniffs_the_elf_magic() {
    let t = Scratch::new("sniff-elf");
    fs::write(t.join("elf"), b"\x7fELF\x02\x01\x01").unwrap();
    fs::write(t.join("text"), b"#!/bin/sh\n").unwrap();
    fs::write(t.join("short"), b"\x7fE").unwrap();
    let paths: Vec<String> = ["elf", "text", "short", "missing"]
        .iter()
        .map(|n| s(&t.join(n)))
        .collect();
    assert_eq!(sniff_elf(&paths).unwrap(), "1000");
}

#[test]
fn stats_files_as_lstat_does() {
    let t = Scratch::new("stat-files");
    fs::write(t.join("f"), b"12345").unwrap();
    std::os::unix::fs::symlink("f", t.join("l")).unwrap();
    let paths: Vec<String> = ["f", "l", "missing"].iter().map(|n| s(&t.join(n))).collect();
    let out = crate::tree_copy::stat_files(&paths).unwrap();
    let m = fs::metadata(t.join("f")).unwrap();
    let l = fs::symlink_metadata(t.join("l")).unwrap();
    let row = |m: &fs::Metadata| {
        format!(
            "[{},{},{},{},{},{},{},{},{},\"?\"]",
            m.size(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.ino(),
            m.atime(),
            m.atime_nsec(),
            m.mtime(),
            m.mtime_nsec()
        )
    };
    // The identity: "?" within a second of the write (racy), else the hash a bom state records.
    let mut out = out;
    for md in [&m, &l] {
        out = out.replace(&crate::bom_state::identity_of(md, 0), "?");
    }
    assert_eq!(out, format!("[{},{},null]", row(&m), row(&l)));
}

#[test]
fn scans_attributes_and_the_elf_magic_in_one_pass() {
    let t = Scratch::new("scan-files");
    let mut elf = b"\x7fELF".to_vec();
    elf.resize(64, 0);
    fs::write(t.join("elf"), &elf).unwrap();
    fs::write(t.join("short-elf"), b"\x7fELF\x02").unwrap();
    fs::write(t.join("text"), vec![b'x'; 100]).unwrap();
    let paths: Vec<String> = ["elf", "short-elf", "text", "missing"]
        .iter()
        .map(|n| s(&t.join(n)))
        .collect();
    let out = crate::tree_copy::scan_files(&paths).unwrap();
    // Rows of eleven fields: the flag last (elf: 1; too short for a header, or text: 0; gone: null).
    assert!(out.starts_with("[[64,"), "{}", out);
    assert!(
        out.contains(",1],[5,") && out.contains(",0],[100,") && out.ends_with(",0],null]"),
        "{}",
        out
    );
}

/// The stat-cache key of a written file, as an lstat of it now has it.
fn stat_key(p: &std::path::Path) -> String {
    let m = fs::symlink_metadata(p).unwrap();
    format!(
        "{}:{}",
        m.ino(),
        i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec())
    )
}

#[test]
fn copies_with_the_sha256_of_what_it_wrote() {
    let t = Scratch::new("copy-hash");
    fs::write(t.join("a"), b"abc").unwrap();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(t.join("big"), &big).unwrap();
    std::os::unix::fs::symlink(t.join("a"), t.join("link")).unwrap();
    fs::write(t.join("taken"), b"old").unwrap();
    // A directory of the source swapped for a link to elsewhere (a program writing image/).
    let elsewhere = Scratch::new("copy-hash-elsewhere");
    fs::write(elsewhere.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(elsewhere.join(""), t.join("dir")).unwrap();
    let args: Vec<String> = [
        vec![s(&t.join(""))],
        [
            [s(&t.join("a")), s(&t.join("a2")), "493".into()],
            [s(&t.join("big")), s(&t.join("big2")), "420".into()],
            [s(&t.join("link")), s(&t.join("l2")), "420".into()],
            [s(&t.join("a")), s(&t.join("taken")), "420".into()],
            [s(&t.join("dir/secret")), s(&t.join("s2")), "420".into()],
        ]
        .concat(),
    ]
    .concat();
    let out = crate::tree_copy::copy_hash_files(&args).unwrap();
    // SHA-256("abc") (FIPS 180-2's example); the big one as sha256sum has it, computed below.
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let key = |p: &str| stat_key(&t.join(p));
    assert!(
        out.starts_with(&format!(
            "{{\"files\":[[493,3,\"{}\",\"{}\"],[420,1000000,\"",
            abc,
            key("a2")
        )),
        "{}",
        out
    );
    assert!(
        out.contains(",null,null,null],\"errors\":[[2,"),
        "a link is not followed: {}",
        out
    );
    assert!(
        out.contains("[4,\"") && out.contains("dir/secret: reached through a symbolic link"),
        "nor a link on the way: {}",
        out
    );
    assert!(!t.join("s2").exists());
    assert!(
        out.contains("[3,"),
        "an existing destination is not overwritten: {}",
        out
    );
    assert_eq!(fs::read(t.join("big2")).unwrap(), big);
    assert_eq!(fs::metadata(t.join("a2")).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(fs::read(t.join("taken")).unwrap(), b"old");
    assert!(!t.join("l2").exists());
    let sum = std::process::Command::new("sha256sum")
        .arg(t.join("big"))
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&sum.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("[420,1000000,\"{}\",\"{}\"]", want, key("big2"))),
        "{}",
        out
    );
}

#[test]
fn copies_with_hash_any_mode_and_an_empty_file() {
    let t = Scratch::new("copy-hash-modes");
    fs::write(t.join("a"), b"abc").unwrap();
    fs::write(t.join("empty"), b"").unwrap();
    // 0o777 and 0o4755: the umask or the set-id bit keep them from the create (then a chmod).
    let args: Vec<String> = [
        vec![s(&t.join(""))],
        [
            [s(&t.join("a")), s(&t.join("all")), "511".into()],
            [s(&t.join("a")), s(&t.join("suid")), "2541".into()],
            [s(&t.join("empty")), s(&t.join("e2")), "420".into()],
        ]
        .concat(),
    ]
    .concat();
    let out = crate::tree_copy::copy_hash_files(&args).unwrap();
    let e3b0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let key = |p: &str| stat_key(&t.join(p));
    assert!(out.contains("[511,3,\"ba78"), "{}", out);
    assert!(out.contains(&format!("\"{}\"],[2541,3,", key("all"))), "{}", out);
    assert!(
        out.ends_with(&format!("[420,0,\"{}\",\"{}\"]],\"errors\":[]}}", e3b0, key("e2"))),
        "{}",
        out
    );
    for (f, m) in [("all", 0o777), ("suid", 0o4755), ("e2", 0o644)] {
        assert_eq!(fs::metadata(t.join(f)).unwrap().mode() & 0o7777, m, "{}", f);
    }
    assert!(out.contains(&format!(",\"{}\"],[420,0,", key("suid"))), "{}", out);
}
