//! Where the project's shared directory is (the corpus of opkgs, the real
//! OSCAR opkgs, the XSD): `OPM_SHARED` when set, for a checkout that does
//! not sit beside it (a git worktree elsewhere), else `../shared` next to
//! the repository. Its files are read in place, never copied in.

use std::path::{Path, PathBuf};

/// The shared directory; it may not exist (the caller says SKIPPED then).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("OPM_SHARED").map_or_else(
        // This crate sits at crates/opm-testkit, like every crate.
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}
