//! Who tried fork() in a host-backend run (docs/security.md, "Fork attempts"). Occlum has no fork,
//! so the sandbox fails it with ENOSYS; to say so after the run, whatever the program printed,
//! the fork rule is a seccomp filter whose action is SECCOMP_RET_USER_NOTIF, installed inside the
//! sandbox by the fork shim (src/bin/occlum-studio-forkshim.rs) with a listener that the shim
//! sends here over a unix socket. This side (a thread of the addon, outside the sandbox) answers
//! every notification with -ENOSYS and counts them per command name. When the listener is gone
//! (this process died, or the watch was taken), the kernel fails the same calls with ENOSYS
//! itself, so the counting can only ever lose a hint, never allow a fork.
//!
//! The descriptors the stager passes through bwrap to the shim are fixed numbers, shared here.

use crate::error::{Error, Kind, Result};
use crate::ops::js;
use std::collections::{BTreeMap, HashSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::{c_int, c_ulong, c_void};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

/// The fork filter (classic BPF, from src/core/sandbox/seccomp.ts), read and closed by the shim.
pub const FILTER_FD: RawFd = 9;
/// The connected unix socket the shim sends the listener on.
pub const SOCKET_FD: RawFd = 10;
/// The shim binary, which bwrap executes as /proc/self/fd/11 (no path of it in the image).
pub const SHIM_FD: RawFd = 11;

const AF_UNIX: c_int = 1;
const SOCK_STREAM: c_int = 1;
const SOCK_CLOEXEC: c_int = 0o2000000;
const SOL_SOCKET: c_int = 1;
const SCM_RIGHTS: c_int = 1;
const SO_PEERCRED: c_int = 17;
const MSG_CMSG_CLOEXEC: c_int = 0x4000_0000;
const MSG_NOSIGNAL: c_int = 0x4000;
const POLLIN: i16 = 1;
const POLLHUP: i16 = 0x10;
const POLLERR: i16 = 8;
const EINTR: i32 = 4;
const ENOSYS: i32 = 38;
// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
const SECCOMP_IOCTL_NOTIF_RECV: c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: c_ulong = 0xc018_2101;

extern "C" {
    fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int;
    fn bind(fd: c_int, addr: *const SockaddrUn, len: u32) -> c_int;
    fn listen(fd: c_int, backlog: c_int) -> c_int;
    fn accept4(fd: c_int, addr: *mut c_void, len: *mut u32, flags: c_int) -> c_int;
    fn connect(fd: c_int, addr: *const SockaddrUn, len: u32) -> c_int;
    fn sendmsg(fd: c_int, msg: *const MsgHdr, flags: c_int) -> isize;
    fn recvmsg(fd: c_int, msg: *mut MsgHdr, flags: c_int) -> isize;
    fn poll(fds: *mut PollFd, n: c_ulong, timeout: c_int) -> c_int;
    fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut u32) -> c_int;
    fn getuid() -> u32;
}

#[repr(C)]
pub struct SockaddrUn {
    family: u16,
    path: [u8; 108],
}

#[repr(C)]
struct IoVec {
    base: *mut c_void,
    len: usize,
}

#[repr(C)]
struct MsgHdr {
    name: *mut c_void,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut c_void,
    controllen: usize,
    flags: c_int,
}

/// A control message with one descriptor (struct cmsghdr + int, padded as CMSG_SPACE(4)).
#[repr(C)]
#[derive(Default)]
struct FdCmsg {
    len: usize,
    level: c_int,
    ty: c_int,
    fd: c_int,
    _pad: c_int,
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

/// struct seccomp_notif: id, pid, flags, then struct seccomp_data (nr, arch, ip, args[6]).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

fn last_error(what: &str) -> Error {
    Error::io(std::io::Error::last_os_error(), what)
}

/// The address of a unix socket at `path` (at most 107 bytes).
pub fn unix_address(path: &str) -> Option<SockaddrUn> {
    let b = path.as_bytes();
    if b.len() >= 108 || b.contains(&0) {
        return None;
    }
    let mut a = SockaddrUn {
        family: AF_UNIX as u16,
        path: [0; 108],
    };
    a.path[..b.len()].copy_from_slice(b);
    Some(a)
}

/// A stream socket connected to `path` (close-on-exec), or the OS error. The listening side
/// must run as this process's uid (SO_PEERCRED): a socket someone else put at `path` (a temp dir
/// another user can rename entries of) would receive the program's seccomp listener.
pub fn connect_unix(path: &str) -> std::io::Result<OwnedFd> {
    let addr = unix_address(path).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: plain system calls on a descriptor this function owns.
    unsafe {
        let fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        if connect(fd.as_raw_fd(), &addr, std::mem::size_of::<SockaddrUn>() as u32) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // struct ucred: pid, uid, gid.
        let mut cred = [0u32; 3];
        let mut len = std::mem::size_of_val(&cred) as u32;
        let got = getsockopt(
            fd.as_raw_fd(),
            SOL_SOCKET,
            SO_PEERCRED,
            cred.as_mut_ptr() as *mut c_void,
            &mut len,
        );
        if got != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if cred[1] != getuid() {
            let who = format!(
                "its listener runs as uid {}, not {}: not the studio's; refused",
                cred[1],
                getuid()
            );
            return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, who));
        }
        Ok(fd)
    }
}

