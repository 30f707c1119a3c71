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
//!
//!   occlum-studio-stage --wait UID GID STAGE
//!
//! A sandbox prepared ahead (docs/dev-loop.md, "Prepared sandbox"): as root it makes the idmap
//! user namespace now, then waits on stdin for the go, which carries everything that depends on
//! the build or on the host's mounts at launch time (read only once the build is in place: the
//! mount sources, the overlay, the limits, the bwrap command line). Then, without another
//! exec, it stages the mounts as above, drops to UID/GID, makes the program's user and mount
//! namespaces (uid 0 mapped to UID, as `unshare --map-root-user`), mounts the overlay and the
//! ramfs tmpfs, sets the soft limits and executes bwrap. Not as root, the root part is skipped
//! (UID/GID must be the caller's). The go is `LEN\n` then LEN bytes of tokens, each hex-encoded
//! and ended by a space; end of file before it (the studio went away or dropped it) ends the
//! process quietly. Only the holder of its stdin can start it.
//!
//!   occlum-studio-stage --wait-on FD UID GID STAGE
//!
//! The same with the go on the inherited pipe FD instead of stdin (the Run pane: the stager runs
//! in the tab's pty, which stays its stdin, and becomes the program's terminal). FD is closed
//! before the program starts; end of file on it before the go ends the process quietly.
//!
//!   occlum-studio-stage --now UID GID STAGE TOKEN...
//!
//! The same with the go's tokens as arguments (not hex-encoded), at once: a run's whole sandbox
//! set-up in one process, stdin left as it is.
//!
//!   occlum-studio-stage --scope [pin FD PATH DEV:INO]... -- COMMAND [ARG]...
//!
//! An exec into a server (src/core/sandbox/launch.ts): run inside the server's namespaces, it puts
//! itself in a Landlock domain that scopes abstract unix sockets (below) and executes COMMAND
//! (prlimit, bwrap), passing on only 0, 1, 2, the seccomp filter on fd 9 and its pins (below).
//!
//! Pins (`pin FD PATH DEV:INO`, a go's token or before --scope's `--`): the entries of the instance
//! that a hostfs view of it pins onto themselves (docs/security.md). Each is opened without
//! following any link and must still be the inode the studio checked; bwrap binds it from FD
//! (`--bind-fd`), so an entry swapped for a link after the check is refused, not bound.
//!
//! Before it executes bwrap, --wait, --wait-on and --now put the process in a Landlock domain
//! (native/src/landlock.rs, docs/security.md "Abstract unix sockets") that scopes abstract unix
//! sockets and signals: the program cannot reach the host's abstract sockets (an X server's) nor
//! signal a process outside its sandbox. On a kernel without Landlock ABI 6 one warning line goes
//! to stderr (the program's) and the run goes on.
//!
//! A go's `forkwatch SOCKET SHIM` (docs/security.md, "Fork attempts") connects to the studio's
//! fork watch at SOCKET and opens SHIM, before STAGE is covered, and passes them to bwrap's
//! command on fds 10 and 11 (the `seccomp` file on fd 9 is then the shim's, not bwrap's).
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

use occlum_studio_native::fork_watch::{connect_unix, FILTER_FD as SECCOMP_FD, SHIM_FD, SOCKET_FD};
use occlum_studio_native::landlock::{scope_or_warn, SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL};

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
    fn getuid() -> c_uint;
    fn getgid() -> c_uint;
    fn setrlimit(resource: c_int, rlim: *const [u64; 2]) -> c_int;
    fn getrlimit(resource: c_int, rlim: *mut [u64; 2]) -> c_int;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn prctl(option: c_int, arg: c_ulong, ...) -> c_int;
}

// The new mount API has the same numbers on every architecture (asm-generic). Variadic
// syscall() reads every argument as a long, so each is passed as one.
const SYS_OPEN_TREE: c_long = 428;
const SYS_MOVE_MOUNT: c_long = 429;
const SYS_MOUNT_SETATTR: c_long = 442;
const SYS_OPENAT2: c_long = 437;
const SYS_CLOSE_RANGE: c_long = 436;
const CLOSE_RANGE_CLOEXEC: c_long = 4;
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
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;
const PR_SET_DUMPABLE: c_int = 4;
const RLIMIT_STACK: c_int = 3;
const RLIMIT_AS: c_int = 9;
/// Largest go message accepted (a command line is at most a few hundred KiB).
const MAX_GO: usize = 4 << 20;

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

