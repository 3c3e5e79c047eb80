//! find_map: creates a map named `findme` and pins it at `/sys/fs/bpf/findme` (or finds the
//! one already pinned there), then opens it by path and prints what the kernel says about it,
//! as `bpftool map create /sys/fs/bpf/findme type array key 4 value 8 entries 16 name findme`
//! followed by a lookup by path would.
//!
//! ```text
//! sudo target/release/find_map
//! ```

use std::path::PathBuf;

use clap::Parser;
use corebpf::map::Map;
use corebpf::sys::{MapCreateAttr, MapType};

/// Create-or-find a pinned map by path.
#[derive(Parser)]
struct Args {
    /// Where the map is pinned.
    #[arg(long, default_value = "/sys/fs/bpf/findme")]
    path: PathBuf,
    /// Remove the pin afterwards.
    #[arg(long)]
    unpin: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    corebpf::pin::ensure_bpffs()?;
    if args.path.exists() {
        println!("found a map pinned at {}", args.path.display());
    } else {
        let map = Map::create(&MapCreateAttr {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            name: "findme",
            ..Default::default()
        })?;
        map.pin(&args.path)?;
        println!(
            "created map 'findme' and pinned it at {}",
            args.path.display()
        );
    }
    // Whatever happened above, find it again by path only.
    let map = Map::from_pinned(&args.path)?;
    println!(
        "name: {}\ntype: {}\nkey size: {}\nvalue size: {}\nmax entries: {}\nflags: {:#x}\nid: {}",
        map.name(),
        map.map_type()
            .map_or("unknown".into(), |t| t.name().to_string()),
        map.key_size(),
        map.value_size(),
        map.max_entries(),
        map.flags(),
        map.id()
    );
    if args.unpin {
        corebpf::pin::unpin(&args.path)?;
        println!("unpinned {}", args.path.display());
    }
    Ok(())
}
