//! The grader's side of UDP: a socket made in the program's network, which notes where the program's
//! datagrams were addressed.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first datagram that came to another address than the one the program was given: (given, used).
pub type Misaddressed = Arc<Mutex<Option<(SocketAddr, SocketAddr)>>>;

/// A UDP socket of the grader. One made to receive from the program ([`UdpPeer::receiving`]) reads each
/// datagram's destination (`IP_ORIGDSTADDR`), so a sender that ignores `{host} {port}` is reported.
#[derive(Debug)]
pub struct UdpPeer {
    socket: UdpSocket,
    /// Set for a receiving socket: where a misaddressed datagram is noted.
    misaddressed: Option<Misaddressed>,
}

impl UdpPeer {
    /// A socket to send datagrams to the program from (it gets the program's answers, if any).
    pub fn sending(socket: UdpSocket) -> UdpPeer {
        UdpPeer {
            socket,
            misaddressed: None,
        }
    }

    /// A socket the program sends to: its address is the `{host} {port}` the program is given, and any
    /// datagram that arrives addressed elsewhere (caught by the namespace's steering) is noted in
    /// `misaddressed`.
    pub fn receiving(socket: UdpSocket, misaddressed: Misaddressed) -> io::Result<UdpPeer> {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) on a socket we own with a c_int option value.
        let ret = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_IP,
                libc::IP_RECVORIGDSTADDR,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UdpPeer {
            socket,
            misaddressed: Some(misaddressed),
        })
    }

    /// The grader's socket address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The `{host} {port}` a sender is given for this socket: loopback and the socket's port.
    pub fn given(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            self.socket.local_addr()?.port(),
        )))
    }

    /// Sends one datagram to `addr` (at most 65,507 bytes).
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(buf, addr)
    }

    /// Bounds each receive; `None` waits forever (the grader always gives a deadline).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// Makes receives return at once when nothing is queued.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket.set_nonblocking(nonblocking)
    }

    /// Receives one datagram: its length and sender. On a receiving socket, a datagram addressed to
    /// another place than [`UdpPeer::given`] is noted (the first one).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let Some(misaddressed) = &self.misaddressed else {
            return self.socket.recv_from(buf);
        };
        let (n, from, to) = recv_with_destination(&self.socket, buf)?;
        if let Some(to) = to {
            let given = self.given()?;
            if to != given {
                misaddressed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert((given, to));
            }
        }
        Ok((n, from))
    }
}

impl AsFd for UdpPeer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// `recvmsg(2)` with the `IP_ORIGDSTADDR` control message: (length, source, destination).
fn recv_with_destination(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<SocketAddr>)> {
    // Room for one sockaddr_in control message, u64-aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: recvmsg(2) with a msghdr whose pointers (name, one iovec, control) point at live buffers
    // of the sizes given; the control messages are read only within the length the kernel returned,
    // through the CMSG_* macros.
    unsafe {
        let mut from: libc::sockaddr_in = zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut to = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_IP && (*cmsg).cmsg_type == libc::IP_ORIGDSTADDR {
                let addr =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::sockaddr_in>());
                to = Some(v4(&addr));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((n as usize, v4(&from), to))
    }
}

fn v4(addr: &libc::sockaddr_in) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    ))
}
