//! `corebpf relocate` and `__ksym` externs (kfuncs, typed and typeless kernel symbols):
//! resolved per kernel in the table and JSON, and `--dump` for the running kernel giving
//! the instructions libbpf 1.7's `bpf_object__prepare()` gives, checked two ways:
//! - against the running kernel's own BTF and kallsyms (the ids and addresses libbpf's
//!   rules give, written out in full), and by running the program;
//! - against libbpf itself (a differential test): `testdata/tools/prepare_oracle.c` built
//!   against Debian's libbpf 1.7 (sid's `libbpf1`/`libbpf-dev`, fetched by name with
//!   `apt-get download` and unpacked under `<workspace>/target/libbpf-oracle/`, run with
//!   sid's own dynamic loader since it needs a newer glibc than the host's).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{corebpf, gunzip_btf, testdata, TempDir};
use corebpf_btf::{Btf, Kind};
use serde_json::Value;

fn obj_of(clang: &str, name: &str) -> String {
    testdata()
        .join("bpf/out")
        .join(clang)
        .join(name)
        .display()
        .to_string()
}

const KFUNCS: &str = "obj_ksyms_kfuncs.bpf.o";

/// The running kernel's id of `name` (of `kind`) in vmlinux.
fn vmlinux_id(name: &str, kind: Kind) -> Option<u32> {
    let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux");
    btf.find_by_name_kind(name, kind)
}

fn kallsyms(name: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/kallsyms")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let addr = w.next()?;
            let _ = w.next()?;
            (w.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
        })
}

/// A program's `--dump --json` disassembly and hex instructions.
fn program<'a>(v: &'a Value, name: &str) -> (&'a str, Vec<&'a str>) {
    let p = v["targets"][0]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no program {name}"));
    let hex = p["hex"].as_array().unwrap();
    (
        p["disasm"].as_str().unwrap(),
        hex.iter().map(|h| h.as_str().unwrap()).collect(),
    )
}

