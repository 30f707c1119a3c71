//! The fork watch's own side (the kernel side is tested through the real sandbox in
//! test/integration/fork-watch.test.ts): what it reports without a shim, and that it takes only
//! a seccomp listener from its one connection.
use crate::fork_watch::{connect_unix, open, send_fd, take};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("occlum-fork-watch-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    dir.join("s")
}

const NOT_CONNECTED: &str = r#"{"connected":false,"total":0,"byComm":[],"others":0}"#;

#[test]
fn a_watch_nobody_reported_to_says_so_and_removes_its_socket() {
    let path = socket_path("idle");
    let id = open(path.to_str().unwrap()).unwrap();
    assert!(path.exists());
    assert_eq!(take(&id.to_string()).unwrap(), NOT_CONNECTED);
    assert!(!path.exists());
    assert!(take(&id.to_string()).is_err(), "taken once");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_descriptor_that_is_not_a_seccomp_listener_is_refused() {
    let path = socket_path("forged");
    let id = open(path.to_str().unwrap()).unwrap();
    let conn = connect_unix(path.to_str().unwrap()).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(send_fd(conn.as_raw_fd(), file.as_raw_fd()));
    // Sent before the take: the watch reads it before it honours the stop.
    assert_eq!(take(&id.to_string()).unwrap(), NOT_CONNECTED);
    assert!(
        !path.exists(),
        "the one connection was accepted, and the socket removed"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_socket_path_too_long_for_a_unix_address_is_an_error() {
    let long = format!("/tmp/{}", "x".repeat(120));
    assert!(open(&long).is_err());
}
