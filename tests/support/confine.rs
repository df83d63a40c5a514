//! Running a command as a system would that limits it: as the user `nobody`, or where no namespace
//! can be made. Shared by the test binaries (`#[path]`-included).

use std::os::unix::process::CommandExt;

/// Drops the command to `nobody` (uid and gid 65534, no groups) between fork and exec.
pub fn as_nobody(command: &mut std::process::Command) {
    // SAFETY: drops to nobody between fork and exec with plain system calls.
    unsafe {
        command.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A seccomp filter that makes `unshare(2)` and `setns(2)` fail with EPERM, as the default profile of
/// a container runtime does: a system where no namespace can be made.
pub fn forbid_namespaces(command: &mut std::process::Command) {
    // Classic BPF: load the syscall number; EPERM for unshare and setns; allow everything else.
    const LD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0: seccomp_data.nr
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const ERRNO_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32; // SECCOMP_RET_ERRNO | EPERM
    const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    let filter = [
        libc::sock_filter {
            code: LD_NR,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: JEQ,
            jt: 2,
            jf: 0,
            k: libc::SYS_unshare as u32,
        },
        libc::sock_filter {
            code: JEQ,
            jt: 1,
            jf: 0,
            k: libc::SYS_setns as u32,
        },
        libc::sock_filter {
            code: RET,
            jt: 0,
            jf: 0,
            k: ALLOW,
        },
        libc::sock_filter {
            code: RET,
            jt: 0,
            jf: 0,
            k: ERRNO_EPERM,
        },
    ];
    // SAFETY: between fork and exec, prctl(2) with a filter program that lives in the closure.
    unsafe {
        command.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
