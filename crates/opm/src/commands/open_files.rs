//! Room for thousands of connections: the usual soft limit of 1,024 open
//! files is far below what 10,000 agents' long-polls hold open, while the
//! hard limit a process may raise itself to is usually much higher.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises this process's soft limit on open files to its hard limit; the
/// limit in force afterwards.
///
/// # Errors
/// When the limit cannot be read or set.
pub fn raise_open_files() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}
