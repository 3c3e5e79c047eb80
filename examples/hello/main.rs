//! hello: the "hello-buffer-config" example. A kprobe on the execve syscall (SEC
//! `ksyscall/execve`) sends pid, uid, command, path and a message through a perf buffer; the
//! message comes from a config map keyed by uid. On kernels without kprobes it uses the
//! `syscalls/sys_enter_execve` tracepoint instead, and says so.
//!
//! ```text
//! sudo target/release/hello --message 0="Hey root!" --duration 10
//! ```

use std::cell::Cell;
use std::time::{Duration, Instant};

use clap::Parser;
use corebpf::perf_buffer::PerfBuffer;
use hello::{data_t, user_msg_t, Bytes, OpenHelloSkel};

/// Say hello on every execve.
#[derive(Parser)]
struct Args {
    /// A message for a uid, as UID=MESSAGE (at most 11 bytes; repeatable).
    #[arg(long = "message", value_parser = parse_message)]
    messages: Vec<(u32, String)>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    /// Exec /bin/true this many times while tracing.
    #[arg(long, default_value_t = 0)]
    spawn: u32,
}

fn parse_message(s: &str) -> Result<(u32, String), String> {
    let (uid, msg) = s.split_once('=').ok_or("expected UID=MESSAGE")?;
    let uid = uid.parse().map_err(|e| format!("uid: {e}"))?;
    if msg.len() > 11 {
        return Err("message longer than 11 bytes".into());
    }
    Ok((uid, msg.to_string()))
}

// The skeleton build.rs generates from hello.bpf.c: `struct data_t` (the perf buffer's
// event) and `struct user_msg_t` (the config map's value) as Rust types, typed maps and programs.
include!(concat!(env!("OUT_DIR"), "/hello.skel.rs"));

/// A NUL-terminated C string of a fixed-size array.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let skel = OpenHelloSkel::open()?.load()?;
    for (uid, msg) in &args.messages {
        let mut value = user_msg_t::default();
        value.message[..msg.len()].copy_from_slice(msg.as_bytes());
        skel.maps()
            .my_config()
            .update(&uid.to_bytes(), &value.to_bytes(), 0)?;
    }
    let _link = match skel.progs().hello().attach_ksyscall("execve", false) {
        Ok(link) => {
            println!("attached kprobe to the execve syscall ({})", link.target());
            link
        }
        Err(e) => {
            println!("no kprobe on execve ({e}); falling back to the syscalls/sys_enter_execve tracepoint");
            skel.progs().hello_tp().attach()? // SEC("tp/syscalls/sys_enter_execve")
        }
    };
    let seen = Cell::new(0usize);
    let mut buffer = PerfBuffer::new(
        skel.maps().output(),
        8,
        |_cpu, data: &[u8]| {
            if let Some(d) = data_t::from_bytes(data) {
                println!(
                    "{} {} {} {} {}",
                    d.pid,
                    d.uid,
                    c_str(&d.command),
                    c_str(&d.message),
                    c_str(&d.path)
                );
                seen.set(seen.get() + 1);
            }
        },
        |cpu, lost| eprintln!("lost {lost} events on CPU {cpu}"),
    )?;
    let start = Instant::now();
    let mut spawned = 0;
    loop {
        if spawned < args.spawn
            && start.elapsed() > Duration::from_millis(200 * (spawned as u64 + 1))
        {
            std::process::Command::new("/bin/true").status()?;
            spawned += 1;
        }
        buffer.poll(Duration::from_millis(100))?;
        let done = args.count.is_some_and(|c| seen.get() >= c)
            || args
                .duration
                .is_some_and(|d| start.elapsed() >= Duration::from_secs(d));
        if done {
            break;
        }
    }
    drop(buffer);
    println!("{} events", seen.get());
    Ok(())
}
