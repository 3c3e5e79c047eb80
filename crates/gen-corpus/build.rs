//! Generates the skeleton of every testdata object into `OUT_DIR`: `<clang>_<object>.rs`,
//! `all.rs` (includes them and lists their openers) and `refused.txt` (objects with no
//! skeleton, and why).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(".bpf.o"));
    v.sort();
    v
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut all = String::new();
    let mut openers = String::new();
    let mut refused = String::new();
    for clang in ["clang14", "clang19"] {
        let dir = root.join("testdata/bpf/out").join(clang);
        println!("cargo:rerun-if-changed={}", dir.display());
        for path in objects(&dir) {
            println!("cargo:rerun-if-changed={}", path.display());
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let name = format!("{clang}_{}", file.trim_end_matches(".bpf.o"));
            let spec = match corebpf_obj::Object::from_file(&path) {
                Ok(s) => s,
                Err(e) => {
                    let _ = writeln!(refused, "{clang}/{file}: parse: {e}");
                    continue;
                }
            };
            let opts = corebpf_gen::Options {
                name: Some(name.clone()),
                object_path: path
                    .canonicalize()
                    .expect("object path")
                    .display()
                    .to_string(),
                types: Vec::new(),
            };
            match corebpf_gen::generate(&spec, &opts) {
                Ok(text) => {
                    let rs = out.join(format!("{name}.rs"));
                    std::fs::write(&rs, text).expect("write skeleton");
                    let _ = writeln!(all, "include!({:?});", rs.display().to_string());
                    let module = name.replace(['.', '-'], "_");
                    let _ = writeln!(
                        openers,
                        "    ({name:?}, || {module}::{}::open().map(drop)),",
                        open_type(&module)
                    );
                }
                Err(e) => {
                    let _ = writeln!(refused, "{clang}/{file}: {e}");
                }
            }
        }
    }
    let _ = writeln!(
        all,
        "\n/// A skeleton's `open`.\npub type Opener = fn() -> corebpf::Result<()>;\n\n/// Every skeleton's `open`.\npub const OPENERS: &[(&str, Opener)] = &[\n{openers}];"
    );
    std::fs::write(out.join("all.rs"), all).expect("write all.rs");
    std::fs::write(out.join("refused.txt"), refused).expect("write refused.txt");
}

/// `Open<Name>Skel` for module `name`, as the generator names it.
fn open_type(name: &str) -> String {
    let camel: String = name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("Open{camel}Skel")
}