/// Sends `fd` over the unix socket `sock` (SCM_RIGHTS, one byte of data); true when sent.
pub fn send_fd(sock: RawFd, fd: RawFd) -> bool {
    let mut byte = 0u8;
    let mut iov = IoVec {
        base: &mut byte as *mut u8 as *mut c_void,
        len: 1,
    };
    let mut c = FdCmsg {
        len: std::mem::size_of::<usize>() + 8 + 4,
        level: SOL_SOCKET,
        ty: SCM_RIGHTS,
        fd,
        _pad: 0,
    };
    let msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &mut iov,
        iovlen: 1,
        control: &mut c as *mut FdCmsg as *mut c_void,
        controllen: std::mem::size_of::<FdCmsg>(),
        flags: 0,
    };
    // SAFETY: every pointer in msg points at a live local.
    unsafe { sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 }
}

/// Receives one descriptor sent by `send_fd` (close-on-exec); None at end of file or without one.
fn recv_fd(sock: RawFd) -> Option<OwnedFd> {
    let mut byte = 0u8;
    let mut iov = IoVec {
        base: &mut byte as *mut u8 as *mut c_void,
        len: 1,
    };
    let mut c = FdCmsg::default();
    let mut msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &mut iov,
        iovlen: 1,
        control: &mut c as *mut FdCmsg as *mut c_void,
        controllen: std::mem::size_of::<FdCmsg>(),
        flags: 0,
    };
    // SAFETY: as in send_fd; a received descriptor is owned from here on.
    let n = unsafe { recvmsg(sock, &mut msg, MSG_CMSG_CLOEXEC) };
    if n <= 0 || c.level != SOL_SOCKET || c.ty != SCM_RIGHTS || c.len < std::mem::size_of::<usize>() + 12 {
        return None;
    }
    Some(unsafe { OwnedFd::from_raw_fd(c.fd) })
}

/// Names a report keeps: the program picks its comm (prctl), so a fork loop renaming itself each
/// time would otherwise grow the report, and the hint printed from it, without end.
const MAX_NAMES: usize = 8;
/// Processes counted per name: thread ids are not reused at once, so a loop of threads would
/// otherwise grow the set up to the system's pid limit.
const MAX_PROCESSES: usize = 1024;

/// What a watch saw: fork attempts per command name (the kernel's comm, up to 15 bytes), for
/// the first MAX_NAMES names; attempts under any later name are only counted.
#[derive(Default)]
struct Report {
    connected: bool,
    by_comm: BTreeMap<String, (u64, HashSet<u32>)>,
    others: u64,
}

impl Report {
    fn add(&mut self, comm: String, pid: u32) {
        if self.by_comm.len() >= MAX_NAMES && !self.by_comm.contains_key(&comm) {
            self.others += 1;
            return;
        }
        let e = self.by_comm.entry(comm).or_default();
        e.0 += 1;
        if e.1.len() < MAX_PROCESSES {
            e.1.insert(pid);
        }
    }

    fn json(&self) -> String {
        let total: u64 = self.by_comm.values().map(|(n, _)| n).sum::<u64>() + self.others;
        let rows: Vec<String> = self
            .by_comm
            .iter()
            .map(|(comm, (n, pids))| format!("{{\"comm\":{},\"count\":{n},\"processes\":{}}}", js(comm), pids.len()))
            .collect();
        format!(
            "{{\"connected\":{},\"total\":{total},\"byComm\":[{}],\"others\":{}}}",
            self.connected,
            rows.join(","),
            self.others
        )
    }
}

fn poll_two(a: RawFd, stop: RawFd) -> (i16, bool) {
    let mut fds = [
        PollFd {
            fd: a,
            events: POLLIN,
            revents: 0,
        },
        PollFd {
            fd: stop,
            events: POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: fds is a live array of two; a negative fd is ignored by poll.
        let r = unsafe { poll(fds.as_mut_ptr(), 2, -1) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(EINTR) {
            return (fds[0].revents, fds[1].revents != 0);
        }
    }
}

fn is_seccomp_listener(fd: &OwnedFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|l| l.as_os_str() == "anon_inode:seccomp notify")
        .unwrap_or(false)
}

/// Answers one notification with -ENOSYS, counting it first (so a run's end sees every attempt).
fn answer(listener: RawFd, report: &Mutex<Report>) {
    let mut n = Notif::default();
    // SAFETY: n is a zeroed struct seccomp_notif, as the kernel requires.
    if unsafe { ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &mut n as *mut Notif) } != 0 {
        return; // the caller went away (ENOENT) or a signal: nothing to answer
    }
    let comm = std::fs::read(format!("/proc/{}/comm", n.pid))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\n').to_string())
        .unwrap_or_else(|_| "?".into());
    report.lock().unwrap_or_else(|p| p.into_inner()).add(comm, n.pid);
    let resp = NotifResp {
        id: n.id,
        val: 0,
        error: -ENOSYS,
        flags: 0,
    };
    // SAFETY: resp is a complete struct seccomp_notif_resp.
    unsafe { ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp as *const NotifResp) };
}

