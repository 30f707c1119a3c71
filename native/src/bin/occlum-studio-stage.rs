//! The privileged first step of the host backend's sandbox when the studio runs as root
//! (docs/backends.md, "Sandbox identity"):
//!
//!   occlum-studio-stage UID GID STAGE SECCOMP|- [dir:REL | bind:NAME=SOURCE]... -- COMMAND [ARG]...
//!
//! In a new private mount namespace it makes every SOURCE an idmapped bind mount at STAGE/NAME on
//! which files owned by host uid 0 appear owned by UID (gid 0 by GID), so a program running as
//! UID, which its user namespace shows as root, reads and writes the image, run and hostfs
//! layers as before while the kernel sees an unprivileged uid (no host sysctls, no root-owned
//! host files). What the program creates is stored owned by host root, as before. STAGE is
//! covered with a fresh tmpfs (mode 0755, in this namespace only) so the unprivileged side can
//! reach the mounts whatever the permissions above the instance; `dir:REL` creates STAGE/REL.
//! Then it opens SECCOMP on fd 9 (for bwrap --seccomp 9), drops to UID/GID with no groups and
//! no capabilities, and executes COMMAND, which creates the user namespace as a normal user does.
//! util-linux 2.38 has no idmapped mounts (X-mount.idmap is 2.39), hence this helper; std only.
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn unshare(flags: c_int) -> c_int;
    fn mount(
        src: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    fn fork() -> c_int;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn setgroups(n: usize, list: *const c_uint) -> c_int;
    fn setresgid(r: c_uint, e: c_uint, s: c_uint) -> c_int;
    fn setresuid(r: c_uint, e: c_uint, s: c_uint) -> c_int;
    fn _exit(code: c_int) -> !;
}

// The new mount API has the same numbers on every architecture (asm-generic). Variadic
// syscall() reads every argument as a long, so each is passed as one.
const SYS_OPEN_TREE: c_long = 428;
const SYS_MOVE_MOUNT: c_long = 429;
const SYS_MOUNT_SETATTR: c_long = 442;
const SYS_OPENAT2: c_long = 437;
const O_PATH: c_long = 0o10000000;
const O_CLOEXEC: c_long = 0o2000000;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const ELOOP: i32 = 40;
const AT_FDCWD: c_long = -100;
const AT_EMPTY_PATH: c_long = 0x1000;
const OPEN_TREE_CLONE: c_long = 1;
const OPEN_TREE_CLOEXEC: c_long = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH: c_long = 4;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const CLONE_NEWNS: c_int = 0x0002_0000;
const CLONE_NEWUSER: c_int = 0x1000_0000;
const MS_NOSUID: c_ulong = 2;
const MS_NODEV: c_ulong = 4;
const MS_REC: c_ulong = 0x4000;
const MS_PRIVATE: c_ulong = 1 << 18;
const SECCOMP_FD: c_int = 9;
const F_SETFD: c_int = 2;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Paths in messages are printed with {:?}, which escapes control characters (they come from
/// Occlum.json and the instance path and reach a terminal).
fn fail(what: &str, err: io::Error) -> ! {
    eprintln!("occlum-studio: sandbox: {what}: {err}");
    exit(1);
}

fn invalid(what: &str) -> ! {
    fail(what, io::Error::from(io::ErrorKind::InvalidInput))
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| invalid(s))
}

fn os_check(r: c_int, what: &str) {
    if r != 0 {
        fail(what, io::Error::last_os_error());
    }
}

