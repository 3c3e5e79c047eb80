//! USDT on the real kernel: testdata/usdt's program (gcc, `<sys/sdt.h>`) fires probes whose
//! arguments are constants, registers, stack memory and scale-index-base operands of sizes
//! 1/2/4/8, signed and unsigned, with and without semaphores, in the executable and in its
//! shared library; programs written with libbpf's `usdt.bpf.h` (1.1's installed header and
//! 1.7's vendored one) record what `bpf_usdt_arg` reads, which must equal what the program
//! passed. Semaphores count while attached and are 0 after the link drops; spec ids return
//! to the object's free list; `SEC("usdt/...")` attaches by name.

mod attach_util;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use attach_util::{spawn_child, testdata, CHILD_ENV};
use corebpf::attach::usdt::UsdtOpts;
use corebpf::{Object, ObjectBuilder};

/// Whether the kernel has BPF cookies (5.15); without them USDT finds specs by address.
fn has_cookies() -> bool {
    corebpf::sys::probe_feature(corebpf::sys::Feature::BpfCookie)
}

/// testdata/usdt/out's `name`. Where the files are not executable (the VM guests' copy of
/// testdata is 0644), they are copied with 0755 to a temp directory, written to a temporary
/// name and renamed into place, so a running copy is never rewritten.
fn usdt_out(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = testdata().join("usdt/out");
        let exec = |p: &Path| {
            p.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
        };
        if exec(&src.join("usdt_prog")) {
            return src;
        }
        let dir = std::env::temp_dir().join("corebpf-usdt-testdata");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["usdt_prog", "libcorebpf_usdt.so"] {
            let data = std::fs::read(src.join(f)).unwrap();
            if std::fs::read(dir.join(f)).ok().as_ref() == Some(&data) && exec(&dir.join(f)) {
                continue;
            }
            let tmp = dir.join(format!("{f}.{}", std::process::id()));
            std::fs::write(&tmp, &data).unwrap();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&tmp, dir.join(f)).unwrap();
        }
        dir
    })
    .join(name)
}

/// The running test program, driven over its stdin.
struct TestProg {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: i32,
}