/// An O_PATH descriptor of `path`, resolved without following any symlink. Paths are canonical
/// (the studio resolved and checked them): a link swapped in since then is refused, not followed.
fn open_no_symlinks(path: &str) -> OwnedFd {
    let c = cstr(path);
    let how = OpenHow {
        flags: (O_PATH | O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    let size = std::mem::size_of::<OpenHow>() as c_long;
    let fd = unsafe { syscall(SYS_OPENAT2, AT_FDCWD, c.as_ptr(), &how as *const OpenHow, size) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        let why = if e.raw_os_error() == Some(ELOOP) {
            "a symbolic link is in the path (put there since the studio checked it); refused, nothing is bound".into()
        } else {
            e.to_string()
        };
        fail(&format!("cannot open {path:?}"), io::Error::other(why));
    }
    unsafe { OwnedFd::from_raw_fd(fd as c_int) }
}

/// An entry of the instance pinned in a hostfs view (src/core/sandbox/mounts.ts): bwrap binds it
/// from descriptor FD (`--bind-fd`), which holds the inode the studio checked (device:inode ID).
struct Pin {
    fd: c_int,
    path: String,
    id: String,
}

/// Parses `FD PATH DEV:INO` (after a `pin` token).
fn parse_pin(fd: String, path: String, id: String) -> Pin {
    let fd = fd
        .parse::<c_int>()
        .ok()
        .filter(|&n| n > SHIM_FD && n < 1024)
        .unwrap_or_else(|| invalid(&format!("bad pin descriptor {fd:?}")));
    Pin { fd, path, id }
}

/// Opens each pin without following links, checks it is still the inode the studio checked, and
/// puts it on its descriptor for bwrap (which closes it once bound). A pin swapped since the
/// check (by a program of a running server, through a hostfs view) stops the launch.
fn pass_pins(pins: &[Pin]) {
    use std::os::unix::fs::MetadataExt;
    for p in pins {
        let fd = open_no_symlinks(&p.path);
        let st = File::from(
            fd.try_clone()
                .unwrap_or_else(|e| fail("cannot duplicate a descriptor", e)),
        )
        .metadata()
        .unwrap_or_else(|e| fail(&format!("cannot stat {:?}", p.path), e));
        if format!("{}:{}", st.dev(), st.ino()) != p.id {
            fail(
                &format!("cannot pin {:?}", p.path),
                io::Error::other("it was replaced since the studio checked it; refused, nothing is bound"),
            );
        }
        pass_fd(fd, p.fd, "a pinned entry");
    }
}

/// A detached copy of the mount at `source` (not following a final symlink), idmapped.
fn idmapped_tree(source: &str, userns: &File) -> OwnedFd {
    let dir = open_no_symlinks(source);
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

/// What the root part stages: `dir:REL` and `bind:NAME=SOURCE` arguments.
struct Staging<'a> {
    dirs: Vec<&'a str>,
    binds: Vec<(&'a str, &'a str)>,
}

fn parse_staging<'a>(args: &'a [String]) -> Staging<'a> {
    let mut st = Staging {
        dirs: Vec::new(),
        binds: Vec::new(),
    };
    for a in args {
        if let Some(rel) = a.strip_prefix("dir:") {
            if rel.split('/').any(|c| c == ".." || c.is_empty()) {
                invalid(&format!("bad argument {a:?}"));
            }
            st.dirs.push(rel);
        } else if let Some((name, src)) = a.strip_prefix("bind:").and_then(|b| b.split_once('=')) {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                invalid(&format!("bad argument {a:?}"));
            }
            st.binds.push((name, src));
        } else {
            invalid(&format!("bad argument {a:?}"));
        }
    }
    st
}