/// A user namespace mapping 0 → uid and 0 → gid: the idmap of every staged mount. A forked
/// child enters it and waits; this process writes its maps (as root) and keeps a handle.
fn idmap_userns(uid: u32, gid: u32) -> File {
    let (mut ready, mut done) = ([0 as c_int; 2], [0 as c_int; 2]);
    // Close-on-exec: the sandboxed command must not inherit them.
    os_check(
        unsafe { pipe2(ready.as_mut_ptr(), O_CLOEXEC as c_int) },
        "cannot create a pipe",
    );
    os_check(
        unsafe { pipe2(done.as_mut_ptr(), O_CLOEXEC as c_int) },
        "cannot create a pipe",
    );
    let pid = unsafe { fork() };
    if pid < 0 {
        fail("cannot fork the user namespace holder", io::Error::last_os_error());
    }
    let mut byte = 0u8;
    if pid == 0 {
        // Child: only async-signal-safe calls until _exit. Each side closes the ends it does not
        // use, so a killed peer reads as end of file instead of blocking the other forever.
        unsafe {
            close(ready[0]);
            close(done[1]);
            let ok = (unshare(CLONE_NEWUSER) == 0) as u8;
            write(ready[1], &ok as *const u8 as *const c_void, 1);
            read(done[0], &mut byte as *mut u8 as *mut c_void, 1);
            _exit(0);
        }
    }
    unsafe {
        close(ready[1]);
        close(done[0]);
    }
    let n = unsafe { read(ready[0], &mut byte as *mut u8 as *mut c_void, 1) };
    if n != 1 || byte != 1 {
        fail(
            "cannot create a user namespace for the idmapped mounts",
            io::Error::last_os_error(),
        );
    }
    let proc = format!("/proc/{pid}");
    let put = |file: &str, text: String| {
        OpenOptions::new()
            .write(true)
            .open(format!("{proc}/{file}"))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .unwrap_or_else(|e| fail(&format!("cannot write {file} of the idmap namespace"), e));
    };
    put("uid_map", format!("0 {uid} 1\n"));
    put("setgroups", "deny\n".into());
    put("gid_map", format!("0 {gid} 1\n"));
    let ns = File::open(format!("{proc}/ns/user")).unwrap_or_else(|e| fail("cannot open the idmap namespace", e));
    unsafe {
        write(done[1], &byte as *const u8 as *const c_void, 1);
        close(done[1]);
        close(ready[0]);
        waitpid(pid, std::ptr::null_mut(), 0);
    }
    ns
}

