//! Writes below a directory descriptor (extract): nothing is created through a symlink or outside
//! the directory, whatever the path says or what was swapped in meanwhile.
use super::Scratch;
use crate::beneath;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};

#[test]
fn writes_stay_below_the_directory_descriptor() {
    let s = Scratch::new("beneath");
    let (dest, outside) = (s.join("dest"), s.join("outside"));
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let base = std::fs::File::open(&dest).unwrap();
    let fd = base.as_raw_fd();
    beneath::mkdir(fd, "a").unwrap();
    beneath::mkdir(fd, "a").unwrap(); // an existing directory is fine
    beneath::mkdir(fd, "a/b").unwrap();
    let mut f = unsafe { std::fs::File::from_raw_fd(beneath::create(fd, "a/b/f", 0o600).unwrap()) };
    f.write_all(b"x").unwrap();
    drop(f);
    assert_eq!(std::fs::read(dest.join("a/b/f")).unwrap(), b"x");
    assert!(beneath::create(fd, "a/b/f", 0o600)
        .unwrap_err()
        .msg
        .contains("already exists"));
    beneath::symlink(fd, "a/l", "/etc").unwrap();
    assert!(beneath::create(fd, "a/l", 0o600).is_err(), "created through a symlink");
    beneath::chmod_dir(fd, "a/b", 0o755).unwrap();
    // `a` becomes a symlink to outside: every write through it is refused.
    std::fs::rename(dest.join("a"), s.join("moved")).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("a")).unwrap();
    for r in [
        beneath::mkdir(fd, "a/c").map(|_| ()),
        beneath::create(fd, "a/g", 0o600).map(|_| ()),
        beneath::symlink(fd, "a/m", "x"),
        beneath::chmod_dir(fd, "a", 0o700),
    ] {
        assert!(r
            .unwrap_err()
            .msg
            .starts_with("a: is a symbolic link or not a directory any more"));
    }
    assert!(beneath::mkdir(fd, "a")
        .unwrap_err()
        .msg
        .contains("exists and is not a directory"));
    for bad in ["", "../x", "a/../x", "./x", "a//x", "/x"] {
        assert!(beneath::create(fd, bad, 0o600).is_err(), "{:?} accepted", bad);
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!s.join("x").exists());
}

#[test]
fn mkdirs_makes_a_tree_in_one_batch_and_never_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("beneath-mkdirs");
    let (dest, outside) = (s.join("dest"), s.join("outside"));
    std::fs::create_dir_all(dest.join("old")).unwrap();
    std::fs::set_permissions(dest.join("old"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("link")).unwrap();
    std::fs::write(dest.join("file"), b"").unwrap();
    let base = std::fs::File::open(&dest).unwrap();
    let rels: Vec<String> = ["a", "a/b", "a/b/c", "old", "old/d", "link", "link/e", "file", "a/c"]
        .map(String::from)
        .to_vec();
    let errors = beneath::mkdirs(base.as_raw_fd(), &rels, 0o751);
    let failed: Vec<usize> = errors.iter().map(|e| e.0).collect();
    assert_eq!(failed, [5, 6, 7], "{errors:?}");
    assert!(errors[0].1.contains("exists and is not a directory"), "{errors:?}");
    let mode = |p: &str| std::fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o7777;
    for made in ["a", "a/b", "a/b/c", "old/d", "a/c"] {
        assert_eq!(mode(made), 0o751, "{made}");
    }
    assert_eq!(mode("old"), 0o700, "an existing directory keeps its mode");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing made through the link"
    );
    let bad = beneath::mkdirs(base.as_raw_fd(), &["../x".into(), "a/./y".into()], 0o755);
    assert_eq!(bad.len(), 2);
    assert!(!s.join("x").exists());
}

/// The run layer's reads (fs-view.ts): nothing is read through a link, on the way or at the end,
/// and a FIFO opens without blocking (the caller's fstat refuses it).
#[test]
fn reads_follow_no_link_and_do_not_block() {
    let s = Scratch::new("beneath-read");
    let (layer, outside) = (s.join("layer"), s.join("outside"));
    std::fs::create_dir_all(layer.join("d")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(layer.join("d/f"), b"program").unwrap();
    std::fs::write(outside.join("f"), b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, layer.join("l")).unwrap();
    std::os::unix::fs::symlink(outside.join("f"), layer.join("d/lf")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(layer.join("d/fifo"))
        .status()
        .unwrap()
        .success());
    let base = std::fs::File::open(&layer).unwrap();
    let fd = base.as_raw_fd();
    let f = unsafe { std::fs::File::from_raw_fd(beneath::open_read(fd, "d/f").unwrap()) };
    assert_eq!(std::io::read_to_string(f).unwrap(), "program");
    let d = unsafe { std::fs::File::from_raw_fd(beneath::open_dir_read(fd, "d").unwrap()) };
    assert!(d.metadata().unwrap().is_dir());
    let fifo = unsafe { std::fs::File::from_raw_fd(beneath::open_read(fd, "d/fifo").unwrap()) };
    assert!(!fifo.metadata().unwrap().is_file());
    for (r, rel) in [
        (beneath::open_read(fd, "l/f"), "l/f"),
        (beneath::open_read(fd, "d/lf"), "d/lf"),
        (beneath::open_dir_read(fd, "l"), "l"),
    ] {
        let msg = r.unwrap_err().msg;
        assert!(
            msg.starts_with(&format!("{rel}: a symbolic link or not a directory on the way")),
            "{msg}"
        );
    }
}
