//! Stages the host backend's sandbox when the studio runs as root (docs/backends.md, "Sandbox
//! identity"). Run as root inside the sandbox's private mount namespace, before the program's
//! launcher drops to the unprivileged sandbox uid:
//!
//!   occlum-studio-stage UID GID STAGE [dir:REL | bind:NAME=SOURCE]...
//!
//! Every SOURCE becomes an idmapped bind mount at STAGE/NAME on which files owned by host uid 0
//! appear owned by UID (and gid 0 by GID), so a program running as UID, which its user namespace
//! shows as root, can read and write the image, run and hostfs layers as before while the kernel
//! sees an unprivileged uid (it cannot write host sysctls or root-owned host files). What the
//! program creates is stored owned by host root, as before. STAGE is covered with a fresh tmpfs
//! (mode 0755, only in this namespace) so the unprivileged side can reach the mounts whatever the
//! permissions of the directories above the instance; `dir:REL` creates STAGE/REL there.
//! util-linux 2.38 has no idmapped mounts (X-mount.idmap is 2.39), hence this helper; std only.
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::process::{exit, Command, Stdio};

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn unshare(flags: c_int) -> c_int;
    fn mount(src: *const c_char, target: *const c_char, fstype: *const c_char, flags: c_ulong, data: *const c_void) -> c_int;
}

// The new mount API has the same numbers on every architecture (asm-generic). Variadic
// syscall() reads every argument as a long, so each is passed as one.
const SYS_OPEN_TREE: c_long = 428;
const SYS_MOVE_MOUNT: c_long = 429;
const SYS_MOUNT_SETATTR: c_long = 442;
const AT_FDCWD: c_int = -100;
const AT_EMPTY_PATH: c_uint = 0x1000;
const AT_SYMLINK_NOFOLLOW: c_uint = 0x100;
const OPEN_TREE_CLONE: c_uint = 1;
const OPEN_TREE_CLOEXEC: c_uint = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 4;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const CLONE_NEWUSER: c_int = 0x1000_0000;
const MS_NOSUID: c_ulong = 2;
const MS_NODEV: c_ulong = 4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn fail(what: &str, err: io::Error) -> ! {
    eprintln!("occlum-studio: sandbox: {what}: {err}");
    exit(1);
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| fail(s, io::Error::from(io::ErrorKind::InvalidInput)))
}

/// Child mode: enter a new user namespace, say so, and hold it until stdin closes.
fn hold_userns() -> ! {
    if unsafe { unshare(CLONE_NEWUSER) } != 0 {
        fail("cannot create a user namespace for the idmapped mounts", io::Error::last_os_error());
    }
    println!("ready");
    let _ = io::stdout().flush();
    let _ = io::stdin().read_to_end(&mut Vec::new());
    exit(0);
}

/// A user namespace mapping 0 → uid and 0 → gid: the idmap of every staged mount.
fn idmap_userns(uid: u32, gid: u32) -> File {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail("cannot find this helper", e));
    let mut child = Command::new(exe)
        .arg("--hold-userns")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail("cannot start the user namespace holder", e));
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = child.wait();
        fail("the user namespace holder did not start", io::Error::from(io::ErrorKind::Other));
    }
    let proc = format!("/proc/{}", child.id());
    let write = |file: &str, text: String| {
        OpenOptions::new()
            .write(true)
            .open(format!("{proc}/{file}"))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .unwrap_or_else(|e| fail(&format!("cannot write {file} of the idmap namespace"), e));
    };
    write("uid_map", format!("0 {uid} 1\n"));
    write("setgroups", "deny\n".into());
    write("gid_map", format!("0 {gid} 1\n"));
    let ns = File::open(format!("{proc}/ns/user")).unwrap_or_else(|e| fail("cannot open the idmap namespace", e));
    drop(child.stdin.take());
    let _ = child.wait();
    ns
}

/// A detached copy of the mount at `source`, idmapped through `userns`.
fn idmapped_tree(source: &str, userns: &File) -> OwnedFd {
    let path = cstr(source);
    let fd = unsafe { syscall(SYS_OPEN_TREE, AT_FDCWD as c_long, path.as_ptr(), (OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW) as c_long) };
    if fd < 0 {
        fail(&format!("cannot open {source}"), io::Error::last_os_error());
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
    let attr = MountAttr { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 };
    let empty = cstr("");
    let r = unsafe {
        syscall(
            SYS_MOUNT_SETATTR,
            fd.as_raw_fd() as c_long,
            empty.as_ptr(),
            AT_EMPTY_PATH as c_long,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>() as c_long,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        eprintln!(
            "occlum-studio: sandbox: the file system of {source} does not support idmapped mounts ({e}); as root the \
             program runs as an unprivileged uid and needs them (ext4, xfs, btrfs, tmpfs do): move the instance \
             there, or run occlum-studio as a normal user"
        );
        exit(1);
    }
    fd
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hold-userns") {
        hold_userns();
    }
    if args.len() < 3 {
        eprintln!("usage: occlum-studio-stage UID GID STAGE [dir:REL | bind:NAME=SOURCE]...");
        exit(2);
    }
    let id = |s: &str| s.parse::<u32>().unwrap_or_else(|_| fail(&format!("bad id {s}"), io::Error::from(io::ErrorKind::InvalidInput)));
    let (uid, gid, stage) = (id(&args[0]), id(&args[1]), args[2].as_str());
    let mut dirs: Vec<&str> = Vec::new();
    let mut binds: Vec<(&str, &str)> = Vec::new();
    for a in &args[3..] {
        let bad = || fail(&format!("bad argument {a}"), io::Error::from(io::ErrorKind::InvalidInput));
        if let Some(rel) = a.strip_prefix("dir:") {
            dirs.push(rel);
        } else if let Some((name, src)) = a.strip_prefix("bind:").and_then(|b| b.split_once('=')) {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                bad();
            }
            binds.push((name, src));
        } else {
            bad();
        }
    }
    if dirs.iter().any(|d| d.split('/').any(|c| c == ".." || c.is_empty())) {
        fail("bad dir: argument", io::Error::from(io::ErrorKind::InvalidInput));
    }
    let userns = idmap_userns(uid, gid);
    // Every tree is cloned before STAGE is covered: a source may lie under it.
    let trees: Vec<(&str, OwnedFd)> = binds.iter().map(|(n, s)| (*n, idmapped_tree(s, &userns))).collect();
    let (src, target, fstype, opts) = (cstr("occlum-stage"), cstr(stage), cstr("tmpfs"), cstr("mode=0755"));
    if unsafe { mount(src.as_ptr(), target.as_ptr(), fstype.as_ptr(), MS_NOSUID | MS_NODEV, opts.as_ptr() as *const c_void) } != 0 {
        fail(&format!("cannot mount the staging tmpfs at {stage}"), io::Error::last_os_error());
    }
    for d in &dirs {
        fs::create_dir_all(format!("{stage}/{d}")).unwrap_or_else(|e| fail(&format!("cannot create {stage}/{d}"), e));
    }
    let empty = cstr("");
    for (name, fd) in &trees {
        let at = format!("{stage}/{name}");
        fs::create_dir(&at).unwrap_or_else(|e| fail(&format!("cannot create {at}"), e));
        let to = cstr(&at);
        let r = unsafe { syscall(SYS_MOVE_MOUNT, fd.as_raw_fd() as c_long, empty.as_ptr(), AT_FDCWD as c_long, to.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH as c_long) };
        if r != 0 {
            fail(&format!("cannot attach the idmapped mount at {at}"), io::Error::last_os_error());
        }
    }
}
