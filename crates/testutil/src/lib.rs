//! What corebpf's test suites share. For now: the one skip policy.
//!
//! A test that cannot run its check (a tool, a kernel file or an interface it needs is
//! missing) **fails**, unless the environment variable [`ALLOW_SKIP_ENV`]
//! (`COREBPF_ALLOW_SKIP=1`) allows skipping; CI never sets it. Where the kernel lacks a
//! feature, a test does not skip at all: it asserts that corebpf says so clearly, and the
//! real check runs in a QEMU guest that has the feature.

#![forbid(unsafe_code)]

/// The environment variable that allows a test to skip a check it cannot run.
pub const ALLOW_SKIP_ENV: &str = "COREBPF_ALLOW_SKIP";

/// Whether skipping is allowed (`COREBPF_ALLOW_SKIP=1`).
pub fn skipping_allowed() -> bool {
    std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1")
}

/// Called where a test cannot run its check, for `reason`: returns (the caller then
/// returns) if skipping is allowed, and fails the test otherwise.
///
/// ```
/// # fn have_bpftool() -> bool { true }
/// if !have_bpftool() {
///     corebpf_testutil::skip("no bpftool (apt-get install bpftool)");
///     return;
/// }
/// ```
#[track_caller]
pub fn skip(reason: &str) {
    if skipping_allowed() {
        eprintln!("skipped ({ALLOW_SKIP_ENV}=1): {reason}");
    } else {
        panic!("cannot run this check: {reason} (set {ALLOW_SKIP_ENV}=1 to allow skipping it)");
    }
}

/// The workspace's `testdata/`: `$COREBPF_TESTDATA` when set (the QEMU guests set it to
/// `/testdata`, where a path built from the package directory may be hidden, e.g. by the
/// guest's tmpfs on `/tmp`), else `testdata/` next to the crates.
pub fn testdata() -> std::path::PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata"))
}