fn parse_id(s: &str) -> u32 {
    let id = s.parse::<u32>().unwrap_or_else(|_| invalid(&format!("bad id {s:?}")));
    if id == 0 {
        invalid("the sandbox uid and gid must not be 0");
    }
    id
}

/// A private mount namespace: nothing below is visible on the host, and it all goes with it.
fn private_mount_ns() {
    os_check(unsafe { unshare(CLONE_NEWNS) }, "cannot create a mount namespace");
    make_private();
}

fn make_private() {
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
}

/// The idmapped binds under a fresh tmpfs at STAGE (in this mount namespace only).
fn stage_mounts(stage: &str, st: &Staging, userns: &File) {
    let trees: Vec<(&str, OwnedFd)> = st.binds.iter().map(|(n, s)| (*n, idmapped_tree(s, userns))).collect();
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
    for d in &st.dirs {
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
}

/// Puts `fd` on descriptor `at` for bwrap or the shim (std opens with close-on-exec; `at` must
/// survive exec).
fn pass_fd(fd: OwnedFd, at: c_int, what: &str) {
    let fd = fd.into_raw_fd();
    let r = unsafe {
        if fd == at {
            fcntl(fd, F_SETFD, 0 as c_int)
        } else {
            let r = dup2(fd, at);
            close(fd);
            r.min(0)
        }
    };
    os_check(r, &format!("cannot pass {what}"));
}

/// Groups first, then gid, then uid: leaving uid 0 clears every capability.
fn drop_to(uid: u32, gid: u32) {
    os_check(
        unsafe { setgroups(0, std::ptr::null()) },
        "cannot clear the supplementary groups",
    );
    os_check(unsafe { setresgid(gid, gid, gid) }, "cannot switch to the sandbox gid");
    os_check(unsafe { setresuid(uid, uid, uid) }, "cannot switch to the sandbox uid");
}

fn exec(command: &[String]) -> ! {
    let err = Command::new(OsStr::new(&command[0])).args(&command[1..]).exec();
    fail(&format!("cannot run {:?}", command[0]), err);
}

/// Nothing the stager was started with beyond 0, 1 and 2 reaches the command: a descriptor its
/// starter left inheritable (node-pty leaves each terminal's master so) would let the program
/// read and type into another terminal. Marked close-on-exec, not closed: the go pipe is read first.
fn no_inherited_descriptors() {
    cloexec_beyond_stdio(None);
}

/// Marks every descriptor from 3 up close-on-exec, except `keep`.
fn cloexec_beyond_stdio(keep: Option<c_int>) {
    let max = c_uint::MAX as c_long;
    let ranges = match keep {
        Some(k) => [(3, k as c_long - 1), (k as c_long + 1, max)],
        None => [(3, max), (1, 0)],
    };
    let marked = ranges.iter().all(|&(first, last)| {
        first > last || unsafe { syscall(SYS_CLOSE_RANGE, first, last, CLOSE_RANGE_CLOEXEC) } == 0
    });
    if marked {
        return;
    }
    // Before Linux 5.11: one by one.
    let Ok(dir) = fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<c_int> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && Some(fd) != keep)
        .collect();
    for fd in fds {
        unsafe { fcntl(fd, F_SETFD, FD_CLOEXEC) };
    }
}

