//! Everything that can go wrong between "run this script" and a finished run.

use std::io;
use std::path::PathBuf;

use super::outcome::ScriptOutcome;

/// Why a script could not be run, or why its run counts as a failure.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The script name is not a plain file name inside the package dir.
    #[error("script name '{name}' is not a plain file name; give a name such as api-post-install")]
    InvalidScriptName {
        /// The name as given.
        name: String,
    },
    /// A path the contract needs absolute (package dir, chroot root) is relative.
    #[error("{what} {path} is not an absolute path")]
    RelativePath {
        /// Which path (`package dir`, `image root`).
        what: &'static str,
        /// The path as given.
        path: PathBuf,
    },
    /// The package dir cannot be passed as `OSCAR_PACKAGE_HOME`.
    #[error("package dir {path} is not valid UTF-8; OSCAR_PACKAGE_HOME cannot carry it")]
    NonUtf8Path {
        /// The package dir.
        path: PathBuf,
    },
    /// A configuration value's name cannot become an environment variable.
    #[error("configuration name '{name}' {reason}; rename it with opm config set")]
    ConfigName {
        /// The name as stored.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration value holds a byte the environment cannot carry.
    #[error(
        "configuration value of '{name}' contains a NUL byte, which an environment variable cannot carry"
    )]
    ConfigValue {
        /// The value's name.
        name: String,
    },
    /// Two configuration names map to the same `OPM_CONFIG_*` variable.
    #[error(
        "configuration names '{first}' and '{second}' both map to {variable}; rename one of them"
    )]
    ConfigCollision {
        /// The first name (in sorted order).
        first: String,
        /// The second name.
        second: String,
        /// The variable both would set.
        variable: String,
    },
    /// The package directory is missing (on the host, or inside the image root).
    #[error("package dir {path} does not exist; check that the opkg's package is installed")]
    PackageDirMissing {
        /// Host path of the package dir.
        path: PathBuf,
    },
    /// The script file is missing.
    #[error("script {path} does not exist; check that the opkg's package is installed")]
    NotFound {
        /// Host path of the script.
        path: PathBuf,
    },
    /// The script path names a directory or another non-file.
    #[error("script {path} is not a regular file")]
    NotAFile {
        /// Host path of the script.
        path: PathBuf,
    },
    /// The script has no execute permission bit.
    #[error("script {path} is not executable; fix it with chmod +x {path}")]
    NotExecutable {
        /// Host path of the script.
        path: PathBuf,
    },
    /// The kernel refused to execute the script although it has an execute bit.
    #[error(
        "the system refused to execute script {path} (permission denied); check that its filesystem is not mounted noexec and that its #! interpreter is executable"
    )]
    ExecDenied {
        /// Host path of the script.
        path: PathBuf,
    },
    /// The interpreter named on the script's `#!` line does not exist.
    #[error(
        "script {path} names interpreter {interpreter} on its #! line, which does not exist{place}; install it or fix the #! line"
    )]
    BadInterpreter {
        /// Host path of the script.
        path: PathBuf,
        /// The interpreter as written on the `#!` line.
        interpreter: String,
        /// Empty on the host, ` in image root <root>` in chroot mode.
        place: String,
    },
    /// The script is neither a binary the kernel can run nor starts with `#!`.
    #[error("script {path} has no #! line and is not a binary; add a first line such as #!/bin/sh")]
    NoInterpreter {
        /// Host path of the script.
        path: PathBuf,
    },
    /// The image root to chroot into is missing.
    #[error("image root {root} does not exist or is not a directory")]
    ChrootRootMissing {
        /// The image root.
        root: PathBuf,
    },
    /// The image root has no `/bin/sh`, which opm uses to enter the package dir.
    #[error(
        "image root {root} has no /bin/sh; opm needs it to enter the package dir inside the image"
    )]
    ChrootShellMissing {
        /// The image root.
        root: PathBuf,
    },
    /// The process-group guard (a tiny host shell) could not be started.
    #[error("could not start the process-group guard {shell}: {source}")]
    Guard {
        /// The host shell the guard runs in.
        shell: PathBuf,
        /// The spawn error.
        source: io::Error,
    },
    /// The script (or, in chroot mode, the chroot program) could not be started
    /// for a reason not covered above.
    #[error("could not start {path}: {source}")]
    Spawn {
        /// Host path of the script, or of the chroot program in chroot mode.
        path: PathBuf,
        /// The spawn error.
        source: io::Error,
    },
    /// Waiting for the script failed; its group was still cleaned up.
    #[error("lost track of script {path} while waiting for it: {source}")]
    Wait {
        /// Host path of the script.
        path: PathBuf,
        /// The wait error.
        source: io::Error,
    },
    /// The script ran and did not succeed (non-zero exit, signal, timeout).
    #[error("{}", .outcome.failure_message())]
    Failed {
        /// The full outcome, output included, for the history.
        outcome: Box<ScriptOutcome>,
    },
}
