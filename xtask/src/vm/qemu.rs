//! Boots a kernel and initramfs in `qemu-system-x86_64` and collects what the guest reports.
//!
//! Serial ports: ttyS0 is the console (qemu's stdout, echoed with a `[version]` prefix and
//! kept in `console.log`); ttyS1 is the status port (file `status`), on which `/init` writes
//! one line per event, so the result never depends on parsing console text; ttyS2, when
//! asked for, is a raw data port (file `data`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How to boot.
pub struct Boot<'a> {
    /// Prefix of the echoed console lines (the kernel version).
    pub label: &'a str,
    /// Kernel image.
    pub kernel: &'a Path,
    /// Initramfs.
    pub initrd: &'a Path,
    /// Where `console.log`, `status` and `data` go (created if missing).
    pub workdir: &'a Path,
    /// Kill the guest after this long.
    pub timeout: Duration,
    /// Use KVM instead of TCG.
    pub kvm: bool,
    /// Guest memory, in qemu's syntax (`2G`).
    pub memory: &'a str,
    /// Attach the data port (ttyS2).
    pub data_port: bool,
    /// Echo the console as it comes.
    pub echo: bool,
}

/// What came out of a boot.
pub struct Outcome {
    /// Lines the guest wrote on the status port.
    pub status: Vec<String>,
    /// The console output.
    pub console_log: PathBuf,
    /// The data port's file, if attached.
    pub data: Option<PathBuf>,
    /// From starting qemu to its exit (or kill).
    pub wall: Duration,
    /// From starting qemu to the guest's `boot` status line, if it came.
    pub boot_time: Option<Duration>,
    /// Whether the harness killed qemu on the timeout.
    pub timed_out: bool,
    /// qemu's own exit status, when it exited by itself.
    pub qemu_status: Option<std::process::ExitStatus>,
}

impl Outcome {
    /// The guest's overall status from its final `done <n>` line, if it got that far.
    pub fn done(&self) -> Option<i32> {
        self.status
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("done ")?.trim().parse().ok())
    }
}

/// Boots and waits for the guest to power off or the timeout.
pub fn boot(b: &Boot) -> Result<Outcome, String> {
    fs::create_dir_all(b.workdir)
        .map_err(|e| format!("cannot create {}: {e}", b.workdir.display()))?;
    let status_path = b.workdir.join("status");
    let data_path = b.workdir.join("data");
    let console_log = b.workdir.join("console.log");
    for p in [&status_path, &data_path] {
        let _ = fs::remove_file(p);
    }
    let append = "console=ttyS0 panic=-1 quiet lsm=lockdown,capability,bpf rdinit=/init \
                  random.trust_cpu=on";
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ])
    .args(["-m", b.memory, "-smp", "2"]);
    if b.kvm {
        cmd.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        // `max` gives RDRAND, so with random.trust_cpu the kernel's RNG is ready at once.
        // One TCG thread for both vCPUs: with multi-threaded TCG a vCPU could still run
        // code another had just patched with int3 (jump labels, text_poke_bp), and the
        // 6.12 guest then died on a spurious "Oops: int3" in __schedule.
        cmd.args(["-accel", "tcg,thread=single", "-cpu", "max"]);
    }
    cmd.arg("-kernel")
        .arg(b.kernel)
        .arg("-initrd")
        .arg(b.initrd)
        .args(["-append", append]);
    cmd.args(["-serial", "stdio", "-serial"])
        .arg(format!("file:{}", status_path.display()));
    if b.data_port {
        cmd.arg("-serial")
            .arg(format!("file:{}", data_path.display()));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = fs::File::create(&console_log)
        .map_err(|e| format!("cannot create {}: {e}", console_log.display()))?;
    let (label, echo) = (b.label.to_string(), b.echo);
    let console = thread::spawn(move || pump(stdout, log, &label, echo));
    let label = b.label.to_string();
    let errors = thread::spawn(move || {
        // qemu's own complaints always matter: show them.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[{label}] qemu: {line}");
        }
    });

    let mut boot_time = None;
    let mut timed_out = false;
    let qemu_status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| format!("waiting for qemu: {e}"))?
        {
            break Some(st);
        }
        if boot_time.is_none()
            && fs::read_to_string(&status_path).is_ok_and(|s| s.starts_with("boot "))
        {
            boot_time = Some(start.elapsed());
        }
        if start.elapsed() > b.timeout {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let wall = start.elapsed();
    let _ = console.join();
    let _ = errors.join();
    let status = fs::read(&status_path)
        .map(|s| {
            String::from_utf8_lossy(&s)
                .lines()
                .map(|l| l.trim_end().to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok(Outcome {
        status,
        console_log,
        data: b.data_port.then_some(data_path),
        wall,
        boot_time,
        timed_out,
        qemu_status,
    })
}

/// Copies the console to `log` and, if `echo`, to stdout line by line with a prefix.
fn pump(from: impl std::io::Read, mut log: fs::File, label: &str, echo: bool) {
    let mut r = BufReader::new(from);
    let mut line = Vec::new();
    let stdout = std::io::stdout();
    while r.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        let _ = log.write_all(&line);
        if echo {
            let text = String::from_utf8_lossy(&line);
            let _ = writeln!(
                stdout.lock(),
                "[{label}] {}",
                text.trim_end_matches(['\r', '\n'])
            );
        }
        line.clear();
    }
}
