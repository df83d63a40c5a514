//! Steering every connection and datagram in a namespace to the grader: a BPF `sk_lookup` program.
//!
//! A client that hard-codes `127.0.0.1:8888` connects to port 8888 whatever `{port}` says. The AnyIP // fixed-port-ok: text, never bound
//! route (see `rtnetlink.rs`) already brings any IPv4 *address* to `lo`; the *port* needs the
//! socket lookup itself to be changed. `BPF_PROG_TYPE_SK_LOOKUP` (Linux 5.9) is the kernel's hook for
//! that: attached to a network namespace, it runs when the kernel looks for the listening TCP socket or
//! the unconnected UDP socket that an incoming packet belongs to, and may pick any socket of the
//! namespace instead (`bpf_sk_assign`). Ours picks the grader's socket registered for the launch:
//!
//! ```text
//! if family != AF_INET: pass             // IPv4 only, as the lesson
//! key = {TCP: 0, UDP: 1}[protocol] else pass
//! sk = sockmap[key]; if !sk: pass        // nothing registered (a server launch): usual lookup
//! bpf_sk_assign(ctx, sk, 0); bpf_sk_release(sk)
//! return SK_PASS
//! ```
//!
//! The accepted TCP socket then carries the address the program dialled as its local address, and a
//! UDP datagram carries it in `IP_ORIGDSTADDR`: that is how the report names the address the program
//! used. Established TCP connections and connected UDP sockets are found before the hook runs, so the
//! grader's own traffic is untouched.
//!
//! Why by hand: the program is 24 instructions; a BPF toolchain (clang, bpf-linker, `aya` or `libbpf`)
//! would be a build dependency larger than the whole grader, for no gain. The instructions are encoded
//! below with their meaning beside each, loaded with the raw `bpf(2)` syscall, and checked by the
//! kernel's verifier on every load. It needs `CAP_BPF` and `CAP_NET_ADMIN` in the initial user namespace
//! (root); elsewhere [`Steering::attach`] fails and the namespace works without it (any address, the
//! given port only).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::super::procfs::Proto;

// bpf(2) commands, map and program types, attach type (include/uapi/linux/bpf.h).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
const BPF_PROG_TYPE_SK_LOOKUP: u32 = 30;
const BPF_SK_LOOKUP: u32 = 36;
const BPF_ANY: u64 = 0;

/// Offsets in `struct bpf_sk_lookup`, the program's context.
const CTX_FAMILY: i16 = 8;
const CTX_PROTOCOL: i16 = 12;

// Helper function ids.
const FN_MAP_LOOKUP_ELEM: i32 = 1;
const FN_SK_RELEASE: i32 = 86;
const FN_SK_ASSIGN: i32 = 124;

/// Sockmap keys, one registered socket per protocol.
const KEY_TCP: i32 = 0;
const KEY_UDP: i32 = 1;

/// `SK_PASS`: go on with the lookup (with the socket assigned, if one was).
const SK_PASS: i32 = 1;

/// The program attached to one namespace and the map it reads. Dropping it detaches the program (the
/// link's last fd closes); the namespace going away detaches it too.
#[derive(Debug)]
pub struct Steering {
    map: OwnedFd,
    _link: OwnedFd,
}

impl Steering {
    /// Loads the program and attaches it to the namespace `netns` (an open `/proc/.../ns/net`).
    pub fn attach(netns: BorrowedFd<'_>) -> io::Result<Steering> {
        let map = create_sockmap()?;
        let prog = load_program(map.as_raw_fd())?;
        let mut attr = Attr::new();
        attr.u32(0, prog.as_raw_fd() as u32); // link_create.prog_fd
        attr.u32(4, netns.as_raw_fd() as u32); // link_create.target_fd
        attr.u32(8, BPF_SK_LOOKUP); // link_create.attach_type
        let link = attr.call_fd(BPF_LINK_CREATE)?;
        // The link holds the program; its own fd is not needed any more.
        drop(prog);
        Ok(Steering { map, _link: link })
    }

