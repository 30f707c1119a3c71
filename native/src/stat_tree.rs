//! The stat signature of every entry below a directory, for the host backend's checks before a
//! run (image layer against its manifest and stat cache, the secure image against its stamp):
//! one lstat per entry in a tight loop instead of a JS call and a stats object each.
//!
//! Output: per entry six NUL-terminated fields: path relative to the root ('/'-joined, names
//! sorted per directory, parents before children), type (`f`, `d`, `l`, `o`), permission bits
//! and size (decimal), `inode:ctime-in-ns` (the stat-cache key), symlink target (else empty).

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn stat_tree(root: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 << 10);
    visit(root, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// The names in `root`/`rel`, sorted (walks list a tree in the same order every time).
pub(crate) fn sorted_names(root: &Path, rel: &[u8]) -> Result<Vec<std::ffi::OsString>> {
    let dir = root.join(OsStr::from_bytes(rel));
    let shown = || dir.display().to_string();
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| Error::io(e, &shown()))? {
        names.push(e.map_err(|e| Error::io(e, &shown()))?.file_name());
    }
    names.sort();
    Ok(names)
}

fn visit(root: &Path, rel: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<()> {
    for name in sorted_names(root, rel)? {
        let len = rel.len();
        if len > 0 {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let path = root.join(OsStr::from_bytes(rel));
        let md = std::fs::symlink_metadata(&path).map_err(|e| Error::io(e, &path.display().to_string()))?;
        line(rel, &path, &md, out)?;
        if md.file_type().is_dir() {
            visit(root, rel, out)?;
        }
        rel.truncate(len);
    }
    Ok(())
}

/// Appends one entry's six fields (`path` is where it was stat'ed, for a symlink's target).
pub fn line(rel: &[u8], path: &Path, md: &std::fs::Metadata, out: &mut Vec<u8>) -> Result<()> {
    let ft = md.file_type();
    let t = if ft.is_file() {
        'f'
    } else if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else {
        'o'
    };
    let ctime_ns = i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec());
    out.extend_from_slice(rel);
    // Writes into a Vec cannot fail.
    let _ = write!(
        out,
        "\0{}\0{}\0{}\0{}:{}\0",
        t,
        md.mode() & 0o7777,
        md.size(),
        md.ino(),
        ctime_ns
    );
    if t == 'l' {
        let target = std::fs::read_link(path).map_err(|e| Error::io(e, &path.display().to_string()))?;
        out.extend_from_slice(target.as_os_str().as_bytes());
    }
    out.push(0);
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn lists_every_entry_with_its_signature() {
        let dir = std::env::temp_dir().join(format!("stat-tree-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::write(dir.join("b/x"), b"12345").unwrap();
        std::os::unix::fs::symlink("b/x", dir.join("a")).unwrap();
        let out = stat_tree(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let f: Vec<&[u8]> = out.split(|&b| b == 0).collect();
        assert_eq!(f.len(), 3 * 6 + 1);
        assert_eq!((f[0], f[1], f[5]), (&b"a"[..], &b"l"[..], &b"b/x"[..]));
        assert_eq!((f[6], f[7]), (&b"b"[..], &b"d"[..]));
        assert_eq!((f[12], f[13], f[15]), (&b"b/x"[..], &b"f"[..], &b"5"[..]));
        assert!(std::str::from_utf8(f[16]).unwrap().contains(':'));
    }
}
