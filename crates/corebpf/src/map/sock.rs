//! Socket maps (`BPF_MAP_TYPE_SOCKMAP`, `BPF_MAP_TYPE_SOCKHASH`), used to redirect
//! between sockets. User space stores socket fds and reads back socket cookies.

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use corebpf_sys::MapType;

use super::{bytes_of, typed_map, Keys, Map, MapError, Pod};

fn check_value(map: &Map) -> Result<(), MapError> {
    match map.value_size() {
        4 | 8 => Ok(()),
        n => Err(MapError::ValueSize {
            name: map.name().to_string(),
            map: n,
            rust: 4,
            ty: "u32 or u64 (socket fd / cookie)",
        }),
    }
}

fn check_sockmap(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Sockmap], "SockMap")?;
    map.check_key_size(4, "u32")?;
    check_value(map)
}

fn check_sockhash<K: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Sockhash], "SockHash")?;
    map.check_key::<K>()?;
    check_value(map)
}

typed_map! {
    /// A `BPF_MAP_TYPE_SOCKMAP`: an array of sockets.
    SockMap[], as_sock_map, into_sock_map, check_sockmap
}

typed_map! {
    /// A `BPF_MAP_TYPE_SOCKHASH`: sockets keyed by `K`.
    SockHash[K], as_sock_hash, into_sock_hash, check_sockhash
}

/// The socket fd in the map's value width.
fn fd_value(map: &Map, sock: BorrowedFd<'_>) -> Vec<u8> {
    let fd = sock.as_raw_fd() as u32;
    if map.value_size() == 8 {
        (fd as u64).to_ne_bytes().to_vec()
    } else {
        fd.to_ne_bytes().to_vec()
    }
}

/// Reads a socket cookie (only maps with 8-byte values return one).
fn cookie(map: &Map, key: &[u8]) -> Result<Option<u64>, MapError> {
    if map.value_size() != 8 {
        return Err(MapError::invalid(
            map.name(),
            "the kernel returns socket cookies only for maps with 8-byte values",
        ));
    }
    Ok(map
        .lookup(key, 0)?
        .map(|b| u64::from_ne_bytes(b[..8].try_into().expect("8 bytes"))))
}

impl<M: Borrow<Map>> SockMap<M> {
    /// Stores the socket `sock` at `index`.
    pub fn set(&self, index: u32, sock: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let v = fd_value(self.map(), sock);
        self.map().update(&index.to_ne_bytes(), &v, flags)
    }

    /// Removes the socket at `index`; `Ok(false)` if empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().check_index(index)?;
        self.map().delete(&index.to_ne_bytes())
    }

    /// The cookie of the socket at `index` (maps with 8-byte values only), or `None`.
    pub fn get_cookie(&self, index: u32) -> Result<Option<u64>, MapError> {
        self.map().check_index(index)?;
        cookie(self.map(), &index.to_ne_bytes())
    }
}

impl<K: Pod, M: Borrow<Map>> SockHash<K, M> {
    /// Stores the socket `sock` under `key`.
    pub fn insert(&self, key: &K, sock: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        let v = fd_value(self.map(), sock);
        self.map().update(bytes_of(key), &v, flags)
    }

    /// Removes `key`; `Ok(false)` if absent.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete(bytes_of(key))
    }

    /// The cookie of the socket under `key` (maps with 8-byte values only), or `None`.
    pub fn get_cookie(&self, key: &K) -> Result<Option<u64>, MapError> {
        cookie(self.map(), bytes_of(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> Keys<'_, K> {
        Keys::new(self.map())
    }
}
