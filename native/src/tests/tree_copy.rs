//! The bom copy's native file copies: content, mode and nanosecond times kept; a changed file
//! goes through its temporary name; failures are reported by index and leave no temporary file;
//! a symlink planted at the destination, or in place of a directory of the root, is not written
//! through. The attribute batch and the sniff.
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
            "[{},{},{},{},{},{},{},{},{}]",
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
    assert_eq!(out, format!("[{},{},null]", row(&m), row(&l)));
}
