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
use corebpf::ObjectBuilder;

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

const OBJECT: &[u8] = include_bytes!("out/clang19/hello.bpf.o");

fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let obj = ObjectBuilder::new().open_mem(OBJECT, "hello")?.load()?;
    let config = obj.map("my_config").ok_or("no map my_config")?;
    for (uid, msg) in &args.messages {
        let mut value = [0u8; 12];
        value[..msg.len()].copy_from_slice(msg.as_bytes());
        config.update(&uid.to_ne_bytes(), &value, 0)?;
    }
    let kprobe = obj.program("hello").ok_or("no program hello")?;
    let _link = match kprobe.attach_ksyscall("execve", false) {
        Ok(link) => {
            println!("attached kprobe to the execve syscall ({})", link.target());
            link
        }
        Err(e) => {
            println!("no kprobe on execve ({e}); falling back to the syscalls/sys_enter_execve tracepoint");
            let tp = obj.program("hello_tp").ok_or("no program hello_tp")?;
            tp.attach_tracepoint("syscalls", "sys_enter_execve")?
        }
    };
    let seen = Cell::new(0usize);
    let mut buffer = PerfBuffer::new(
        obj.map("output").ok_or("no map output")?,
        8,
        |_cpu, data: &[u8]| {
            // struct data_t { int pid; int uid; char command[16]; char message[12]; char path[16]; }
            if data.len() >= 52 {
                let pid = i32::from_ne_bytes(data[0..4].try_into().unwrap_or_default());
                let uid = i32::from_ne_bytes(data[4..8].try_into().unwrap_or_default());
                println!(
                    "{pid} {uid} {} {} {}",
                    c_str(&data[8..24]),
                    c_str(&data[24..36]),
                    c_str(&data[36..52])
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
