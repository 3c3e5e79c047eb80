//! [`LinkError`]: why several objects could not be linked into one. Every variant names the
//! input(s) and the symbol or section it is about.

/// What went wrong while statically linking BPF objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// An input is not a usable BPF object (bad ELF, BTF, `.BTF.ext`, symbol or relocation).
    #[error("link: input '{input}': {reason}")]
    Input {
        /// The input's name (its path, or the name given with its bytes).
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// Two inputs both define a symbol with global (non-weak) binding.
    #[error("link: symbol '{symbol}' is defined (strong) in both '{first}' and '{second}'")]
    DuplicateDefinition {
        /// The symbol.
        symbol: String,
        /// The input whose definition came first.
        first: String,
        /// The input with the second strong definition.
        second: String,
    },
    /// Two inputs declare or define a symbol with types that do not match (a variable's
    /// type, a function's prototype, a map definition).
    #[error("link: symbol '{symbol}' in '{second}' is incompatible with its declaration in '{first}': {reason}")]
    Incompatible {
        /// The symbol.
        symbol: String,
        /// The input the symbol was first seen in.
        first: String,
        /// The input whose declaration does not match.
        second: String,
        /// What differs.
        reason: String,
    },
    /// A strong extern (function, variable or map) that no input defines. Weak externs and
    /// `__kconfig`/`__ksym` externs (resolved at load) may stay unresolved.
    #[error("link: '{input}' refers to extern '{symbol}', which no input defines")]
    Unresolved {
        /// The symbol.
        symbol: String,
        /// The (first) input that declares it.
        input: String,
    },
    /// Two inputs have sections of the same name that cannot be merged (different type or
    /// flags; different `license`/`version` contents).
    #[error(
        "link: section '{section}' of '{second}' cannot be merged with that of '{first}': {reason}"
    )]
    Section {
        /// The section name.
        section: String,
        /// The input that first had the section.
        first: String,
        /// The input whose section differs.
        second: String,
        /// What differs.
        reason: String,
    },
    /// Linking needs something this linker does not do (big-endian objects, ...).
    #[error("link: input '{input}': {reason}")]
    Unsupported {
        /// The input.
        input: String,
        /// What is not supported.
        reason: String,
    },
    /// No inputs were given.
    #[error("link: no input objects")]
    NoInputs,
}

impl LinkError {
    /// An [`LinkError::Input`] error.
    pub(crate) fn input(input: &str, reason: impl Into<String>) -> LinkError {
        LinkError::Input {
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}
