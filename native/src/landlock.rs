//! Landlock scoping of a sandboxed program (docs/security.md, "Abstract unix sockets"). The host
//! backend's sandbox shares the host's network namespace, and the abstract unix socket namespace
//! is the network namespace's: without a scope, a program could connect to any abstract socket of
//! the host (an X server's @/tmp/.X11-unix/X0: keystrokes into the user's session). In Occlum a
//! program's unix sockets live inside the LibOS. A Landlock domain whose ruleset only sets
//! `scoped` (Landlock ABI 6, Linux 6.12) makes connect(2) and sendto(2) to an abstract socket
//! created outside the domain fail with EPERM; sockets made inside it work. It handles no file
//! system or network access, so mounts and files are as before.
//!
//! Applied by the stager right before it executes bwrap (a run) or the exec chain's bwrap (an
//! exec into a server); every process the program makes inherits the domain.

use std::io;
use std::os::raw::{c_int, c_long};

/// Connecting or sending to an abstract unix socket made outside the domain fails with EPERM.
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
/// Signals to processes outside the domain fail with EPERM.
pub const SCOPE_SIGNAL: u64 = 1 << 1;
/// The first Landlock ABI with scopes (Linux 6.12).
pub const SCOPED_ABI: c_long = 6;

const SYS_LANDLOCK_CREATE_RULESET: c_long = 444;
const SYS_LANDLOCK_RESTRICT_SELF: c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: c_long = 1;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
const ENOSYS: i32 = 38;
const EOPNOTSUPP: i32 = 95;
const EPERM: i32 = 1;

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn prctl(option: c_int, arg: std::os::raw::c_ulong, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
}

/// The fields of struct landlock_ruleset_attr this code knows (ABI 6); the size passed to the
/// kernel says so.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// The kernel's Landlock ABI version, or the errno of the query (ENOSYS: no Landlock in this
/// kernel; EOPNOTSUPP: built in but not enabled at boot).
pub fn abi_version() -> Result<c_long, i32> {
    let v = unsafe {
        syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            0 as c_long,
            0 as c_long,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(v)
    }
}

/// Whether scoping is possible with what the ABI query answered: None if it is, else why not,
/// as the one line the program's stderr gets (the run goes on unscoped, but not silently).
pub fn unavailable_reason(abi: Result<c_long, i32>) -> Option<String> {
    let why = match abi {
        Ok(v) if v >= SCOPED_ABI => return None,
        Ok(v) => format!("this kernel's Landlock is ABI {v}; scoping needs ABI {SCOPED_ABI} (Linux 6.12)"),
        Err(ENOSYS) => format!("this kernel has no Landlock (scoping needs Landlock ABI {SCOPED_ABI}, Linux 6.12)"),
        Err(EOPNOTSUPP) => "Landlock is not enabled on this kernel (add landlock to the lsm= boot parameter)".into(),
        Err(e) => format!(
            "the Landlock version query failed ({})",
            io::Error::from_raw_os_error(e)
        ),
    };
    Some(format!(
        "occlum-studio: sandbox: warning: {why}: this program can connect to the host's abstract unix sockets \
         (an X server's @/tmp/.X11-unix/X0 among them); see docs/security.md"
    ))
}

/// Puts the calling process (and everything it executes or starts later) in a new Landlock domain
/// with `scopes`. Needs CAP_SYS_ADMIN in the process's user namespace or no_new_privs; without the
/// capability, no_new_privs is set (bwrap sets it for the program anyway).
pub fn restrict_self(scopes: u64) -> io::Result<()> {
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: 0,
        scoped: scopes,
    };
    let size = std::mem::size_of::<RulesetAttr>() as c_long;
    let fd = unsafe {
        syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            &attr as *const RulesetAttr,
            size,
            0 as c_long,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let restrict = || unsafe { syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0 as c_long) };
    let mut r = restrict();
    if r != 0 && io::Error::last_os_error().raw_os_error() == Some(EPERM) {
        if unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0 as c_long, 0 as c_long, 0 as c_long) } != 0 {
            let e = io::Error::last_os_error();
            unsafe { close(fd as c_int) };
            return Err(e);
        }
        r = restrict();
    }
    let e = io::Error::last_os_error();
    unsafe { close(fd as c_int) };
    if r != 0 {
        return Err(e);
    }
    Ok(())
}

/// What a launch does before the program exists: scope it if the kernel can, or say on stderr
/// that it cannot and go on. A kernel that has the ABI but refuses the domain is an error.
pub fn scope_or_warn(scopes: u64) -> io::Result<()> {
    match unavailable_reason(abi_version()) {
        Some(line) => {
            eprintln!("{line}");
            Ok(())
        }
        None => restrict_self(scopes),
    }
}
