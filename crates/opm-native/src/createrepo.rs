//! dnf repodata for a directory of `.rpm` files, written by `createrepo_c`
//! (`opm repo index`). It is a process, so it runs here, through
//! [`Invocation`] like every other tool: a clean environment and its
//! messages captured for the error that names it.

use std::path::Path;

use crate::command::{Invocation, Ran};
use crate::error::Result;

/// The program that writes dnf repodata.
pub const CREATEREPO: &str = "createrepo_c";

/// The run that writes `dir/repodata` for the `.rpm` files in `dir`
/// (no sqlite databases: dnf reads the XML).
#[must_use]
pub fn invocation(dir: &Path) -> Invocation {
    Invocation::new(CREATEREPO).args([
        "--quiet".to_owned(),
        "--no-database".to_owned(),
        dir.to_string_lossy().into_owned(),
    ])
}

/// Runs `createrepo_c` for `dir`; how it ended is the caller's to judge.
///
/// # Errors
/// [`crate::NativeError::ToolMissing`] when `createrepo_c` is not
/// installed, [`crate::NativeError::Wait`] when waiting for it fails.
pub fn run(dir: &Path) -> Result<Ran> {
    invocation(dir).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repodata_run_is_quiet_without_databases_on_the_directory() {
        let run = invocation(Path::new("/srv/repo"));
        assert_eq!(run.program, "createrepo_c");
        assert_eq!(run.args, ["--quiet", "--no-database", "/srv/repo"]);
        assert!(run.env.is_empty());
    }
}
