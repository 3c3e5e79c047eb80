//! `.ksyms` externs: a kfunc program (bpf_task_acquire/release, plus a missing __weak kfunc
//! that must stay uncalled) and kernel variables (typed `runqueues`, typeless `_stext`).

use std::path::PathBuf;
use std::process::Command;

use corebpf::btf::Kind;
use corebpf::ObjectBuilder;

fn object() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
        .join("bpf/out/clang19/obj_externs_ksyms.bpf.o")
}

fn kallsyms(name: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/kallsyms")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let addr = w.next()?;
            let _kind = w.next()?;
            (w.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
        })
}

#[test]
fn kfunc_program_acquires_the_new_task() {
    let vmlinux = corebpf::kernel_btf().unwrap();
    let mut open = ObjectBuilder::new().open_file(object()).unwrap();
    open.load_only(&["ksym_kfunc"]).unwrap();
    let loaded = open.load();
    if vmlinux
        .find_by_name_kind("bpf_task_acquire", Kind::Func)
        .is_none()
    {
        // Before 6.2 the kfunc does not exist: the error names it.
        let err = loaded.unwrap_err().to_string();
        assert!(err.contains("bpf_task_acquire"), "{err}");
        return;
    }
    let obj = loaded.unwrap_or_else(|e| panic!("{e}"));
    let prog = obj.program("ksym_kfunc").unwrap();
    let link = match prog.attach_tracing() {
        Ok(l) => l,
        Err(e) => {
            // Lockdown refuses tracing attach on some kernels; it must say so.
            assert!(e.is_permission(), "{e}");
            return;
        }
    };
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let _ = Command::new("/bin/true").status();
    drop(link);
    let got = u32::from_ne_bytes(obj.read_global("acquired_pid").unwrap().try_into().unwrap());
    eprintln!("ksym_kfunc ran: acquired pid {got} (test child {pid})");
    assert_ne!(got, 0, "the program ran and acquired a task");
    assert!(
        got >= pid,
        "acquired pid {got} belongs to a task created after the test's child {pid}"
    );
}

#[test]
fn kernel_variables_resolve_or_fail_clearly() {
    // A typed ksym needs the variable in the kernel's BTF (a VAR) and its address in
    // kallsyms (per-CPU variables are there only with CONFIG_KALLSYMS_ALL); the load must
    // succeed exactly when both hold, and otherwise name the variable.
    let vmlinux = corebpf::kernel_btf().unwrap();
    let in_btf = vmlinux.find_by_name_kind("runqueues", Kind::Var).is_some();
    let in_kallsyms = kallsyms("runqueues").is_some();
    let mut open = ObjectBuilder::new().open_file(object()).unwrap();
    open.load_only(&["ksym_vars"]).unwrap();
    match open.load() {
        Ok(obj) => {
            assert!(
                in_btf && in_kallsyms,
                "loaded without runqueues in BTF ({in_btf}) and kallsyms ({in_kallsyms})"
            );
            let prog = obj.program("ksym_vars").unwrap();
            let _link = prog.attach_raw_tracepoint("sys_enter").unwrap();
            let _ = Command::new("/bin/true").status();
            let stext =
                u64::from_ne_bytes(obj.read_global("stext_addr").unwrap().try_into().unwrap());
            assert_eq!(
                Some(stext),
                kallsyms("_stext"),
                "the typeless ksym is _stext's address"
            );
            eprintln!("ksym_vars ran: _stext at {stext:#x}");
        }
        Err(e) => {
            assert!(
                !(in_btf && in_kallsyms),
                "runqueues is in BTF and kallsyms, yet: {e}"
            );
            let text = e.to_string();
            assert!(text.contains("runqueues"), "{text}");
            eprintln!("ksym_vars refused clearly (runqueues in BTF: {in_btf}, in kallsyms: {in_kallsyms})");
        }
    }
}
