//! [`Btf`]: one parsed BTF blob (base or split), with checkpoint offsets and name indexes.
//! Types are decoded on access from the borrowed, owned or mapped bytes.

use std::sync::{Arc, OnceLock};

use crate::data::Data;
use crate::index::NameIndex;
use crate::layout::{parse_layout, sizes_with, warn_unknown};
use crate::raw::{
    info_kind, info_vlen, Endian, Header, Kind, KindLayout, Sizes, EXTRA, TYPE_HEADER_LEN,
};
use crate::scan::{check_types, find_culprit, scan_types, Check, Strings, CHECKPOINT};
use crate::types::Type;
use crate::{BtfError, Result};

/// A parsed BTF blob: the kernel's vmlinux, a module's split BTF, or an object's `.BTF`.
///
/// Parsing walks the type section once: it checks every record's bounds and kind (and, for
/// untrusted input, every type reference and string offset), keeps the offset of every
/// eighth type, and hashes the names of non-FUNC types into the name index. Nothing is
/// decoded into heap objects; types are read on access through [`Type`] views.
///
/// ```no_run
/// use corebpf_btf::{Btf, Kind};
/// let btf = Btf::from_sys_fs()?;
/// let id = btf.find_by_name_kind("task_struct", Kind::Struct).expect("task_struct");
/// let task = btf.type_by_id(id)?;
/// println!("{} is {} bytes", task, task.size());
/// # Ok::<(), corebpf_btf::BtfError>(())
/// ```
pub struct Btf {
    data: Data,
    endian: Endian,
    types: std::ops::Range<usize>,
    strs: std::ops::Range<usize>,
    /// Offset within the type section of own type `start_id + CHECKPOINT * i`.
    checkpoints: Vec<u32>,
    /// Number of own types.
    count: u32,
    /// Id of the first own type: 1 for base BTF, the base's type count for split BTF.
    start_id: u32,
    /// String offsets below this belong to the base.
    start_str: u32,
    base: Option<Arc<Btf>>,
    name: String,
    /// Index of named types other than FUNCs (what CO-RE and most lookups need).
    index: OnceLock<NameIndex>,
    /// Index of FUNCs (vmlinux has ~56k), built only when a function is looked up.
    func_index: OnceLock<NameIndex>,
    /// Named own FUNCs, counted at parse to size their index.
    named_funcs: usize,
    ptr_size: OnceLock<u32>,
    /// Record sizes by kind number: the known kinds', and those the layout section (this
    /// blob's, or the base's for split BTF without one) gives for other kinds.
    sizes: Sizes,
    /// This blob's layout section, if it has one.
    layout: Option<Vec<KindLayout>>,
    /// (kind, count) of own records of kinds this reader does not know.
    unknown_kinds: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("name", &self.name)
            .field("start_id", &self.start_id)
            .field("types", &self.count)
            .field("bytes", &self.data.len())
            .field("split", &self.base.is_some())
            .finish()
    }
}

impl Btf {
    /// Parses a base BTF blob, copying it into an owned buffer.
    pub fn parse(bytes: &[u8]) -> Result<Btf> {
        Btf::from_data(Data::Owned(bytes.into()), None, "btf")
    }