/// `call` with `src_reg` `src`, `off` and `imm` as 16 hex digits.
fn call_hex(src: u8, off: i16, imm: i32) -> String {
    let mut b = vec![0x85, src << 4];
    b.extend(off.to_le_bytes());
    b.extend(imm.to_le_bytes());
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `hex` holds an `ld_imm64` (into any register) with `src_reg` `src`, `imm` and a
/// second half's imm `imm2`.
fn has_ldimm64(hex: &[&str], src: u8, imm: i32, imm2: i32) -> bool {
    let bytes = |h: &str| -> Vec<u8> {
        (0..8)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    hex.windows(2).any(|w| {
        let (a, b) = (bytes(w[0]), bytes(w[1]));
        a[0] == 0x18
            && a[1] >> 4 == src
            && a[4..8] == imm.to_le_bytes()
            && b[..4] == [0; 4]
            && b[4..8] == imm2.to_le_bytes()
    })
}

#[test]
fn dump_resolves_kfuncs_and_ksyms_as_libbpf() {
    let from_pid = vmlinux_id("bpf_task_from_pid", Kind::Func).expect("kfunc (Linux 6.2+)");
    let release = vmlinux_id("bpf_task_release", Kind::Func).unwrap();
    let runqueues = vmlinux_id("runqueues", Kind::Var).unwrap();
    let stext = kallsyms("_stext").expect("_stext in /proc/kallsyms");
    for clang in ["clang14", "clang19"] {
        let r = corebpf(&["relocate", &obj_of(clang, KFUNCS), "--dump", "--json"]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let v = r.json();
        let (disasm, hex) = program(&v, "kfunc_pid");
        // Externs in libbpf's order (by name): _stext #0, bpf_task_from_pid #1,
        // bpf_task_from_pid___badproto #2, ___exists #3, bpf_task_release___local #4,
        // corebpf_no_such_var #5, runqueues #6.
        for want in [
            format!("call kfunc#{from_pid}  ; extern 'bpf_task_from_pid'"),
            format!("call kfunc#{release}  ; extern 'bpf_task_release___local'"),
            "call unknown#2002000002  ; extern 'bpf_task_from_pid___badproto'".into(),
            "= 0x0 ll  ; extern 'bpf_task_from_pid___badproto'".into(),
            "= 0x0 ll  ; extern 'corebpf_no_such_var'".into(),
            format!("= {stext:#x} ll  ; extern '_stext'"),
        ] {
            assert!(disasm.contains(&want), "{clang}: no '{want}' in\n{disasm}");
        }
        // The resolved weak kfunc's address: BPF_PSEUDO_BTF_ID (3) of the FUNC, 0 after.
        assert!(has_ldimm64(&hex, 3, from_pid as i32, 0), "{clang}: {hex:?}");
        // Typeless _stext: a plain ld_imm64 of its address.
        assert!(
            has_ldimm64(&hex, 0, stext as u32 as i32, (stext >> 32) as u32 as i32),
            "{clang}: {hex:?}"
        );
        // kfunc calls: src_reg BPF_PSEUDO_KFUNC_CALL (2), off 0 (vmlinux), imm the BTF id;
        // the poisoned one: a helper call (src 0) of 2002000000 + extern index.
        for want in [
            call_hex(2, 0, from_pid as i32),
            call_hex(2, 0, release as i32),
            call_hex(0, 0, 2002000002),
        ] {
            assert!(hex.contains(&want.as_str()), "{clang}: {want} in {hex:?}");
        }
        let (_, hex) = program(&v, "ksym_percpu");
        assert!(
            has_ldimm64(&hex, 3, runqueues as i32, 0),
            "{clang}: {hex:?}"
        );
        let externs = v["targets"][0]["externs"].as_array().unwrap();
        let names: Vec<_> = externs
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "_stext",
                "bpf_task_from_pid",
                "bpf_task_from_pid___badproto",
                "bpf_task_from_pid___exists",
                "bpf_task_release___local",
                "corebpf_no_such_var",
                "runqueues"
            ]
        );
        assert_eq!(externs[1]["btf_id"], from_pid);
        assert_eq!(externs[2]["outcome"], "missing");
        assert!(
            externs[2]["reason"]
                .as_str()
                .unwrap()
                .contains("incompatible with vmlinux"),
            "{}",
            externs[2]
        );
        assert_eq!(externs[0]["address"], stext);
        assert_eq!(v["ok"], true);
    }
}

#[test]
fn dumped_program_runs() {
    // The program the dump shows loads and runs: bpf_task_from_pid(2) gives kthreadd;
    // only the resolved weak kfunc's address is non-zero (flags bit 0).
    let mut open = corebpf::ObjectBuilder::new()
        .open_file(obj_of("clang19", KFUNCS))
        .unwrap();
    open.load_only(&["kfunc_pid"]).unwrap();
    let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
    let out = obj
        .program("kfunc_pid")
        .unwrap()
        .test_run(&corebpf::TestRun {
            data: &[0u8; 64],
            repeat: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out.retval, 2);
    let flags = u32::from_ne_bytes(obj.read_global("flags").unwrap().try_into().unwrap());
    assert_eq!(flags, 1);
    let stext = u64::from_ne_bytes(obj.read_global("stext_addr").unwrap().try_into().unwrap());
    assert_eq!(Some(stext), kallsyms("_stext"));
}

#[test]
fn externs_per_kernel_in_table_and_json() {
    let dir = TempDir::new("relocate-ksyms");
    let (b61, b612) = (
        gunzip_btf("6.1", dir.path()),
        gunzip_btf("6.12", dir.path()),
    );
    let args = [
        "relocate",
        &obj_of("clang19", KFUNCS),
        "--btf",
        &b61,
        "--btf",
        &b612,
    ];
    let r = corebpf(&args);
    // bpf_task_from_pid came in 6.2: loading on 6.1 fails, and the exit code says so.
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("__ksym extern(s) not resolved"),
        "{}",
        r.stderr
    );
    let btf612 = Btf::from_file(&b612).unwrap();
    let id612 = btf612
        .find_by_name_kind("bpf_task_from_pid", Kind::Func)
        .unwrap();
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("bpf_task_from_pid "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "bpf_task_from_pid",
            "kfunc",
            "-",
            "FAIL",
            &format!("[{id612}]")
        ]
    );
    let row = r.stdout.lines().find(|l| l.starts_with("_stext ")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["_stext", "typeless", "-", "?", "?"]
    );
    assert!(
        r.stdout
            .contains("6.1.btf: extern 'bpf_task_from_pid': not found in kernel or module BTFs"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("6.12.btf: 7 __ksym externs: 4 resolved, 2 weak and missing, 1 unknown, 0 failed: resolves"), "{}", r.stdout);

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let v = corebpf(&json_args).json();
    assert_eq!(v["ok"], false);
    let t61 = &v["targets"][0];
    assert_eq!(t61["ok"], false);
    assert_eq!(t61["externs_failed"], 2); // bpf_task_from_pid, bpf_task_release___local
    let t612 = &v["targets"][1];
    assert_eq!(t612["ok"], true);
    let e = &t612["externs"][1];
    assert_eq!(
        (
            e["name"].as_str(),
            e["outcome"].as_str(),
            e["btf"].as_str(),
            e["btf_id"].as_u64()
        ),
        (
            Some("bpf_task_from_pid"),
            Some("resolved"),
            Some("vmlinux"),
            Some(id612 as u64)
        )
    );
}

#[test]
fn module_symbols_missing_from_vmlinux_fail_per_kernel() {
    // Debian's 6.1 and 6.12 build nf_conntrack, x_tables and veth as modules: a BTF file of
    // their vmlinux lacks these symbols, and a dry run says so for each.
    let dir = TempDir::new("relocate-ksyms-mod");
    let b612 = gunzip_btf("6.12", dir.path());
    let r = corebpf(&[
        "relocate",
        &obj_of("clang19", "obj_module_btf.bpf.o"),
        "--btf",
        &b612,
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for want in [
        "extern (kfunc) 'bpf_xdp_ct_lookup': FAILED: not found in kernel or module BTFs",
        "extern (var) 'xt_recseq': FAILED: not found in kernel BTF",
    ] {
        assert!(r.stdout.contains(want), "{want} in\n{}", r.stdout);
    }
}

/// The libbpf 1.7 oracle: a built `prepare_oracle` and how to run it.
struct Oracle {
    root: PathBuf,
    exe: PathBuf,
}

impl Oracle {
    /// Runs the oracle on `obj`: each program's name and instructions as hex.
    fn prepare(&self, obj: &str) -> Vec<(String, Vec<String>)> {
        let lib = self.root.join("usr/lib/x86_64-linux-gnu");
        let out = Command::new(self.root.join("usr/lib64/ld-linux-x86-64.so.2"))
            .arg("--library-path")
            .arg(&lib)
            .arg(&self.exe)
            .arg(obj)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oracle on {obj}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut progs: Vec<(String, Vec<String>)> = Vec::new();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            match l.strip_prefix("prog ") {
                Some(name) => progs.push((name.to_string(), Vec::new())),
                None => progs.last_mut().unwrap().1.push(l.to_string()),
            }
        }
        progs
    }
}

/// `<workspace>/target/libbpf-oracle`: under the default `target/` whatever
/// `CARGO_TARGET_DIR` says, as `cargo xtask vm-test`'s cache.
fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/libbpf-oracle")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// apt options for a private sid configuration under `dir` (the host's sources untouched),
/// its lists fetched when missing or when `refresh`.
fn sid_apt(dir: &Path, refresh: bool) -> Result<Vec<String>, String> {
    let lists = dir.join("lists");
    let cache = dir.join("cache");
    for d in [lists.join("partial"), cache.join("archives/partial")] {
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let sources = dir.join("sources.list");
    std::fs::write(&sources, "deb http://deb.debian.org/debian sid main\n")
        .map_err(|e| e.to_string())?;
    let mut opts = Vec::new();
    for kv in [
        "APT::Sandbox::User=root".to_string(),
        format!("Dir::Etc::sourcelist={}", sources.display()),
        "Dir::Etc::sourceparts=-".to_string(),
        format!("Dir::State::Lists={}", lists.display()),
        format!("Dir::Cache={}", cache.display()),
    ] {
        opts.extend(["-o".to_string(), kv]);
    }
    let stamp = dir.join("updated");
    if refresh || !stamp.exists() {
        run(Command::new("apt-get").args(&opts).arg("update"))?;
        std::fs::write(&stamp, b"").map_err(|e| e.to_string())?;
    }
    Ok(opts)
}

/// Fetches sid's libbpf 1.7 (and the libraries it needs) by name, unpacks them and builds
/// the oracle against them; idempotent (a built oracle newer than its source is reused).
fn setup_oracle() -> Result<Oracle, String> {
    if std::env::consts::ARCH != "x86_64" {
        return Err("the libbpf oracle is set up for x86_64 only".into());
    }
    let dir = oracle_dir();
    let root = dir.join("root");
    let exe = dir.join("prepare_oracle");
    let src = testdata().join("tools/prepare_oracle.c");
    let newer = |a: &Path, b: &Path| {
        let t = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        matches!((t(a), t(b)), (Some(x), Some(y)) if x >= y)
    };
    if exe.exists() && newer(&exe, &src) {
        return Ok(Oracle { root, exe });
    }
    let debs = dir.join("debs");
    let _ = std::fs::remove_dir_all(&debs);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let pkgs = [
        "libbpf1",
        "libbpf-dev",
        "libc6",
        "libelf1t64",
        "zlib1g",
        "libzstd1",
    ];
    let download = |opts: &[String]| {
        run(Command::new("apt-get")
            .current_dir(&debs)
            .args(opts)
            .arg("download")
            .args(pkgs))
    };
    // Lists from an earlier run may name versions sid has dropped: refresh them once.
    let apt = dir.join("apt-sid");
    if download(&sid_apt(&apt, false)?).is_err() {
        download(&sid_apt(&apt, true)?)?;
    }
    for e in std::fs::read_dir(&debs).map_err(|e| e.to_string())? {
        let deb = e.map_err(|e| e.to_string())?.path();
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    }
    let version = std::fs::read_to_string(root.join("usr/include/bpf/libbpf_version.h"))
        .map_err(|e| format!("libbpf-dev unpacked no libbpf_version.h: {e}"))?;
    let minor = version
        .lines()
        .find_map(|l| l.strip_prefix("#define LIBBPF_MINOR_VERSION "))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or("no LIBBPF_MINOR_VERSION")?;
    if minor < 6 {
        return Err(format!(
            "sid's libbpf is 1.{minor}: bpf_object__prepare needs 1.6"
        ));
    }
    let tmp = dir.join(format!("prepare_oracle.{}", std::process::id()));
    run(Command::new("clang")
        .args(["-O2", "-Wall", "-I"])
        .arg(root.join("usr/include"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .arg("-L")
        .arg(root.join("usr/lib/x86_64-linux-gnu"))
        .args(["-lbpf", "-Wl,--allow-shlib-undefined"]))?;
    std::fs::rename(&tmp, &exe).map_err(|e| e.to_string())?;
    eprintln!(
        "libbpf oracle: built against libbpf 1.{minor} in {}",
        root.display()
    );
    Ok(Oracle { root, exe })
}

#[test]
fn dump_is_what_libbpf_prepares() {
    let oracle = match setup_oracle() {
        Ok(o) => o,
        Err(e) => {
            corebpf_testutil::skip(&format!("cannot set up the libbpf 1.7 oracle: {e}"));
            return;
        }
    };
    let mut compared = 0;
    for clang in ["clang14", "clang19"] {
        for name in [
            KFUNCS,
            "obj_externs_ksyms.bpf.o",
            "obj_module_btf.bpf.o",
            "obj_subprogs.bpf.o",
            "obj_globals.bpf.o",
            "core_tracing.bpf.o",
        ] {
            let obj = obj_of(clang, name);
            let want = oracle.prepare(&obj);
            let r = corebpf(&["relocate", &obj, "--dump", "--json"]);
            assert_eq!(r.code, 0, "{obj}: {}", r.stderr);
            let v = r.json();
            let got: Vec<(String, Vec<String>)> = v["targets"][0]["programs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let hex = p["hex"].as_array().unwrap();
                    let hex = hex.iter().map(|h| h.as_str().unwrap().to_string());
                    (p["name"].as_str().unwrap().to_string(), hex.collect())
                })
                .collect();
            assert_eq!(
                got, want,
                "{obj}: corebpf's dump differs from libbpf's prepare"
            );
            compared += want.len();
        }
    }
    eprintln!("{compared} programs instruction for instruction as libbpf prepares them");
}
