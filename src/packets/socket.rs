//! A raw `AF_PACKET` socket on `lo` that receives the TCP segments of its network namespace, with the
//! kernel's timestamp of each.
//!
//! Made inside a private network namespace, it sees only what happens there: the connections of one
//! program, or of one `sockspec handshake`. On `lo` every frame starts with an Ethernet header of zeros
//! (14 bytes) and is seen twice, once leaving and once arriving: the leaving copy is refused
//! (`PACKET_IGNORE_OUTGOING`), so each segment is read once. A classic BPF filter keeps only TCP over
//! IPv4 and IPv6, cut to `snaplen` bytes, so a 64 KiB segment of a file transfer costs a copy of its
//! headers, not of its data.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Ethernet, the longest IPv4 header and the longest TCP header: what a summary of a segment needs.
pub const HEADERS_SNAPLEN: usize = 14 + 60 + 60;

/// How much receive buffer the kernel gives the socket (where it allows raising it): a burst of
/// full-size segments on `lo` is charged at their whole size even when cut, so a small buffer drops
/// segments of a fast transfer before the reader gets to them.
const RECEIVE_BUFFER: libc::c_int = 32 * 1024 * 1024;

/// One frame as received: its first bytes, and when the kernel saw it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The frame's first bytes, up to the socket's snap length (Ethernet header first).
    pub bytes: Vec<u8>,
    /// The kernel's timestamp, placed on this process's monotonic clock.
    pub at: Instant,
    /// The same timestamp on the wall clock.
    pub wall: SystemTime,
}

/// An `AF_PACKET` socket bound to `lo` of the namespace it was made in.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    snaplen: usize,
}

impl PacketSocket {
    /// Opens the socket in the calling thread's network namespace (call it from
    /// [`crate::grade::netns::NetNs::run`]). Needs `CAP_NET_RAW` in the user namespace owning that
    /// network namespace: root, or the owner of a user namespace that made it.
    pub fn open_lo(snaplen: usize) -> io::Result<PacketSocket> {
        // Protocol 0: nothing is received until the filter is attached and the socket bound, so no
        // frame gets past the filter in between.
        // SAFETY: socket(2) with constant arguments; the fd is owned at once.
        let fd = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: fd was just returned by socket(2) and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let socket = PacketSocket { fd, snaplen };
        socket.attach_tcp_filter()?;
        socket.set_int(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)?;
        socket.set_int(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
        // Best effort: without CAP_NET_ADMIN the default buffer stays, and losses are counted.
        let _ = socket
            .set_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RECEIVE_BUFFER)
            .or_else(|_| socket.set_int(libc::SOL_SOCKET, libc::SO_RCVBUF, RECEIVE_BUFFER));
        socket.bind_lo()?;
        Ok(socket)
    }

    fn set_int(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: setsockopt(2) with a pointer to an int that lives for the call.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Keeps TCP over IPv4 and IPv6, cut to `snaplen` bytes; drops everything else in the kernel.
    fn attach_tcp_filter(&self) -> io::Result<()> {
        const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
        const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
        const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        const RET: u16 = 0x06; // BPF_RET | BPF_K
        let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        let keep = u32::try_from(self.snaplen).unwrap_or(u32::MAX);
        let program = [
            op(LDH_ABS, 0, 0, 12),                   // 0: EtherType
            op(JEQ, 0, 2, libc::ETH_P_IP as u32),    // 1: IPv4 -> 2, else 4
            op(LDB_ABS, 0, 0, 14 + 9),               // 2: IPv4 protocol
            op(JEQ, 3, 4, libc::IPPROTO_TCP as u32), // 3: TCP -> 7, else 8
            op(JEQ, 0, 3, libc::ETH_P_IPV6 as u32),  // 4: IPv6 -> 5, else 8
            op(LDB_ABS, 0, 0, 14 + 6),               // 5: IPv6 next header
            op(JEQ, 0, 1, libc::IPPROTO_TCP as u32), // 6: TCP -> 7, else 8
            op(RET, 0, 0, keep),                     // 7: keep the first snaplen bytes
            op(RET, 0, 0, 0),                        // 8: drop
        ];
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: setsockopt(2) with a filter program that lives for the call (the kernel copies it).
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn bind_lo(&self) -> io::Result<()> {
        // SAFETY: if_nametoindex(3) on a NUL-terminated constant.
        let index = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        if index == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "this network has no `lo` interface",
            ));
        }
        // SAFETY: a zeroed sockaddr_ll is a valid value; the fields that matter are set below.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = index as i32;
        // SAFETY: bind(2) with a sockaddr_ll that lives for the call and its exact size.
        check(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Waits up to `wait` for a frame to read. False when none came.
    pub fn wait_readable(&self, wait: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: poll(2) on one pollfd that lives for the call.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => Ok(true),
            0 => Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The next frame queued, without waiting; `None` when the queue is empty.
    pub fn try_recv(&self) -> io::Result<Option<Frame>> {
        let mut buf = vec![0u8; self.snaplen.max(64)];
        // Room for one SCM_TIMESTAMPNS message (a timespec), aligned as cmsghdr needs.
        let mut control = [MaybeUninit::<u64>::uninit(); 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: a zeroed msghdr is valid; its pointers are set to buffers that outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 8]>() as _;
        // SAFETY: recvmsg(2) into the buffers above.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        buf.truncate(n as usize);
        let (now, wall_now) = (Instant::now(), SystemTime::now());
        // SAFETY: the control buffer was filled by recvmsg(2); the CMSG macros walk it within
        // msg_controllen.
        let stamp = unsafe { timestamp(&msg) };
        let wall = stamp.unwrap_or(wall_now);
        // The kernel stamps on the wall clock; the transcript counts on the monotonic one. The age of
        // the frame carries over (a frame is read microseconds to milliseconds after it was seen).
        let age = wall_now.duration_since(wall).unwrap_or_default();
        Ok(Some(Frame {
            bytes: buf,
            at: now.checked_sub(age).unwrap_or(now),
            wall,
        }))
    }

    /// Frames the kernel dropped since the last call, because the receive buffer was full.
    pub fn take_drops(&self) -> u64 {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt(2) into a tpacket_stats that lives for the call; the kernel resets the
        // counters as it reads them.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if ret == 0 {
            u64::from(stats.tp_drops)
        } else {
            0
        }
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The `SCM_TIMESTAMPNS` of a received message, if it carries one.
///
/// # Safety
/// `msg` must have been filled by `recvmsg(2)`, its control buffer still alive.
unsafe fn timestamp(msg: &libc::msghdr) -> Option<SystemTime> {
    let mut cmsg = libc::CMSG_FIRSTHDR(msg);
    while !cmsg.is_null() {
        let header = &*cmsg;
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
            let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
            return UNIX_EPOCH.checked_add(Duration::new(
                u64::try_from(ts.tv_sec).ok()?,
                u32::try_from(ts.tv_nsec).ok()?,
            ));
        }
        cmsg = libc::CMSG_NXTHDR(msg, cmsg);
    }
    None
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
