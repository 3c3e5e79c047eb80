//! Which BPF token an object loads with, by libbpf's rules (`bpf_object_prepare_token`):
//! the path given to [`crate::ObjectBuilder::token`], else `LIBBPF_BPF_TOKEN_PATH`, else
//! the default bpffs `/sys/fs/bpf` if it delegates anything. An empty path (either way)
//! means no token. A path that was asked for must give a token, or loading fails; the
//! default one is only tried.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use corebpf_sys::Token;

use crate::error::{Error, Result};

/// The environment variable libbpf reads for the bpffs to create a token from.
pub const TOKEN_PATH_ENV: &str = "LIBBPF_BPF_TOKEN_PATH";

/// The bpffs tried when no path is given.
const DEFAULT_BPFFS: &str = "/sys/fs/bpf";

/// The token for loading an object opened with `path` set by the builder (`None`: not set).
pub(crate) fn prepare(path: Option<&Path>, object: &str) -> Result<Option<Arc<Token>>> {
    let asked = path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(TOKEN_PATH_ENV).map(PathBuf::from));
    match asked {
        Some(p) if p.as_os_str().is_empty() => {
            log::debug!("object '{object}': BPF token disabled (empty token path)");
            Ok(None)
        }
        Some(p) => match Token::open(&p) {
            Ok(t) => {
                log::debug!("object '{object}': BPF token from {}", p.display());
                Ok(Some(Arc::new(t)))
            }
            Err(error) => Err(Error::Token {
                path: p.display().to_string(),
                error,
            }),
        },
        None => Ok(match Token::open(Path::new(DEFAULT_BPFFS)) {
            Ok(t) => {
                log::debug!("object '{object}': BPF token from {DEFAULT_BPFFS}");
                Some(Arc::new(t))
            }
            Err(e) => {
                log::debug!("object '{object}': no BPF token from {DEFAULT_BPFFS}: {e}");
                None
            }
        }),
    }
}
