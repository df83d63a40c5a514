//! The two rtnetlink requests that make a fresh network namespace usable: `ip link set lo up` and
//! `ip route add local 0.0.0.0/0 dev lo table local`, spoken to the kernel directly so that nothing
//! depends on the `ip` binary at run time.
//!
//! Messages are built by hand (a header, a fixed struct, attributes), as `rtnetlink(7)` lays them out;
//! each request asks for an acknowledgement, and an error in it is returned as an `io::Error`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `lo` is always the first interface of a network namespace (`LOOPBACK_IFINDEX`).
const LOOPBACK_INDEX: i32 = 1;

/// Header sizes of `struct nlmsghdr`, `struct ifinfomsg`, `struct rtmsg` and `struct rtattr`.
const NLMSG_HDR: usize = 16;
const IFINFO: usize = 16;
const RTMSG: usize = 12;
const RTA_HDR: usize = 4;

/// Brings `lo` up and makes every IPv4 address local to it, in the calling thread's namespace.
pub fn configure_loopback() -> io::Result<()> {
    let socket = open()?;
    send_and_ack(&socket, 1, &loopback_up())?;
    send_and_ack(&socket, 2, &local_everything())?;
    Ok(())
}

fn open() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the fd is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `RTM_NEWLINK` on `lo` with `IFF_UP` set.
fn loopback_up() -> Vec<u8> {
    let mut body = Vec::with_capacity(IFINFO);
    body.push(libc::AF_UNSPEC as u8); // ifi_family
    body.push(0); // padding
    body.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    body.extend_from_slice(&LOOPBACK_INDEX.to_ne_bytes()); // ifi_index
    body.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
    body.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_change: only this flag
    message(libc::RTM_NEWLINK, 0, &body)
}

/// `RTM_NEWROUTE`: `local 0.0.0.0/0 dev lo` in the local table ("AnyIP"): any IPv4 destination is this
/// machine, delivered on `lo`, and any IPv4 address can be bound.
fn local_everything() -> Vec<u8> {
    let mut body = Vec::with_capacity(RTMSG + RTA_HDR + 4);
    body.push(libc::AF_INET as u8); // rtm_family
    body.push(0); // rtm_dst_len: the whole address space
    body.push(0); // rtm_src_len
    body.push(0); // rtm_tos
    body.push(libc::RT_TABLE_LOCAL); // rtm_table
    body.push(libc::RTPROT_STATIC); // rtm_protocol
    body.push(libc::RT_SCOPE_HOST); // rtm_scope
    body.push(libc::RTN_LOCAL); // rtm_type
    body.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
    attribute(&mut body, libc::RTA_OIF, &LOOPBACK_INDEX.to_ne_bytes());
    message(
        libc::RTM_NEWROUTE,
        (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
        &body,
    )
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = (RTA_HDR + value.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    // Attributes are 4-byte aligned.
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A request with `NLM_F_REQUEST | NLM_F_ACK`; the sequence number is patched in by the sender.
fn message(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let len = (NLMSG_HDR + body.len()) as u32;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(flags | (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq, set in send_and_ack
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills in ours
    out.extend_from_slice(body);
    out
}

/// Sends one request and reads its acknowledgement: `NLMSG_ERROR` with error 0 is success.
fn send_and_ack(socket: &OwnedFd, seq: u32, request: &[u8]) -> io::Result<()> {
    let mut request = request.to_vec();
    request[8..12].copy_from_slice(&seq.to_ne_bytes());
    // SAFETY: sends the bytes of a live buffer on a socket we own; the kernel is the destination
    // (a netlink socket that is not connected sends to the kernel by default).
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 4096];
    // Bounded: the kernel answers each request with one acknowledgement; anything else is skipped, and
    // a socket that stays silent cannot happen for an NLM_F_ACK request to the kernel.
    for _ in 0..16 {
        // SAFETY: receives into a live buffer of the given size on a socket we own.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let reply = &buf[..n as usize];
        if reply.len() < NLMSG_HDR + 4 {
            return Err(io::Error::other("a short rtnetlink reply"));
        }
        let kind = u16::from_ne_bytes([reply[4], reply[5]]);
        let got_seq = u32::from_ne_bytes([reply[8], reply[9], reply[10], reply[11]]);
        if kind != libc::NLMSG_ERROR as u16 || got_seq != seq {
            continue;
        }
        let error = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
        return if error == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(-error))
        };
    }
    Err(io::Error::other("no rtnetlink acknowledgement"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_laid_out_as_rtnetlink_expects() {
        let up = loopback_up();
        assert_eq!(up.len(), NLMSG_HDR + IFINFO);
        assert_eq!(
            u32::from_ne_bytes(up[0..4].try_into().unwrap()) as usize,
            up.len()
        );
        let route = local_everything();
        assert_eq!(route.len(), NLMSG_HDR + RTMSG + RTA_HDR + 4);
        assert_eq!(route[NLMSG_HDR + 7], libc::RTN_LOCAL);
        assert_eq!(route.len() % 4, 0);
    }
}
