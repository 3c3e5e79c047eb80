//! [`Program`]: a loaded BPF program, and running it with `BPF_PROG_TEST_RUN`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use corebpf_sys::{prog_test_run, AttachType, ProgType, TestRunOpts, TestRunResult};

use crate::error::{Error, Result};

/// A program loaded into the kernel. Dropping it closes its fd (the kernel frees the
/// program once nothing else — a link, a pin, a prog array — holds it).
///
/// `Send` and `Sync`: attaching and test runs are syscalls on its fd, from any thread.
#[derive(Debug)]
pub struct Program {
    pub(crate) name: String,
    pub(crate) section: String,
    pub(crate) prog_type: ProgType,
    pub(crate) expected_attach_type: Option<AttachType>,
    pub(crate) attach_target: Option<String>,
    pub(crate) fd: OwnedFd,
    pub(crate) insn_cnt: usize,
    pub(crate) load_time: Duration,
    /// The object's USDT state, if it includes `usdt.bpf.h` (see [`Program::attach_usdt`]).
    pub(crate) usdt: Option<std::sync::Arc<crate::attach::usdt::UsdtManager>>,
}

/// Input for [`Program::test_run`].
#[derive(Debug, Default, Clone)]
pub struct TestRun<'a> {
    /// Packet or other input data.
    pub data: &'a [u8],
    /// Context input (e.g. `struct __sk_buff` fields, a `SEC("syscall")` program's ctx).
    pub ctx: &'a [u8],
    /// Size of the output data buffer (0: the input's size plus headroom).
    pub data_out_size: usize,
    /// Size of the output context buffer (0: none).
    pub ctx_out_size: usize,
    /// Runs (the kernel reports the average duration).
    pub repeat: u32,
}

/// What [`Program::test_run`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value.
    pub retval: u32,
    /// Average duration of one run.
    pub duration: Duration,
    /// Output data (as modified by the program).
    pub data: Vec<u8>,
    /// Output context.
    pub ctx: Vec<u8>,
}

impl Program {
    /// Loads a program assembled by hand (no ELF, no clang): `insns` from
    /// [`corebpf_obj::asm`], the kernel's type for it, a name and a license.
    ///
    /// ```no_run
    /// use corebpf::obj::asm::*;
    /// use corebpf::sys::ProgType;
    /// // r0 = 42; exit
    /// let insns = [mov64_imm(0, 42), exit()];
    /// let prog = corebpf::Program::load_insns(ProgType::SocketFilter, "answer", &insns, "GPL")?;
    /// assert_eq!(prog.test_run(&corebpf::TestRun { data: &[0u8; 64], ..Default::default() })?.retval, 42);
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn load_insns(
        prog_type: ProgType,
        name: &str,
        insns: &[corebpf_obj::Insn],
        license: &str,
    ) -> Result<Program> {
        let bytes: Vec<u8> = insns.iter().flat_map(|i| i.to_bytes()).collect();
        let license = std::ffi::CString::new(license)
            .map_err(|_| Error::InvalidInput("license contains a NUL byte".into()))?;
        let attr = corebpf_sys::ProgLoadAttr {
            prog_type,
            insns: &bytes,
            license: &license,
            name,
            ..Default::default()
        };
        let start = std::time::Instant::now();
        let fd = corebpf_sys::prog_load(&attr, None).map_err(|source| {
            match source.log().map(str::to_string) {
                Some(log) => Error::Verifier(Box::new(crate::error::VerifierError {
                    prog: name.to_string(),
                    object: "(hand-assembled)".into(),
                    message: crate::verifier::message(&log),
                    insn: crate::verifier::failing_insn(&log),
                    source_line: None,
                    core: None,
                    log,
                    source,
                })),
                None => Error::Program {
                    prog: name.to_string(),
                    error: source,
                },
            }
        })?;
        Ok(Program {
            name: name.to_string(),
            section: String::new(),
            prog_type,
            expected_attach_type: None,
            attach_target: None,
            fd,
            insn_cnt: insns.len(),
            load_time: start.elapsed(),
            usdt: None,
        })
    }

    /// The program's name (its C function name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ELF section it came from (`SEC("...")`).
    pub fn section(&self) -> &str {
        &self.section
    }

    /// Program type.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// Expected attach type given at load.
    pub fn expected_attach_type(&self) -> Option<AttachType> {
        self.expected_attach_type
    }

    /// Attach target from the section name (`do_unlinkat` for `kprobe/do_unlinkat`).
    pub fn attach_target(&self) -> Option<&str> {
        self.attach_target.as_deref()
    }

    /// Number of instructions loaded (after subprogram linking).
    pub fn insn_count(&self) -> usize {
        self.insn_cnt
    }

    /// Wall time of the `BPF_PROG_LOAD` call (the verifier's work).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The kernel's id for this program.
    pub fn id(&self) -> Result<u32> {
        Ok(corebpf_sys::prog_info(self.fd.as_fd())
            .map_err(|e| self.err(e))?
            .id)
    }

    pub(crate) fn err(&self, source: corebpf_sys::SysError) -> Error {
        Error::Program {
            prog: self.name.clone(),
            error: source,
        }
    }

    /// Runs the program once (or `repeat` times) on `input` with `BPF_PROG_TEST_RUN`.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let prog = obj.program("xdp_pass").unwrap();
    /// let out = prog.test_run(&corebpf::TestRun { data: &[0u8; 64], ..Default::default() })?;
    /// println!("returned {}", out.retval);
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn test_run(&self, input: &TestRun<'_>) -> Result<TestRunOutput> {
        let data_out_len = if input.data.is_empty() {
            0
        } else if input.data_out_size > 0 {
            input.data_out_size
        } else {
            // XDP/TC programs may grow the packet: leave room as bpftool does.
            input.data.len() + 256
        };
        let mut data_out = vec![0u8; data_out_len];
        let mut ctx_out = vec![0u8; input.ctx_out_size];
        let r: TestRunResult = prog_test_run(
            self.fd.as_fd(),
            TestRunOpts {
                data_in: input.data,
                data_out: if data_out.is_empty() {
                    None
                } else {
                    Some(&mut data_out)
                },
                ctx_in: input.ctx,
                ctx_out: if ctx_out.is_empty() {
                    None
                } else {
                    Some(&mut ctx_out)
                },
                repeat: input.repeat,
                ..Default::default()
            },
        )
        .map_err(|e| self.err(e))?;
        data_out.truncate(r.data_size_out as usize);
        ctx_out.truncate(r.ctx_size_out as usize);
        Ok(TestRunOutput {
            retval: r.retval,
            duration: Duration::from_nanos(r.duration_ns as u64),
            data: data_out,
            ctx: ctx_out,
        })
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