    /// Makes `socket` (a listening TCP socket or an unbound-peer UDP socket, created in the steered
    /// namespace) the one that every new connection or datagram of `proto` goes to.
    pub fn register(&self, proto: Proto, socket: BorrowedFd<'_>) -> io::Result<()> {
        let key = key(proto);
        let value = socket.as_raw_fd() as u32;
        let mut attr = Attr::new();
        attr.u32(0, self.map.as_raw_fd() as u32);
        attr.u64(8, &key as *const i32 as u64);
        attr.u64(16, &value as *const u32 as u64);
        attr.u64(24, BPF_ANY);
        attr.call(BPF_MAP_UPDATE_ELEM).map(drop)
    }

    /// Stops steering `proto` (its registered socket is left alone). Closing the socket does it too.
    pub fn unregister(&self, proto: Proto) {
        let key = key(proto);
        let mut attr = Attr::new();
        attr.u32(0, self.map.as_raw_fd() as u32);
        attr.u64(8, &key as *const i32 as u64);
        let _ = attr.call(BPF_MAP_DELETE_ELEM);
    }
}

fn key(proto: Proto) -> i32 {
    match proto {
        Proto::Tcp => KEY_TCP,
        Proto::Udp => KEY_UDP,
    }
}

fn create_sockmap() -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, BPF_MAP_TYPE_SOCKMAP); // map_type
    attr.u32(4, 4); // key_size
    attr.u32(8, 4); // value_size: a socket fd
    attr.u32(12, 2); // max_entries: one per protocol
    attr.call_fd(BPF_MAP_CREATE)
}

fn load_program(map: RawFd) -> io::Result<OwnedFd> {
    let insns = program(map);
    let license = c"Dual MIT/GPL";
    let mut log = vec![0u8; 4096];
    let mut attr = Attr::new();
    attr.u32(0, BPF_PROG_TYPE_SK_LOOKUP); // prog_type
    attr.u32(4, insns.len() as u32); // insn_cnt
    attr.u64(8, insns.as_ptr() as u64); // insns
    attr.u64(16, license.as_ptr() as u64); // license
    attr.u32(24, 1); // log_level: the verifier says why, if it refuses
    attr.u32(28, log.len() as u32); // log_size
    attr.u64(32, log.as_mut_ptr() as u64); // log_buf
    attr.u32(68, BPF_SK_LOOKUP); // expected_attach_type
    attr.call_fd(BPF_PROG_LOAD).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let said = String::from_utf8_lossy(&log[..end]);
        match said.trim().lines().last() {
            Some(last) if e.raw_os_error() == Some(libc::EACCES) => {
                io::Error::other(format!("the BPF verifier refused the program: {last}"))
            }
            _ => e,
        }
    })
}

/// One `struct bpf_insn`: opcode, destination and source registers, offset, immediate.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        // dst_reg in the low nibble, src_reg in the high one (little-endian bitfield order, which is the
        // only order the kernel's struct has on the machines this runs on).
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes used (class | op | source).
const MOV64_REG: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const ADD64_IMM: u8 = 0x07; // BPF_ALU64 | BPF_ADD | BPF_K
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const STX_W: u8 = 0x63; // BPF_STX | BPF_MEM | BPF_W
const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW (two slots)
const JEQ_IMM: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
/// `src_reg` of a 64-bit immediate load that names a map by fd.
const PSEUDO_MAP_FD: u8 = 1;