/// `--scope [pin FD PATH DEV:INO]... -- COMMAND...` (an exec into a server). Its starter passes the
/// seccomp filter on fd 9 and, as root, this binary itself on another descriptor: only fd 9 and
/// the pins go on.
fn scope_mode(args: &[String]) -> ! {
    const USAGE: &str = "usage: occlum-studio-stage --scope [pin FD PATH DEV:INO]... -- COMMAND [ARG]...";
    let sep = args.iter().position(|a| a == "--").unwrap_or_else(|| invalid(USAGE));
    if sep + 1 >= args.len() || sep % 4 != 0 {
        invalid(USAGE);
    }
    let pins: Vec<Pin> = args[..sep]
        .chunks(4)
        .map(|c| match c {
            [op, fd, path, id] if op == "pin" => parse_pin(fd.clone(), path.clone(), id.clone()),
            _ => invalid(USAGE),
        })
        .collect();
    cloexec_beyond_stdio(Some(SECCOMP_FD));
    pass_pins(&pins);
    // Signals are not scoped: a server's programs share one PID namespace, as one enclave's
    // processes do, and may signal each other (docs/security.md).
    scope_or_warn(SCOPE_ABSTRACT_UNIX_SOCKET).unwrap_or_else(|e| fail("cannot scope the exec with Landlock", e));
    exec(&args[sep + 1..]);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--scope") {
        scope_mode(&args[1..]);
    }
    no_inherited_descriptors();
    match args.first().map(String::as_str) {
        Some("--wait") => prepared_mode(&args[1..], Some(0)),
        Some("--wait-on") => {
            let fd = args
                .get(1)
                .and_then(|a| a.parse::<c_int>().ok())
                .filter(|&fd| fd > 2)
                .unwrap_or_else(|| invalid("usage: occlum-studio-stage --wait-on FD UID GID STAGE (FD > 2)"));
            prepared_mode(&args[2..], Some(fd))
        }
        Some("--now") => prepared_mode(&args[1..], None),
        _ => {}
    }
    let Some(sep) = args.iter().position(|a| a == "--") else {
        invalid("usage: see docs/backends.md")
    };
    let (head, command) = (&args[..sep], &args[sep + 1..]);
    if head.len() < 4 || command.is_empty() {
        invalid("usage: occlum-studio-stage UID GID STAGE SECCOMP|- [dir:REL | bind:NAME=SOURCE]... -- COMMAND...");
    }
    let (uid, gid, stage, seccomp) = (
        parse_id(&head[0]),
        parse_id(&head[1]),
        head[2].as_str(),
        head[3].as_str(),
    );
    let st = parse_staging(&head[4..]);
    private_mount_ns();
    // Opened as root and before STAGE is covered: the file may lie under it.
    let seccomp_file =
        (seccomp != "-").then(|| File::open(seccomp).unwrap_or_else(|e| fail(&format!("cannot open {seccomp:?}"), e)));
    let userns = idmap_userns(uid, gid);
    stage_mounts(stage, &st, &userns);
    drop(userns);
    if let Some(f) = seccomp_file {
        pass_fd(f.into(), SECCOMP_FD, "the seccomp filter");
    }
    drop_to(uid, gid);
    exec(command);
}

/// Reads exactly `buf.len()` bytes from `fd`; false at end of file.
fn read_exact_fd(fd: c_int, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        let n = unsafe { read(fd, buf[got..].as_mut_ptr() as *mut c_void, buf.len() - got) };
        if n == 0 {
            return false;
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        got += n as usize;
    }
    true
}

/// The go message: `LEN\n` (read a byte at a time) then LEN bytes of hex tokens; None at end of file.
fn read_go(fd: c_int) -> Option<Vec<String>> {
    let mut len = 0usize;
    loop {
        let mut b = [0u8; 1];
        if !read_exact_fd(fd, &mut b) {
            return None;
        }
        match b[0] {
            b'\n' => break,
            d @ b'0'..=b'9' if len <= MAX_GO => len = len * 10 + (d - b'0') as usize,
            _ => invalid("the go message is malformed"),
        }
    }
    if len > MAX_GO {
        invalid("the go message is too long");
    }
    let mut body = vec![0u8; len];
    if !read_exact_fd(fd, &mut body) {
        return None;
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => invalid("the go message is malformed"),
    };
    let tokens = body
        .split(|&c| c == b' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.len() % 2 != 0 {
                invalid("the go message is malformed");
            }
            let bytes: Vec<u8> = t.chunks(2).map(|p| hex(p[0]) << 4 | hex(p[1])).collect();
            String::from_utf8(bytes).unwrap_or_else(|_| invalid("the go message is malformed"))
        })
        .collect();
    Some(tokens)
}

