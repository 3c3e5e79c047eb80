//! The `corebpf` command line.

fn main() {
    env_logger::init();
    eprintln!("corebpf: no commands yet");
    std::process::exit(2);
}
