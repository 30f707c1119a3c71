//! The Landlock scope of sandboxed programs (src/landlock.rs): when a launch scopes and when it
//! warns instead, and, on a kernel with ABI 6, that the scope does what the sandbox relies on.
use crate::landlock::{abi_version, restrict_self, unavailable_reason, SCOPED_ABI, SCOPE_ABSTRACT_UNIX_SOCKET};
use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

#[test]
fn scopes_from_abi_6_and_otherwise_warns_with_the_reason() {
    assert_eq!(unavailable_reason(Ok(6)), None);
    assert_eq!(unavailable_reason(Ok(7)), None);
    for (abi, why) in [
        (
            Ok(5),
            "this kernel's Landlock is ABI 5; scoping needs ABI 6 (Linux 6.12)",
        ),
        (Ok(1), "this kernel's Landlock is ABI 1"),
        (Err(38), "this kernel has no Landlock"),
        (Err(95), "Landlock is not enabled on this kernel"),
        (Err(22), "the Landlock version query failed (Invalid argument"),
    ] {
        let line = unavailable_reason(abi).expect("a warning");
        assert!(line.starts_with("occlum-studio: sandbox: warning: "), "{line}");
        assert!(line.contains(why), "{abi:?}: {line}");
        assert!(line.contains("abstract unix sockets"), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}

fn abstract_name(tag: &str) -> SocketAddr {
    let name = format!("occlum-studio-landlock-test-{}-{tag}", std::process::id());
    SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
}

#[test]
fn a_scoped_thread_reaches_its_own_abstract_sockets_only() {
    match abi_version() {
        Ok(v) if v >= SCOPED_ABI => {}
        other => return eprintln!("skipped: Landlock ABI {other:?} has no scopes"),
    }
    let outside = UnixListener::bind_addr(&abstract_name("outside")).unwrap();
    let outside_addr = outside.local_addr().unwrap();
    // landlock_restrict_self restricts the calling thread (and what it starts): a thread of its own.
    std::thread::spawn(move || {
        assert!(
            UnixStream::connect_addr(&outside_addr).is_ok(),
            "reachable before the scope"
        );
        restrict_self(SCOPE_ABSTRACT_UNIX_SOCKET).unwrap();
        let err = UnixStream::connect_addr(&outside_addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        let inside = UnixListener::bind_addr(&abstract_name("inside")).unwrap();
        assert!(
            UnixStream::connect_addr(&inside.local_addr().unwrap()).is_ok(),
            "its own socket"
        );
    })
    .join()
    .unwrap();
}