/// A detached copy of the mount at `source` (not following a final symlink), idmapped.
fn idmapped_tree(source: &str, userns: &File) -> OwnedFd {
    // Sources are canonical paths: resolving them without following any symlink means a link
    // swapped in after the studio checked them is refused, not followed.
    let path = cstr(source);
    let how = OpenHow {
        flags: (O_PATH | O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    let size = std::mem::size_of::<OpenHow>() as c_long;
    let dir = unsafe { syscall(SYS_OPENAT2, AT_FDCWD, path.as_ptr(), &how as *const OpenHow, size) };
    if dir < 0 {
        let e = io::Error::last_os_error();
        let why = if e.raw_os_error() == Some(ELOOP) {
            "a symbolic link is in the path; refused".into()
        } else {
            e.to_string()
        };
        fail(&format!("cannot open {source:?}"), io::Error::other(why));
    }
    let dir = unsafe { OwnedFd::from_raw_fd(dir as c_int) };
    let empty = cstr("");
    let flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    let fd = unsafe { syscall(SYS_OPEN_TREE, dir.as_raw_fd() as c_long, empty.as_ptr(), flags) };
    if fd < 0 {
        fail(&format!("cannot open {source:?}"), io::Error::last_os_error());
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let size = std::mem::size_of::<MountAttr>() as c_long;
    let attr_ptr = &attr as *const MountAttr;
    if unsafe {
        syscall(
            SYS_MOUNT_SETATTR,
            fd.as_raw_fd() as c_long,
            empty.as_ptr(),
            AT_EMPTY_PATH,
            attr_ptr,
            size,
        )
    } != 0
    {
        let e = io::Error::last_os_error();
        eprintln!(
            "occlum-studio: sandbox: the file system of {source:?} does not support idmapped mounts ({e}); as root \
             the program runs as an unprivileged uid and needs them (ext4, xfs, btrfs and tmpfs have them): put it \
             on such a file system, or run occlum-studio as a normal user"
        );
        exit(1);
    }
    fd
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(sep) = args.iter().position(|a| a == "--") else {
        invalid("usage: see docs/backends.md")
    };
    let (head, command) = (&args[..sep], &args[sep + 1..]);
    if head.len() < 4 || command.is_empty() {
        invalid("usage: occlum-studio-stage UID GID STAGE SECCOMP|- [dir:REL | bind:NAME=SOURCE]... -- COMMAND...");
    }
    let id = |s: &str| s.parse::<u32>().unwrap_or_else(|_| invalid(&format!("bad id {s:?}")));
    let (uid, gid, stage, seccomp) = (id(&head[0]), id(&head[1]), head[2].as_str(), head[3].as_str());
    if uid == 0 || gid == 0 {
        invalid("the sandbox uid and gid must not be 0");
    }
    let mut dirs: Vec<&str> = Vec::new();
    let mut binds: Vec<(&str, &str)> = Vec::new();
    for a in &head[4..] {
        if let Some(rel) = a.strip_prefix("dir:") {
            if rel.split('/').any(|c| c == ".." || c.is_empty()) {
                invalid(&format!("bad argument {a:?}"));
            }
            dirs.push(rel);
        } else if let Some((name, src)) = a.strip_prefix("bind:").and_then(|b| b.split_once('=')) {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                invalid(&format!("bad argument {a:?}"));
            }
            binds.push((name, src));
        } else {
            invalid(&format!("bad argument {a:?}"));
        }
    }

    // A private mount namespace: nothing below is visible on the host, and it all goes with it.
    os_check(unsafe { unshare(CLONE_NEWNS) }, "cannot create a mount namespace");
    let (none, root) = (cstr("none"), cstr("/"));
    let private = unsafe {
        mount(
            none.as_ptr(),
            root.as_ptr(),
            std::ptr::null(),
            MS_REC | MS_PRIVATE,
            std::ptr::null(),
        )
    };
    os_check(private, "cannot make the mount namespace private");
    // Opened as root and before STAGE is covered: the file may lie under it.
    let seccomp_file =
        (seccomp != "-").then(|| File::open(seccomp).unwrap_or_else(|e| fail(&format!("cannot open {seccomp:?}"), e)));
    let userns = idmap_userns(uid, gid);
    let trees: Vec<(&str, OwnedFd)> = binds.iter().map(|(n, s)| (*n, idmapped_tree(s, &userns))).collect();
    drop(userns);
    let (src, target, fstype, opts) = (cstr("occlum-stage"), cstr(stage), cstr("tmpfs"), cstr("mode=0755"));
    let flags = MS_NOSUID | MS_NODEV;
    let r = unsafe {
        mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            opts.as_ptr() as *const c_void,
        )
    };
    os_check(r, &format!("cannot mount the staging tmpfs at {stage:?}"));
    for d in &dirs {
        fs::create_dir_all(format!("{stage}/{d}"))
            .unwrap_or_else(|e| fail(&format!("cannot create {:?}", format!("{stage}/{d}")), e));
    }
    let empty = cstr("");
    for (name, fd) in trees {
        let at = format!("{stage}/{name}");
        fs::create_dir(&at).unwrap_or_else(|e| fail(&format!("cannot create {at:?}"), e));
        let to = cstr(&at);
        let r = unsafe {
            syscall(
                SYS_MOVE_MOUNT,
                fd.as_raw_fd() as c_long,
                empty.as_ptr(),
                AT_FDCWD,
                to.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if r != 0 {
            fail(
                &format!("cannot attach the idmapped mount at {at:?}"),
                io::Error::last_os_error(),
            );
        }
    }

    if let Some(f) = seccomp_file {
        // bwrap reads it as fd 9, which must survive exec (std opens with close-on-exec).
        let fd = f.into_raw_fd();
        let r = unsafe {
            if fd == SECCOMP_FD {
                fcntl(fd, F_SETFD, 0 as c_int)
            } else {
                let r = dup2(fd, SECCOMP_FD);
                close(fd);
                r.min(0)
            }
        };
        os_check(r, "cannot pass the seccomp filter");
    }
    // Groups first, then gid, then uid: leaving uid 0 clears every capability.
    os_check(
        unsafe { setgroups(0, std::ptr::null()) },
        "cannot clear the supplementary groups",
    );
    os_check(unsafe { setresgid(gid, gid, gid) }, "cannot switch to the sandbox gid");
    os_check(unsafe { setresuid(uid, uid, uid) }, "cannot switch to the sandbox uid");
    let err = Command::new(OsStr::new(&command[0])).args(&command[1..]).exec();
    fail(&format!("cannot run {:?}", command[0]), err);
}
