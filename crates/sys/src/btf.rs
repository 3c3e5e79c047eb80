//! `BPF_BTF_LOAD`.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::attr::BtfLoadAttr;
use crate::consts::{Cmd, BPF_F_TOKEN_FD};
use crate::error::SysError;
use crate::sys::{len_u32, log_text, mut_ptr_of, ptr_of, sys_bpf_fd};

/// One `BPF_BTF_LOAD`, with an optional log buffer and level.
pub(crate) fn load_once(
    btf: &[u8],
    log: Option<(&mut [u8], u32)>,
    token: Option<BorrowedFd<'_>>,
) -> (Result<OwnedFd, SysError>, u32) {
    let cmd = Cmd::BtfLoad;
    let size = match len_u32(cmd, "BTF", btf.len()) {
        Ok(s) => s,
        Err(e) => return (Err(e), 0),
    };
    let mut a = BtfLoadAttr {
        btf: ptr_of(btf),
        btf_size: size,
        btf_flags: if token.is_some() { BPF_F_TOKEN_FD } else { 0 },
        btf_token_fd: token.map_or(0, |f| f.as_raw_fd()),
        ..Default::default()
    };
    if let Some((buf, level)) = log {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        a.btf_log_buf = mut_ptr_of(buf);
        a.btf_log_size = buf.len().min(u32::MAX as usize >> 2) as u32;
        a.btf_log_level = level;
    }
    // SAFETY: `btf` is a borrowed slice of `btf_size` bytes, the log buffer (if any) an
    // exclusive borrow of `btf_log_size` bytes.
    let r = unsafe { sys_bpf_fd(cmd, &mut a) };
    let r = r.map_err(|e| crate::token::refused(e, token, cmd, None, None));
    (r, a.btf_log_true_size)
}

/// `BPF_BTF_LOAD` of raw BTF (header, types, strings).
///
/// With `log` (at least 128 bytes) the kernel writes its log there at `log_level`
/// (≥ 1). Without, a failed load is retried with a growing internal log buffer, and
/// the error carries the log.
pub fn btf_load(btf: &[u8], log: Option<&mut [u8]>, log_level: u32) -> Result<OwnedFd, SysError> {
    btf_load_token(btf, log, log_level, None)
}

/// [`btf_load`] with a BPF token (`BPF_F_TOKEN_FD`, Linux 6.9) when `token` is given.
pub fn btf_load_token(
    btf: &[u8],
    log: Option<&mut [u8]>,
    log_level: u32,
    token: Option<BorrowedFd<'_>>,
) -> Result<OwnedFd, SysError> {
    if btf.is_empty() {
        return Err(SysError::invalid(Cmd::BtfLoad.kernel_name(), "empty BTF"));
    }
    if let Some(buf) = log {
        if buf.len() < 128 {
            return Err(SysError::invalid(
                Cmd::BtfLoad.kernel_name(),
                "log buffer must be at least 128 bytes",
            ));
        }
        let (r, _) = load_once(btf, Some((&mut *buf, log_level.max(1))), token);
        return r.map_err(|e| e.with_log(log_text(buf)));
    }
    let first = match load_once(btf, None, token).0 {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut size = 64 * 1024;
    loop {
        let mut buf = vec![0u8; size];
        let (r, true_size) = load_once(btf, Some((&mut buf, log_level.max(1))), token);
        match r {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_errno() == Some(libc::ENOSPC) && size < 16 * 1024 * 1024 => {
                size = (true_size as usize).max(size * 4).min(16 * 1024 * 1024);
            }
            Err(e) => {
                let text = log_text(&buf);
                return Err(if text.is_some() {
                    e.with_log(text)
                } else {
                    first
                });
            }
        }
    }
}