    /// Parses a base BTF blob held in a vector, without copying.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Btf> {
        Btf::from_data(Data::Owned(bytes.into_boxed_slice()), None, "btf")
    }

    /// Parses split BTF (a kernel module's) on top of `base`: its type ids continue after the
    /// base's last id and its string offsets after the base's string section.
    pub fn parse_split(bytes: &[u8], base: Arc<Btf>) -> Result<Btf> {
        Btf::from_data(Data::Owned(bytes.into()), Some(base), "btf")
    }

    /// Parses from any backing store; `name` is how logs refer to this BTF (`vmlinux`, a
    /// module name, a file name).
    pub(crate) fn from_data(data: Data, base: Option<Arc<Btf>>, name: &str) -> Result<Btf> {
        Btf::from_data_checked(data, base, name, Check::Full)
    }

    pub(crate) fn from_data_checked(
        data: Data,
        base: Option<Arc<Btf>>,
        name: &str,
        check: Check,
    ) -> Result<Btf> {
        let bytes = data.bytes();
        let hdr = Header::parse(bytes)?;
        let layout = parse_layout(bytes, &hdr)?;
        let sizes = match (&layout, &base) {
            (Some(l), _) => sizes_with(l),
            // Split BTF without its own layout shares the base's (as libbpf).
            (None, Some(b)) => b.sizes,
            (None, None) => EXTRA,
        };
        let (start_id, start_str) = match &base {
            Some(b) => (b.type_count(), b.str_len()),
            None => (1, 0),
        };
        let strs = hdr.str_range();
        check_strings(&bytes[strs.clone()], base.is_some())?;
        let types = hdr.type_range();
        let total_str = start_str as u64 + strs.len() as u64;
        if total_str > u32::MAX as u64 {
            return Err(BtfError::BadStrings {
                reason: "string section larger than 4 GiB".into(),
            });
        }
        let strings = Strings {
            own: &bytes[strs.clone()],
            start: start_str,
            base: base.as_deref(),
        };
        let scan = scan_types(
            &bytes[types.clone()],
            hdr.endian,
            &sizes,
            start_id,
            check,
            &strings,
        )?;
        warn_unknown(name, &scan.unknown);
        let btf = Btf {
            endian: hdr.endian,
            types,
            strs,
            checkpoints: scan.checkpoints,
            count: scan.count,
            start_id,
            start_str,
            base,
            name: name.to_string(),
            index: OnceLock::from(NameIndex::from_hashes(scan.names)),
            func_index: OnceLock::new(),
            named_funcs: scan.named_funcs,
            ptr_size: OnceLock::new(),
            sizes,
            layout,
            unknown_kinds: scan.unknown,
            data,
        };
        if check == Check::Full {
            btf.check_ranges(scan.max_ref, scan.max_str)?;
        }
        Ok(btf)
    }

    /// Checks that no record references a type id or string offset out of range, given the
    /// maxima the full parse pass found.
    fn check_ranges(&self, max_ref: u32, max_str: u32) -> Result<()> {
        let count = self.type_count();
        let str_total = self.str_len();
        if max_ref >= count || (max_str >= str_total && max_str != 0) {
            return Err(find_culprit(self, count, str_total.max(1)));
        }
        Ok(())
    }

    /// Runs every check of a full parse on this BTF (useful for kernel BTF, which
    /// [`Btf::from_sys_fs`] only checks for bounds).
    pub fn validate(&self) -> Result<()> {
        let scan = check_types(self.type_section(), self.endian, &self.sizes, self.start_id)?;
        self.check_ranges(scan.max_ref, scan.max_str)
    }

    /// Renames this BTF (how logs refer to it, e.g. `vmlinux` or a module's name).
    pub fn with_name(mut self, name: impl Into<String>) -> Btf {
        self.name = name.into();
        self
    }

    /// How logs refer to this BTF: `vmlinux`, a module name, or the file it came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw blob, as the kernel's `BTF_LOAD` takes it.
    pub fn raw_bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    /// Byte order of the blob.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The entries of this blob's layout section (one per kind number, as the encoder
    /// knew them), or `None` if its header has none (24-byte headers, BTF before pahole
    /// 1.31). Split BTF without one is read with its base's.
    pub fn layout(&self) -> Option<&[KindLayout]> {
        self.layout.as_deref()
    }

    /// `(kind, count)`, by kind number, of this blob's types of kinds this reader does not
    /// know, which it stepped over using the layout section (and warned about once).
    /// Such a type reads as opaque: [`Type::kind`] is [`Kind::Void`]
    /// ([`Type::is_unknown_kind`] tells it apart), it has no size, members or references,
    /// no name lookup or CO-RE candidate search returns it, and the C dump declares it as
    /// an empty placeholder struct.
    ///
    /// [`Kind::Void`]: crate::Kind::Void
    pub fn unknown_kinds(&self) -> &[(u32, u32)] {
        &self.unknown_kinds
    }

    /// The base BTF of split BTF.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// First type id defined by this blob (1 for base BTF).
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// One past the last valid type id, counting void and the base's types
    /// (libbpf's `btf__type_cnt`).
    pub fn type_count(&self) -> u32 {
        self.start_id + self.count
    }

    /// Length of the string section including the base's.
    pub fn str_len(&self) -> u32 {
        self.start_str + self.strs.len() as u32
    }

    /// The string at offset `off` of the (base + own) string section.
    pub fn str_at(&self, off: u32) -> Result<&str> {
        let bytes = self.str_bytes_at(off)?;
        std::str::from_utf8(bytes).map_err(|_| BtfError::BadStrings {
            reason: format!("string at offset {off} is not valid UTF-8"),
        })
    }

    /// The bytes of the NUL-terminated string at `off` (without the NUL).
    pub fn str_bytes_at(&self, off: u32) -> Result<&[u8]> {
        if off < self.start_str {
            if let Some(base) = &self.base {
                return base.str_bytes_at(off);
            }
        }
        let local = (off - self.start_str) as usize;
        let strs = &self.data.bytes()[self.strs.clone()];
        // ok_or_else: the error's String must not be built on every successful lookup.
        let tail = strs.get(local..).ok_or_else(|| BtfError::StringOffset {
            what: "string lookup".into(),
            offset: off,
            len: self.str_len(),
        })?;
        // The section ends with NUL (checked at parse), so a terminator is always found.
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        Ok(&tail[..end])
    }

    /// The type with id `id` (0 is void), from this blob or its base.
    pub fn type_by_id(&self, id: u32) -> Result<Type<'_>> {
        if id < self.start_id {
            return match &self.base {
                Some(base) => base.type_by_id(id),
                None => Ok(Type::void(self)),
            };
        }
        let idx = (id - self.start_id) as usize;
        if idx >= self.count as usize {
            return Err(BtfError::TypeIdOutOfRange {
                what: "type lookup".into(),
                id,
                last: self.type_count() - 1,
            });
        }
        let mut off = self.checkpoints[idx / CHECKPOINT] as usize;
        for _ in 0..idx % CHECKPOINT {
            off = self.next_record(off);
        }
        Ok(self.record(id, off))
    }

    /// Length of the record at `off` of the type section; bounds were checked at parse.
    #[inline]
    fn record_len(&self, off: usize) -> usize {
        let info = self.endian.u32(self.type_section(), off + 4);
        let (unit, fixed) = self.sizes[info_kind(info) as usize];
        TYPE_HEADER_LEN + unit as usize * info_vlen(info) as usize + fixed as usize
    }

    /// Offset of the record after the one at `off`.
    #[inline]
    fn next_record(&self, off: usize) -> usize {
        off + self.record_len(off)
    }

    /// The record starting at `off` of the type section.
    fn record(&self, id: u32, off: usize) -> Type<'_> {
        let types = self.type_section();
        let len = self.record_len(off);
        Type::new(self, id, types.get(off..off + len).unwrap_or(&[]))
    }

    /// Every type defined by this blob (not its base), in id order.
    pub fn types(&self) -> impl ExactSizeIterator<Item = Type<'_>> + '_ {
        let mut off = 0;
        (0..self.count).map(move |i| {
            let t = self.record(self.start_id + i, off);
            off = self.next_record(off);
            t
        })
    }

    /// The name index of this blob's own types other than FUNCs, built on first use.
    pub fn index(&self) -> &NameIndex {
        self.index
            .get_or_init(|| NameIndex::from_hashes(Vec::new()))
    }

    /// The name index of this blob's own FUNCs, built on first use.
    pub fn func_index(&self) -> &NameIndex {
        self.func_index.get_or_init(|| NameIndex::build_funcs(self))
    }

    /// Ids of this blob's own types named exactly `name`, any kind (FUNCs last).
    pub fn find_by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.index()
            .lookup_exact(self, name.as_bytes())
            .chain(self.func_index().lookup_exact(self, name.as_bytes()))
    }

    /// The first type named `name` of kind `kind`, searching the base first for split BTF
    /// (as libbpf's `btf__find_by_name_kind`).
    pub fn find_by_name_kind(&self, name: &str, kind: Kind) -> Option<u32> {
        if name == "void" && kind == Kind::Void {
            return Some(0);
        }
        if let Some(id) = self
            .base
            .as_ref()
            .and_then(|b| b.find_by_name_kind(name, kind))
        {
            return Some(id);
        }
        let index = if kind == Kind::Func {
            self.func_index()
        } else {
            self.index()
        };
        index
            .lookup_exact(self, name.as_bytes())
            .find(|&id| self.type_by_id(id).is_ok_and(|t| t.kind() == kind))
    }

    /// Ids of this blob's own types other than FUNCs whose *essential* name (the part
    /// before a `___flavor` suffix, libbpf's rule) is `essential`: the CO-RE candidate
    /// search.
    pub fn find_by_essential_name<'a>(
        &'a self,
        essential: &'a [u8],
    ) -> impl Iterator<Item = u32> + 'a {
        self.index().lookup_essential(self, essential)
    }

    pub(crate) fn type_section(&self) -> &[u8] {
        &self.data.bytes()[self.types.clone()]
    }

    pub(crate) fn string_section(&self) -> &[u8] {
        &self.data.bytes()[self.strs.clone()]
    }

    /// Named own FUNCs.
    pub(crate) fn named_func_count(&self) -> usize {
        self.named_funcs
    }

    pub(crate) fn cached_pointer_size(&self, compute: impl FnOnce() -> u32) -> u32 {
        *self.ptr_size.get_or_init(compute)
    }
}

/// Checks the string section: NUL-terminated, and starting with the empty string for base BTF.
fn check_strings(strs: &[u8], split: bool) -> Result<()> {
    if strs.is_empty() {
        return if split {
            Ok(())
        } else {
            Err(BtfError::BadStrings {
                reason: "empty string section (it must at least hold the empty name)".into(),
            })
        };
    }
    if !split && strs[0] != 0 {
        return Err(BtfError::BadStrings {
            reason: "does not start with the empty string".into(),
        });
    }
    if strs[strs.len() - 1] != 0 {
        return Err(BtfError::BadStrings {
            reason: "last string is not NUL-terminated".into(),
        });
    }
    Ok(())
}
