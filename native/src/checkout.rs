//! What a version-control checkout leaves where an image file's content should be. Instances
//! committed to a repository come back from a clone with Git LFS pointers or git-annex pointers
//! and links instead of their big files; saying so (and what to run) beats "not a protected file".

use std::path::Path;

/// What the fix is for content a checkout did not fetch.
const FETCH: &str = "or copy the instance from the machine that built it";

/// Describes `head` (a file's first bytes) if it is a Git LFS or git-annex pointer file; only the
/// fields that parse (hex object id, decimal size) are quoted, so nothing else of the file is shown.
pub fn pointer_note(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(&head[..head.len().min(1024)]).ok()?;
    if text.starts_with("version https://git-lfs.github.com/spec/")
        || text.starts_with("version https://hawser.github.com/spec/")
    {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .filter(|v| {
                    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':')
                })
        };
        let mut what = String::from("a Git LFS pointer");
        match (
            field("oid "),
            field("size ").filter(|s| s.bytes().all(|b| b.is_ascii_digit())),
        ) {
            (Some(oid), Some(size)) => what += &format!(" (object {}, {} bytes)", oid, size),
            (Some(oid), None) => what += &format!(" (object {})", oid),
            _ => {}
        }
        return Some(format!(
            "{}, not the file itself: the checkout lacks its LFS content; run `git lfs pull` in the repository, {}",
            what, FETCH
        ));
    }
    let key = text.trim_end().strip_prefix("/annex/objects/")?;
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some(format!(
        "a git-annex pointer file, not the file itself: the checkout lacks its annexed content; run `git annex get` in the repository, {}",
        FETCH
    ))
}

/// Describes a symbolic link at an image file's place if it is a git-annex link (locked annexed
/// files are links into .git/annex/objects, dangling until their content is fetched).
pub fn link_note(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    let t = target.to_string_lossy();
    if !t.contains("annex/objects/") {
        return None;
    }
    let fetched = path.exists();
    Some(if fetched {
        "a git-annex link, not the file itself; image files are never read through links: run `git annex unlock` in the repository to make it a regular file"
            .to_string()
    } else {
        format!(
            "a git-annex link whose content is not in the checkout: run `git annex get` (and `git annex unlock`) in the repository, {}",
            FETCH
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfs_and_annex_pointers_are_named_with_only_their_parsed_fields() {
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 14062224\n";
        let n = pointer_note(lfs).unwrap();
        assert!(
            n.starts_with("a Git LFS pointer (object sha256:4d7a2146, 14062224 bytes)"),
            "{}",
            n
        );
        assert!(n.contains("git lfs pull"));
        let hostile = b"version https://git-lfs.github.com/spec/v1\noid \x1b[2Jx\nsize 1e9\n";
        assert!(pointer_note(hostile).unwrap().starts_with("a Git LFS pointer, not"));
        let annex = b"/annex/objects/SHA256E-s28408--0123abcd.wasm\n";
        assert!(pointer_note(annex).unwrap().contains("git annex get"));
        assert!(pointer_note(b"SGX_FILE").is_none());
        assert!(pointer_note(b"/annex/objects/\n").is_none());
        assert!(pointer_note(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn annex_links_are_told_apart_from_other_links() {
        let d = std::env::temp_dir().join(format!("checkout-link-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let l = d.join("a");
        std::os::unix::fs::symlink("../.git/annex/objects/Xx/Yy/K/K", &l).unwrap();
        assert!(link_note(&l).unwrap().contains("git annex get"));
        let o = d.join("b");
        std::os::unix::fs::symlink("/dev/zero", &o).unwrap();
        assert!(link_note(&o).is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