/// The build-dependent part of a prepared sandbox, from the go message.
#[derive(Default)]
struct Go {
    staging: Vec<String>,
    seccomp: Option<String>,
    /// (socket, shim) of the fork watch: the shim is bwrap's command and reports fork attempts.
    fork_watch: Option<(String, String)>,
    /// (options, target) of the root overlay, then of each tmpfs.
    overlay: Option<(String, String)>,
    tmpfs: Vec<(String, String)>,
    rlimits: Vec<(c_int, u64)>,
    pins: Vec<Pin>,
    command: Vec<String>,
}

fn parse_go(tokens: Vec<String>) -> Go {
    let mut go = Go::default();
    let mut it = tokens.into_iter();
    let mut next = |what: &str| {
        it.next()
            .unwrap_or_else(|| invalid(&format!("the go message lacks {what}")))
    };
    loop {
        let op = next("its command");
        match op.as_str() {
            "stage" => go.staging.push(next("a staging argument")),
            "seccomp" => go.seccomp = Some(next("the seccomp file")),
            "forkwatch" => go.fork_watch = Some((next("the fork watch socket"), next("the fork shim"))),
            "overlay" => go.overlay = Some((next("overlay options"), next("the overlay target"))),
            "tmpfs" => go.tmpfs.push((next("tmpfs options"), next("the tmpfs target"))),
            "pin" => {
                let (fd, path, id) = (next("a pin descriptor"), next("a pin path"), next("a pin id"));
                go.pins.push(parse_pin(fd, path, id));
            }
            "rlimit" => {
                let res = match next("a limit").as_str() {
                    "as" => RLIMIT_AS,
                    "stack" => RLIMIT_STACK,
                    other => invalid(&format!("unknown limit {other:?}")),
                };
                let v = next("a limit value");
                go.rlimits
                    .push((res, v.parse().unwrap_or_else(|_| invalid(&format!("bad limit {v:?}")))));
            }
            "--" => break,
            other => invalid(&format!("unknown go operation {other:?}")),
        }
    }
    go.command = it.collect();
    if go.command.is_empty() {
        invalid("the go message has no command");
    }
    go
}

/// The program's own user and mount namespaces: uid 0 and gid 0 mapped to who we are now.
fn enter_user_ns(uid: u32, gid: u32) {
    os_check(
        unsafe { unshare(CLONE_NEWUSER | CLONE_NEWNS) },
        "cannot create the user namespace (are unprivileged user namespaces allowed?)",
    );
    let put = |file: &str, text: String| {
        OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/{file}"))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .unwrap_or_else(|e| fail(&format!("cannot write {file} of the user namespace"), e));
    };
    put("setgroups", "deny\n".into());
    put("uid_map", format!("0 {uid} 1\n"));
    put("gid_map", format!("0 {gid} 1\n"));
    make_private();
}

fn mount_fs(fstype: &str, source: &str, options: &str, target: &str) -> c_int {
    let (src, tgt, ty, data) = (cstr(source), cstr(target), cstr(fstype), cstr(options));
    unsafe {
        mount(
            src.as_ptr(),
            tgt.as_ptr(),
            ty.as_ptr(),
            0,
            data.as_ptr() as *const c_void,
        )
    }
}

