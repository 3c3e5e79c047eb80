//! `corebpf map show|dump (--pinned PATH | --id ID)` and `corebpf map pin --id ID PATH`.

use std::error::Error;
use std::path::PathBuf;

use corebpf::map::Map;
use serde_json::{json, Value};

use super::{hex, hex_spaced, Exit};

/// `corebpf map` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show a map's name, type, key/value sizes, max entries, flags and id.
    #[command(after_help = "Examples:\n  \
        corebpf map show --pinned /sys/fs/bpf/myapp/counts\n  \
        corebpf map show --id 42 --json")]
    Show(Which),
    /// Print every entry's key and value as hex, as bpftool does.
    #[command(
        long_about = "Print every entry of a map as hex key and value, as `bpftool map dump` \
            does for maps without BTF. Per-CPU maps print one value per possible CPU.",
        after_help = "Examples:\n  \
            corebpf map dump --pinned /sys/fs/bpf/myapp/counts\n  \
            corebpf map dump --id 42 --json"
    )]
    Dump(Which),
    /// Pin a map (found by id) at a path on a bpffs.
    #[command(after_help = "Example:\n  corebpf map pin --id 42 /sys/fs/bpf/counts")]
    Pin(PinArgs),
}

/// Which map: by pin path or by id.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct MapRef {
    /// Path where the map is pinned.
    #[arg(long, value_name = "PATH")]
    pub pinned: Option<PathBuf>,
    /// The map's kernel id.
    #[arg(long, value_name = "ID")]
    pub id: Option<u32>,
}

/// Arguments of `map show` and `map dump`.
#[derive(Debug, clap::Args)]
pub struct Which {
    /// The map.
    #[command(flatten)]
    pub map: MapRef,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `corebpf map pin`.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// The map's kernel id.
    #[arg(long, value_name = "ID")]
    pub id: u32,
    /// Where to pin it.
    pub path: PathBuf,
}

/// Runs a `map` subcommand.
pub fn run(cmd: Command) -> Result<Exit, Box<dyn Error>> {
    match cmd {
        Command::Show(w) => show(&w),
        Command::Dump(w) => dump(&w),
        Command::Pin(p) => {
            Map::from_id(p.id)?.pin(&p.path)?;
            println!("map id {} pinned at {}", p.id, p.path.display());
            Ok(Exit::Ok)
        }
    }
}

fn open(w: &Which) -> Result<Map, Box<dyn Error>> {
    Ok(match (&w.map.pinned, w.map.id) {
        (Some(p), _) => Map::from_pinned(p)?,
        (None, Some(id)) => Map::from_id(id)?,
        (None, None) => unreachable!("clap requires --pinned or --id"),
    })
}

fn type_name(m: &Map) -> String {
    m.map_type()
        .map_or(format!("unknown({})", m.raw_type()), |t| {
            t.name().to_string()
        })
}

fn show(w: &Which) -> Result<Exit, Box<dyn Error>> {
    let m = open(w)?;
    if w.json {
        let v = json!({
            "id": m.id(), "name": m.name(), "type": type_name(&m),
            "key_size": m.key_size(), "value_size": m.value_size(),
            "max_entries": m.max_entries(), "flags": m.flags(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}: {}  name {}  flags {:#x}\n\tkey {}B  value {}B  max_entries {}",
            m.id(),
            type_name(&m),
            m.name(),
            m.flags(),
            m.key_size(),
            m.value_size(),
            m.max_entries()
        );
    }
    Ok(Exit::Ok)
}

fn dump(w: &Which) -> Result<Exit, Box<dyn Error>> {
    let m = open(w)?;
    let per_cpu = m.map_type().is_some_and(|t| t.is_percpu());
    let slot = m.value_size().div_ceil(8) * 8;
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for key in m.keys() {
        let key = key?;
        // A key deleted between GET_NEXT_KEY and the lookup is skipped.
        if let Some(v) = m.lookup(&key, 0)? {
            entries.push((key, v));
        }
    }
    let values = |v: &[u8]| -> Vec<Vec<u8>> {
        if per_cpu {
            v.chunks(slot)
                .map(|c| c[..m.value_size()].to_vec())
                .collect()
        } else {
            vec![v.to_vec()]
        }
    };
    if w.json {
        let v: Vec<Value> = entries
            .iter()
            .map(|(k, v)| {
                if per_cpu {
                    let vals: Vec<String> = values(v).iter().map(|x| hex(x)).collect();
                    json!({"key": hex(k), "values": vals})
                } else {
                    json!({"key": hex(k), "value": hex(v)})
                }
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Exit::Ok);
    }
    for (k, v) in &entries {
        if per_cpu {
            println!("key: {}", hex_spaced(k));
            for (cpu, val) in values(v).iter().enumerate() {
                println!("value (CPU {cpu:02}): {}", hex_spaced(val));
            }
        } else {
            println!("key: {}  value: {}", hex_spaced(k), hex_spaced(v));
        }
    }
    println!(
        "Found {} element{}",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    Ok(Exit::Ok)
}