impl TestProg {
    fn start() -> TestProg {
        let mut child = Command::new(usdt_out("usdt_prog"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("testdata/usdt/out/usdt_prog");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let pid = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
        TestProg {
            child,
            stdin,
            stdout,
            pid,
        }
    }

    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    fn fire(&mut self, round: i64) {
        assert_eq!(self.ask(&format!("fire {round}")), format!("fired {round}"));
    }

    /// The executable's and the library's semaphores.
    fn semaphores(&mut self) -> (u16, u16) {
        let a = self.ask("sema");
        let v: Vec<u16> = a.split(' ').skip(1).map(|x| x.parse().unwrap()).collect();
        (v[0], v[1])
    }

    /// The semaphores once the kernel has let go of dropped uprobes: a link's last
    /// reference may be put after an RCU grace period (the kernel defers freeing links of
    /// programs that may sleep), and the uprobe's semaphore decrement with it. Waits up to
    /// 5 s for `want`, then returns what the semaphores are.
    fn semaphores_settled(&mut self, want: (u16, u16)) -> (u16, u16) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = self.semaphores();
            if now == want || std::time::Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for TestProg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn load(object: &str, pid: i32) -> Object {
    load_with_specs(object, pid, None)
}

/// Loads `object` for events of `pid`, with `specs` slots in `__bpf_usdt_specs` if given.
fn load_with_specs(object: &str, pid: i32, specs: Option<u32>) -> Object {
    let path = testdata().join("bpf/out/clang19").join(object);
    let mut open = ObjectBuilder::new().open_file(path).unwrap();
    open.set_global("target_pid", &(pid as u32).to_ne_bytes())
        .unwrap();
    if let Some(n) = specs {
        open.set_max_entries("__bpf_usdt_specs", n).unwrap();
    }
    open.load().unwrap()
}

/// One `struct hit` of usdt_args.h.
#[derive(Debug)]
struct Hit {
    cookie: u64,
    arg_cnt: i64,
    args: Vec<i64>,
    ret: Vec<i32>,
}

fn hits(obj: &Object) -> Vec<Hit> {
    let n = u32::from_ne_bytes(obj.read_global("nhits").unwrap().try_into().unwrap());
    let map = obj.map("hits").unwrap();
    (0..n)
        .map(|i| {
            let v = map.lookup(&i.to_ne_bytes(), 0).unwrap().unwrap();
            let i64_at = |o: usize| i64::from_ne_bytes(v[o..o + 8].try_into().unwrap());
            Hit {
                cookie: i64_at(0) as u64,
                arg_cnt: i64_at(8),
                args: (0..12).map(|k| i64_at(16 + 8 * k)).collect(),
                ret: (0..12)
                    .map(|k| i32::from_ne_bytes(v[112 + 4 * k..116 + 4 * k].try_into().unwrap()))
                    .collect(),
            }
        })
        .collect()
}

fn typed(obj: &Object, slot: u32) -> i64 {
    obj.map("typed")
        .unwrap()
        .as_array::<i64>()
        .unwrap()
        .get(slot, 0)
        .unwrap()
}

/// The probes, in the order the program fires them, with the binary holding each.
const PROBES: &[(&str, &str, &str)] = &[
    ("usdt_prog", "corebpf", "regs"),
    ("usdt_prog", "corebpf", "mem"),
    ("usdt_prog", "corebpf", "sib"),
    ("usdt_prog", "corebpf", "sema"),
    ("libcorebpf_usdt.so", "corebpf_lib", "lib"),
    ("libcorebpf_usdt.so", "corebpf_lib", "libsema"),
];

/// What probe `name` passes in round `i` (testdata/usdt/src/usdt_values.h), as the
/// 64-bit values bpf_usdt_arg returns (sign- or zero-extended).
fn expected(name: &str, i: i64) -> Vec<i64> {
    let eight = vec![
        (-1 - i) as i8 as i64,
        (200 + i) as u8 as i64,
        (-1000 - i) as i16 as i64,
        (60000 + i) as u16 as i64,
        (-100000 - i) as i32 as i64,
        (4000000000 + i) as u32 as i64,
        -5000000000 - i,
        0xf000000000000000u64.wrapping_add(i as u64) as i64,
    ];
    match name {
        "regs" => [eight, vec![-42]].concat(),
        "mem" => eight,
        "sib" => vec![1000 * i + 1, 1000 * i + 2],
        "sema" => vec![i, -i],
        "lib" => vec![i, (7 + i) as u16 as i64, -7 - i],
        "libsema" => vec![i + 1],
        _ => unreachable!(),
    }
}

/// Attaches `usdt_any` of `object` to every probe (cookie = index + 1), fires two rounds
/// and checks each argument; `with_sib`: the object's header reads scale-index-base
/// arguments (libbpf 1.7), else attaching to corebpf:sib must fail clearly.
fn every_argument_reaches_bpf_usdt_arg(object: &str, with_sib: bool) {
    let mut prog = TestProg::start();
    let obj = load(object, prog.pid);
    let p = obj.program("usdt_any").unwrap();
    let mut links = Vec::new();
    let mut fired = Vec::new();
    for (k, (bin, provider, name)) in PROBES.iter().enumerate() {
        let opts = UsdtOpts {
            usdt_cookie: k as u64 + 1,
        };
        let r = p.attach_usdt(usdt_out(bin), Some(prog.pid), provider, name, &opts);
        if *name == "sib" && !with_sib {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("corebpf:sib") && e.contains("usdt_prog"), "{e}");
            assert!(
                e.contains("scale-index-base arguments need an object built with libbpf >= 1.7"),
                "{e}"
            );
            continue;
        }
        let link = r.unwrap_or_else(|e| panic!("{provider}:{name}: {e}"));
        assert!(link.target().ends_with(&format!("{bin}:{provider}:{name}")));
        links.push(link);
        fired.push((k as u64 + 1, *name));
    }
    let (exe_sema, lib_sema) = prog.semaphores();
    assert!(
        exe_sema > 0 && lib_sema > 0,
        "semaphores while attached: {exe_sema} {lib_sema}"
    );
    prog.fire(5);
    prog.fire(-6);
    let got = hits(&obj);
    assert_eq!(got.len(), 2 * fired.len(), "{got:#?}");
    for (n, h) in got.iter().enumerate() {
        let (cookie, name) = fired[n % fired.len()];
        let round = if n < fired.len() { 5 } else { -6 };
        let want = expected(name, round);
        assert_eq!(h.cookie, cookie, "hit {n}: {h:?}");
        assert_eq!(h.arg_cnt, want.len() as i64, "{name}: {h:?}");
        assert_eq!(&h.args[..want.len()], &want[..], "{name} round {round}");
        for (k, r) in h.ret.iter().enumerate() {
            let ok = if k < want.len() { 0 } else { -2 }; // -ENOENT past arg_cnt
            assert_eq!(*r, ok, "{name} arg {k}: {h:?}");
        }
    }
    drop(links);
    assert_eq!(
        prog.semaphores_settled((0, 0)),
        (0, 0),
        "semaphores after the links dropped"
    );
    prog.fire(7);
    assert_eq!(hits(&obj).len(), got.len(), "hits after detach");
}

#[test]
fn every_argument_reaches_bpf_usdt_arg_libbpf_1_7_header() {
    every_argument_reaches_bpf_usdt_arg("usdt_args17.bpf.o", true);
}

#[test]
fn every_argument_reaches_bpf_usdt_arg_libbpf_1_1_header() {
    every_argument_reaches_bpf_usdt_arg("usdt_args.bpf.o", false);
}

#[test]
fn bpf_usdt_typed_arguments_in_every_process() {
    for object in ["usdt_args.bpf.o", "usdt_args17.bpf.o"] {
        let mut prog = TestProg::start();
        let obj = load(object, prog.pid);
        let p = obj.program("usdt_sema_typed").unwrap();
        if !has_cookies() {
            // Without cookies the spec is found by address, which needs the process.
            let e = p
                .attach_usdt(
                    usdt_out("usdt_prog"),
                    None,
                    "corebpf",
                    "sema",
                    &UsdtOpts::default(),
                )
                .unwrap_err()
                .to_string();
            assert!(e.contains("needs a pid"), "{e}");
            continue;
        }
        // No pid: every process running the binary (the BPF side filters on target_pid).
        let link = p
            .attach_usdt(
                usdt_out("usdt_prog"),
                None,
                "corebpf",
                "sema",
                &UsdtOpts::default(),
            )
            .unwrap();
        assert!(prog.semaphores().0 > 0);
        prog.fire(41);
        assert_eq!(
            (typed(&obj, 0), typed(&obj, 1), typed(&obj, 2)),
            (1, 41, -41),
            "{object}"
        );
        drop(link);
        assert_eq!(prog.semaphores_settled((0, 0)).0, 0);
        prog.fire(42);
        assert_eq!(typed(&obj, 0), 1);
    }
}

#[test]
fn spec_ids_are_freed_when_links_drop() {
    let prog = TestProg::start();
    // Few slots, as a user may size it with BPF_USDT_MAX_SPEC_CNT.
    let obj = load_with_specs("usdt_args17.bpf.o", prog.pid, Some(4));
    let p = obj.program("usdt_any").unwrap();
    let max = obj.map("__bpf_usdt_specs").unwrap().max_entries();
    let attach = || {
        p.attach_usdt(
            usdt_out("usdt_prog"),
            Some(prog.pid),
            "corebpf",
            "regs",
            &UsdtOpts::default(),
        )
    };
    if !has_cookies() {
        // Without cookies an address maps to one spec: a second attachment at the same
        // call site fails clearly (libbpf: "IP collision"), and works once the first goes.
        let first = attach().unwrap();
        let e = attach().unwrap_err().to_string();
        assert!(
            e.contains("another USDT attachment at the same address"),
            "{e}"
        );
        drop(first);
        for _ in 0..max + 10 {
            drop(attach().unwrap());
        }
        return;
    }
    // More attachments than the spec map has slots: ids must come back on drop.
    for _ in 0..max + 10 {
        let link = p
            .attach_usdt(
                usdt_out("usdt_prog"),
                Some(prog.pid),
                "corebpf",
                "regs",
                &UsdtOpts::default(),
            )
            .unwrap();
        drop(link);
    }
    // Without dropping, the slots run out with a clear error.
    let mut links = Vec::new();
    let e = loop {
        match p.attach_usdt(
            usdt_out("usdt_prog"),
            Some(prog.pid),
            "corebpf",
            "regs",
            &UsdtOpts::default(),
        ) {
            Ok(l) => links.push(l),
            Err(e) => break e.to_string(),
        }
        assert!(links.len() <= max as usize, "more links than spec slots");
    };
    assert_eq!(links.len(), max as usize);
    assert!(
        e.contains(&format!(
            "all {max} spec ids of __bpf_usdt_specs are in use"
        )),
        "{e}"
    );
}

#[test]
fn usdt_errors_name_the_probe_and_binary() {
    let obj = load("usdt_args17.bpf.o", 0);
    let p = obj.program("usdt_any").unwrap();
    let exe = usdt_out("usdt_prog");
    let e = p
        .attach_usdt(&exe, None, "corebpf", "no_such_probe", &UsdtOpts::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("program 'usdt_any'") && e.contains("has no USDT probe 'corebpf:no_such_probe'"),
        "{e}"
    );
    assert!(e.contains("usdt_prog"), "{e}");
    let e = p
        .attach_usdt("/nonexistent/bin", None, "a", "b", &UsdtOpts::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/bin"), "{e}");
    // A binary without notes.
    let bpf_obj = testdata().join("bpf/out/clang19/usdt_args.bpf.o");
    let e = p
        .attach_usdt(&bpf_obj, None, "a", "b", &UsdtOpts::default())
        .unwrap_err();
    assert!(e.to_string().contains("neither an executable"), "{e}");
    // SEC("usdt") names no target.
    let e = p.attach().unwrap_err().to_string();
    assert!(e.contains("does not say where to attach"), "{e}");
    // An object without usdt.bpf.h's maps.
    let trace = attach_util::load_trace(&["uprobe_target"]).unwrap();
    let e = trace
        .program("uprobe_target")
        .unwrap()
        .attach_usdt(&exe, None, "corebpf", "regs", &UsdtOpts::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("did you forget to include bpf/usdt.bpf.h"),
        "{e}"
    );
}

/// `SEC("usdt/libcorebpf_usdt.so:corebpf_lib:lib")` attaches by name: run in a child whose
/// LD_LIBRARY_PATH finds the library (as uprobes' `find_binary` does).
#[test]
fn usdt_attaches_by_sec_name() {
    let mut child = spawn_child(
        "usdt_attaches_by_sec_name_child",
        "usdt-auto",
        &[("LD_LIBRARY_PATH", usdt_out("").display().to_string())],
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "the child test failed");
}

#[test]
fn usdt_attaches_by_sec_name_child() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("usdt-auto") {
        return;
    }
    let mut prog = TestProg::start();
    let obj = load("usdt_args.bpf.o", prog.pid);
    if !has_cookies() {
        // SEC names attach in every process: a shared library then needs BPF cookies.
        let e = obj.attach_all().unwrap_err();
        assert!(e.to_string().contains("needs a pid"), "{e}");
        return;
    }
    let links = obj.attach_all().unwrap();
    assert_eq!(links.len(), 1, "only usdt_lib_auto names its probe");
    assert!(links[0]
        .target()
        .contains("libcorebpf_usdt.so:corebpf_lib:lib"));
    prog.fire(3);
    let got: Vec<i64> = (3..7).map(|s| typed(&obj, s)).collect();
    assert_eq!(got, [1, 3, 10, -10]);
}