/// The program of the module documentation. Jump offsets count instructions from the next one.
fn program(map: RawFd) -> Vec<Insn> {
    let pass = 22; // index of the final `r0 = SK_PASS`
    let jump_to = |from: usize, to: usize| (to - from - 1) as i16;
    vec![
        /* 0 */ insn(MOV64_REG, 6, 1, 0, 0), // r6 = ctx
        /* 1 */ insn(LDX_W, 2, 6, CTX_FAMILY, 0), // r2 = ctx->family
        /* 2 */ insn(JNE_IMM, 2, 0, jump_to(2, pass), libc::AF_INET),
        /* 3 */ insn(LDX_W, 2, 6, CTX_PROTOCOL, 0), // r2 = ctx->protocol
        /* 4 */ insn(MOV64_IMM, 3, 0, 0, KEY_TCP), // r3 = key for TCP
        /* 5 */ insn(JEQ_IMM, 2, 0, jump_to(5, 8), libc::IPPROTO_TCP),
        /* 6 */ insn(MOV64_IMM, 3, 0, 0, KEY_UDP), // r3 = key for UDP
        /* 7 */ insn(JNE_IMM, 2, 0, jump_to(7, pass), libc::IPPROTO_UDP),
        /* 8 */ insn(STX_W, 10, 3, -4, 0), // *(u32 *)(fp - 4) = key
        /* 9 */ insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map), // r1 = &sockmap
        /* 10 */ insn(0, 0, 0, 0, 0), // (second half of the 64-bit load)
        /* 11 */ insn(MOV64_REG, 2, 10, 0, 0), // r2 = fp
        /* 12 */ insn(ADD64_IMM, 2, 0, 0, -4), // r2 = &key
        /* 13 */
        insn(CALL, 0, 0, 0, FN_MAP_LOOKUP_ELEM), // r0 = sockmap[key], referenced
        /* 14 */ insn(JEQ_IMM, 0, 0, jump_to(14, pass), 0), // nothing registered: pass
        /* 15 */ insn(MOV64_REG, 7, 0, 0, 0), // r7 = sk
        /* 16 */ insn(MOV64_REG, 1, 6, 0, 0), // r1 = ctx
        /* 17 */ insn(MOV64_REG, 2, 7, 0, 0), // r2 = sk
        /* 18 */ insn(MOV64_IMM, 3, 0, 0, 0), // r3 = flags
        /* 19 */
        insn(CALL, 0, 0, 0, FN_SK_ASSIGN), // bpf_sk_assign(ctx, sk, 0); a failure just passes
        /* 20 */ insn(MOV64_REG, 1, 7, 0, 0), // r1 = sk
        /* 21 */ insn(CALL, 0, 0, 0, FN_SK_RELEASE), // drop the lookup's reference
        /* 22 */ insn(MOV64_IMM, 0, 0, 0, SK_PASS),
        /* 23 */ insn(EXIT, 0, 0, 0, 0),
    ]
}

/// A `union bpf_attr`, zeroed, filled field by field at the offsets of the command's struct.
struct Attr([u64; 16]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 16])
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: a [u64; 16] is 128 initialised bytes; u8 has no alignment requirement.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), 128) }
    }

    fn u32(&mut self, offset: usize, value: u32) {
        self.bytes()[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
    }

    fn u64(&mut self, offset: usize, value: u64) {
        self.bytes()[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
    }

    fn call(&mut self, cmd: libc::c_long) -> io::Result<libc::c_long> {
        // SAFETY: bpf(2) with a zeroed attribute block of the size passed; every pointer in it points
        // into a buffer the caller keeps alive across this call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                self.0.as_mut_ptr(),
                std::mem::size_of_val(&self.0) as libc::c_uint,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }

    /// A command that returns a new fd (maps, programs, links are created close-on-exec).
    fn call_fd(&mut self, cmd: libc::c_long) -> io::Result<OwnedFd> {
        let fd = self.call(cmd)?;
        // SAFETY: the kernel just returned this fd for us; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_their_targets() {
        let insns = program(3);
        assert_eq!(insns.len(), 24);
        for (i, ins) in insns.iter().enumerate() {
            if ins.code == JEQ_IMM || ins.code == JNE_IMM {
                let to = i as i64 + 1 + i64::from(ins.off);
                assert!(
                    to == 8 || to == 22,
                    "instruction {i} jumps to {to}: {ins:?}"
                );
            }
        }
        assert_eq!(insns[22].imm, SK_PASS);
        assert_eq!(insns[23].code, EXIT);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