/// `--wait UID GID STAGE`: the go comes on stdin (`go_fd` 0); `--wait-on FD …`: on FD. `--now UID
/// GID STAGE TOKEN...` (`go_fd` None): the go's tokens are the arguments (the cold launch: one exec
/// instead of unshare, sh, mount and prlimit). Except with `--wait`, stdin stays the caller's (a
/// terminal in the Run pane).
fn prepared_mode(args: &[String], go_fd: Option<c_int>) -> ! {
    let wait = go_fd.is_some();
    if args.len() < 3 || (wait && args.len() != 3) {
        invalid("usage: occlum-studio-stage --wait | --wait-on FD | --now, then UID GID STAGE (--now: TOKEN...)");
    }
    let (uid, gid, stage) = (parse_id(&args[0]), parse_id(&args[1]), args[2].as_str());
    let privileged = unsafe { getuid() } == 0;
    if !privileged && (uid != unsafe { getuid() } || gid != unsafe { getgid() }) {
        invalid("not as root, UID and GID must be the caller's");
    }
    let now = (!wait).then(|| parse_go(args[3..].to_vec()));
    // Made ahead: the idmap user namespace (a fork and its maps), which nothing on the host changes.
    let userns = privileged.then(|| idmap_userns(uid, gid));
    let go = match now {
        Some(go) => go,
        None => {
            let fd = go_fd.unwrap_or(0);
            let Some(tokens) = read_go(fd) else { exit(0) };
            if fd == 0 {
                // The program's stdin is not the go channel: it gets /dev/null, as an unconnected stdin.
                let null = cstr("/dev/null");
                let fd = unsafe { open(null.as_ptr(), O_CLOEXEC as c_int) };
                if fd < 0 || unsafe { dup2(fd, 0) } != 0 {
                    fail("cannot open /dev/null", io::Error::last_os_error());
                }
                unsafe { close(fd) };
            } else {
                unsafe { close(fd) };
            }
            parse_go(tokens)
        }
    };
    // The mount namespace is copied now, not ahead: a prepared sandbox sees the host's mounts as
    // they are at its go, and pins none of them while it waits.
    if privileged {
        private_mount_ns();
    }
    let seccomp_file = go
        .seccomp
        .as_ref()
        .map(|s| File::open(s).unwrap_or_else(|e| fail(&format!("cannot open {s:?}"), e)));
    // Like the filter: reached as the studio's user (or root) and before STAGE (/tmp) is covered.
    let fork_watch = go.fork_watch.as_ref().map(|(socket, shim)| {
        let conn = connect_unix(socket).unwrap_or_else(|e| fail(&format!("cannot reach the fork watch {socket:?}"), e));
        let shim = File::open(shim).unwrap_or_else(|e| fail(&format!("cannot open {shim:?}"), e));
        (conn, OwnedFd::from(shim))
    });
    match &userns {
        Some(ns) => stage_mounts(stage, &parse_staging(&go.staging), ns),
        None if !go.staging.is_empty() => invalid("staging needs root"),
        None => {}
    }
    drop(userns);
    if let Some(f) = seccomp_file {
        pass_fd(f.into(), SECCOMP_FD, "the seccomp filter");
    }
    if let Some((conn, shim)) = fork_watch {
        pass_fd(conn, SOCKET_FD, "the fork watch socket");
        pass_fd(shim, SHIM_FD, "the fork shim");
    }
    if privileged {
        drop_to(uid, gid);
        // Leaving root made this process non-dumpable, so /proc/self (its uid_map) is root's. An
        // exec would reset that, as it does for `unshare` in the cold launch; there is no exec here,
        // so it is reset by hand: same state as that `unshare`, owned by the sandbox uid.
        os_check(unsafe { prctl(PR_SET_DUMPABLE, 1) }, "cannot make the process dumpable");
    }
    enter_user_ns(uid, gid);
    // In the program's mount namespace: bwrap finds a descriptor's path through /proc/self/fd
    // (realpath), which names a mount of another namespace (the staged ones, as root) wrongly.
    pass_pins(&go.pins);
    if let Some((opts, target)) = &go.overlay {
        if mount_fs("overlay", "occlum-root", opts, target) != 0 {
            eprintln!("occlum-studio: sandbox: cannot mount the root file system (overlayfs); see docs/backends.md");
            exit(1);
        }
    }
    for (opts, target) in &go.tmpfs {
        os_check(
            mount_fs("tmpfs", "occlum-ramfs", opts, target),
            &format!("cannot mount the ramfs tmpfs at {target:?}"),
        );
    }
    for &(res, soft) in &go.rlimits {
        let mut lim = [0u64; 2];
        os_check(unsafe { getrlimit(res, &mut lim) }, "cannot read a resource limit");
        lim[0] = soft;
        os_check(unsafe { setrlimit(res, &lim) }, "cannot set a resource limit");
    }
    // Last, before the program exists: uid 0 of its own user namespace has CAP_SYS_ADMIN there,
    // which landlock_restrict_self needs (no no_new_privs here).
    scope_or_warn(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
        .unwrap_or_else(|e| fail("cannot scope the sandbox with Landlock", e));
    exec(&go.command);
}
