//! [`ObjError`]: the one error type of `corebpf-obj`. Every variant names what it is about
//! (section, symbol, map, program, instruction index) so a user can find it with
//! `llvm-objdump -dr` or `bpftool btf dump`.

use corebpf_btf::BtfError;

/// What went wrong while parsing or linking a BPF object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjError {
    /// The bytes are not a usable ELF file (bad header, wrong machine or byte order).
    #[error("elf: {reason}")]
    Elf {
        /// What is wrong.
        reason: String,
    },
    /// A section's header or contents are inconsistent (e.g. it runs past the end of the file).
    #[error("section '{section}': {reason}")]
    Section {
        /// Section name (or `#index` when the name is unreadable).
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// A symbol is inconsistent with its section (misaligned, out of bounds, ...).
    #[error("sec '{section}': symbol '{symbol}': {reason}")]
    Symbol {
        /// Symbol name.
        symbol: String,
        /// Section the symbol is in.
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// The object's `.BTF` or `.BTF.ext` cannot be parsed or fixed up.
    #[error("{section}: {error}")]
    Btf {
        /// `.BTF` or `.BTF.ext`.
        section: &'static str,
        /// The BTF error (in the message; not also `source()`).
        error: BtfError,
    },
    /// A program's SEC() name matches no known convention (the program's own error: the
    /// rest of the object parses).
    #[error("prog '{program}': unrecognized SEC name '{section}' (unknown program type)")]
    UnknownSection {
        /// Program name.
        program: String,
        /// Its ELF section name.
        section: String,
    },
    /// A program is not usable for another reason (e.g. a static function outside `.text`).
    #[error("prog '{program}' in sec '{section}': {reason}")]
    Program {
        /// Program name.
        program: String,
        /// Its ELF section name.
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// A map definition is invalid.
    #[error("map '{map}' in sec '{section}': {reason}")]
    Map {
        /// Map name.
        map: String,
        /// Section of the definition (`.maps`, `maps`, ...).
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// A relocation cannot be applied.
    #[error("sec '{section}': relo for insn #{insn} against '{symbol}': {reason}")]
    Reloc {
        /// Section holding the instruction.
        section: String,
        /// Instruction index within the section.
        insn: usize,
        /// Symbol the relocation names (`#N` if it has no readable name).
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// An extern (`__kconfig`, `__ksym`) is invalid or cannot be resolved.
    #[error("extern '{name}': {reason}")]
    Extern {
        /// Extern symbol name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A strong `CONFIG_*` extern needs the kernel config, and no config file was found
    /// (the usual case in a container: no `/boot`, no `/proc/config.gz`). Weak ones read 0.
    #[error(
        "extern '{name}' (strong) needs the kernel config, and none was found (tried {})",
        .tried.join(", ")
    )]
    NoKernelConfig {
        /// Extern symbol name (`CONFIG_*`).
        name: String,
        /// The files tried, in order (`/boot/config-$(uname -r)`, `/proc/config.gz`).
        tried: Vec<String>,
    },
    /// A BPF-to-BPF call or callback reference does not point at a function start.
    #[error("prog '{program}': insn #{insn} of '{function}' (sec '{section}'): {reason}")]
    Call {
        /// Program being linked.
        program: String,
        /// Function holding the call.
        function: String,
        /// Its section.
        section: String,
        /// Instruction index within the function.
        insn: usize,
        /// What is wrong.
        reason: String,
    },
    /// A program reaches a symbol nothing in the object defines and no `__kconfig`/`__ksym`
    /// extern declares (a call to a function only declared, an `LD_IMM64` of an undefined
    /// symbol such as inline asm's `r0 = SYMBOL ll`), and no value was given for it. Only
    /// the programs that reach it fail; the object parses and its other programs link.
    #[error(
        "prog '{program}': insn #{insn} of '{function}' (sec '{section}') {}",
        undefined_reason(*.call, symbol)
    )]
    Undefined {
        /// Program being linked.
        program: String,
        /// The undefined symbol.
        symbol: String,
        /// Function holding the reference.
        function: String,
        /// Its section.
        section: String,
        /// Instruction index within the function.
        insn: usize,
        /// A call (otherwise an `LD_IMM64`).
        call: bool,
    },
    /// No program (or function) of that name.
    #[error("no program named '{0}'")]
    NoSuchProgram(String),
    /// No instruction refers to an undefined symbol of that name.
    #[error("no instruction refers to an undefined symbol named '{0}'")]
    NoSuchSymbol(String),
    /// Statically linking several objects into one failed.
    #[error("{0}")]
    Link(crate::linker::LinkError),
    /// Reading a file (object, kernel config, kallsyms) failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
}

/// What [`ObjError::Undefined`] says about its symbol.
fn undefined_reason(call: bool, symbol: &str) -> String {
    if call {
        format!("calls undefined function '{symbol}': nothing in the object defines it")
    } else {
        format!(
            "loads undefined symbol '{symbol}': nothing in the object defines it; \
             give it a value before load (set_symbol_value)"
        )
    }
}

impl From<crate::linker::LinkError> for ObjError {
    fn from(e: crate::linker::LinkError) -> Self {
        ObjError::Link(e)
    }
}

/// `Result` with [`ObjError`].
pub type Result<T, E = ObjError> = std::result::Result<T, E>;

/// An error in the object's `.BTF` section.
pub(crate) fn obj_btf_err(source: BtfError) -> ObjError {
    ObjError::Btf {
        section: ".BTF",
        error: source,
    }
}