/// The watch's thread: accept the shim's one connection, take the listener it sends, answer
/// until every process of the filter is gone or `stop` is readable.
fn supervise(listening: OwnedFd, path: String, stop: OwnedFd, report: &Mutex<Report>) {
    let mut listening = Some(listening);
    let mut conn: Option<OwnedFd> = None;
    let mut listener: Option<OwnedFd> = None;
    loop {
        let cur = listener
            .as_ref()
            .or(conn.as_ref())
            .or(listening.as_ref())
            .map_or(-1, |f| f.as_raw_fd());
        let (ev, stopped) = poll_two(cur, stop.as_raw_fd());
        if ev != 0 {
            if let Some(l) = &listener {
                if ev & POLLIN != 0 {
                    answer(l.as_raw_fd(), report);
                } else if ev & (POLLHUP | POLLERR) != 0 {
                    listener = None; // no process uses the filter any more
                }
            } else if let Some(c) = &conn {
                listener = recv_fd(c.as_raw_fd()).filter(is_seccomp_listener);
                report.lock().unwrap_or_else(|p| p.into_inner()).connected = listener.is_some();
                conn = None;
            } else if let Some(l) = &listening {
                // SAFETY: accept on our listening socket; the result is owned at once.
                let fd = unsafe { accept4(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), SOCK_CLOEXEC) };
                if fd >= 0 {
                    conn = Some(unsafe { OwnedFd::from_raw_fd(fd) });
                    listening = None; // one shim per watch: nobody else gets to connect
                    let _ = std::fs::remove_file(&path);
                }
            }
            continue; // pending notifications are answered before a stop is honoured
        }
        if stopped {
            break;
        }
    }
    if listening.is_some() {
        let _ = std::fs::remove_file(&path);
    }
}

struct Watch {
    stop: OwnedFd,
    thread: JoinHandle<()>,
    report: std::sync::Arc<Mutex<Report>>,
}

fn watches() -> &'static Mutex<(u32, BTreeMap<u32, Watch>)> {
    static W: OnceLock<Mutex<(u32, BTreeMap<u32, Watch>)>> = OnceLock::new();
    W.get_or_init(|| Mutex::new((0, BTreeMap::new())))
}

/// Starts a watch listening at `path` (a new socket in a directory only the studio can reach).
pub fn open(path: &str) -> Result<u32> {
    let addr = unix_address(path)
        .ok_or_else(|| Error::new(Kind::Usage, format!("{path}: too long for a unix socket path")))?;
    // SAFETY: plain system calls; every descriptor is owned as soon as it exists.
    let listening = unsafe {
        let fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(last_error("socket"));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        if bind(fd.as_raw_fd(), &addr, std::mem::size_of::<SockaddrUn>() as u32) != 0 {
            return Err(last_error(path));
        }
        if listen(fd.as_raw_fd(), 1) != 0 {
            return Err(last_error(path));
        }
        fd
    };
    let mut p = [0 as c_int; 2];
    // SAFETY: p receives two new descriptors.
    if unsafe { pipe2(p.as_mut_ptr(), SOCK_CLOEXEC) } != 0 {
        return Err(last_error("pipe2"));
    }
    let (stop_r, stop_w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    let report = std::sync::Arc::new(Mutex::new(Report::default()));
    let (r2, path2) = (report.clone(), path.to_string());
    let thread = std::thread::Builder::new()
        .name("fork-watch".into())
        .spawn(move || supervise(listening, path2, stop_r, &r2))
        .map_err(|e| Error::io(e, "fork watch thread"))?;
    let mut w = watches().lock().unwrap_or_else(|p| p.into_inner());
    w.0 += 1;
    let id = w.0;
    w.1.insert(
        id,
        Watch {
            stop: stop_w,
            thread,
            report,
        },
    );
    Ok(id)
}

/// Ends a watch and returns its report as JSON: {connected, total, byComm: [{comm, count, processes}],
/// others} (`others`: attempts under names beyond the first MAX_NAMES).
pub fn take(id: &str) -> Result<String> {
    let id: u32 = id
        .parse()
        .map_err(|_| Error::new(Kind::Usage, "fork watch id must be a number"))?;
    let w = watches().lock().unwrap_or_else(|p| p.into_inner()).1.remove(&id);
    let w = w.ok_or_else(|| Error::new(Kind::Usage, "no such fork watch"))?;
    let byte = 1u8;
    // SAFETY: one byte to our own pipe.
    unsafe { write(w.stop.as_raw_fd(), &byte as *const u8 as *const c_void, 1) };
    let _ = w.thread.join();
    let json = w.report.lock().unwrap_or_else(|p| p.into_inner()).json();
    Ok(json)
}
