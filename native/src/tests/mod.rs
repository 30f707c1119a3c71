mod beneath;
mod eras;
mod fork_watch;
mod fuzz;
mod landlock;
mod pack_hint;
mod pack_tamper;
mod pack_verify;
mod pack_warm;
mod pf_stream;
mod pf_vectors;
mod read_range;
mod real_image;
mod special_files;
mod tree_copy;

use std::path::PathBuf;

/// The reference corpus: OCCLUM_STUDIO_SHARED, else ../shared beside the checkout. Without it
/// scripts/run-tests.mjs skips the tests that read it (its CARGO_CORPUS_TESTS list).
pub fn shared() -> PathBuf {
    let dir = match std::env::var_os("OCCLUM_STUDIO_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    assert!(
        dir.exists(),
        "this test needs the reference corpus ({} is missing): list it in CARGO_CORPUS_TESTS of scripts/run-tests.mjs",
        dir.display()
    );
    dir
}
pub fn vectors() -> PathBuf {
    shared().join("fixtures/pf-vectors")
}
pub fn wamr() -> PathBuf {
    shared().join("fixtures/occlum-wamr-0.28")
}

/// A fresh scratch directory under the system temp dir (removed on drop).
pub struct Scratch(pub PathBuf);
impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "occlum-studio-test-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy a directory tree (files, dirs, symlinks), making everything writable.
pub fn copy_tree(src: &std::path::Path, dst: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let t = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&e.path(), &t);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &t).unwrap();
        } else {
            std::fs::copy(e.path(), &t).unwrap();
            std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// Seeded xorshift64* for the mutation tests (std only; FUZZ_SEED replays a run).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}
