//! Prints a parsed object's spec (debug format): `cargo run --example objdump -- FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: objdump FILE");
    match corebpf_obj::Object::from_file(&path) {
        Ok(spec) => {
            for p in &spec.programs {
                println!(
                    "prog {} sec {} type {} err {:?}",
                    p.name, p.section, p.prog_type, p.error
                );
                match spec.link_program_by_name(&p.name) {
                    Ok(l) => println!(
                        "  linked {} insns, {} funcs, maps {:?}, ext {:?}, fi {:?}",
                        l.insns.len(),
                        l.layout.len(),
                        l.map_relocs,
                        l.extern_relocs,
                        l.func_info
                    ),
                    Err(e) => println!("  link error: {e}"),
                }
            }
            for m in &spec.maps {
                println!(
                    "map {} {:?} type {} k{} v{} max{} flags {:#x} pin {:?} slots {:?} inner {:?}",
                    m.name,
                    m.kind,
                    m.map_type,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    m.map_flags,
                    m.pinning,
                    m.init_slots,
                    m.inner.as_ref().map(|i| (
                        &i.name,
                        i.map_type,
                        i.key_size,
                        i.value_size,
                        i.max_entries
                    ))
                );
            }
            for e in &spec.externs {
                println!("extern {:?}", e);
            }
            println!(
                "license {:?} version {:?} funcs {}",
                spec.license,
                spec.kern_version,
                spec.functions.len()
            );
        }
        Err(e) => println!("error: {e}"),
    }
}
