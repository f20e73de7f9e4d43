//! The script runner (SPEC §1.7): runs an opkg's API scripts the way the
//! contract says, and reports how each run ended with its output.
//!
//! Entry point: build a [`ScriptInvocation`] with [`ScriptInvocation::builder`]
//! (pure: environment and command line are data, see [`ScriptInvocation::command`]),
//! then [`ScriptRunner::run`] it. The engine calls this for every script of
//! every stage; nothing here knows about rows or the store.
//!
//! What a run guarantees:
//! - a clean environment built from nothing but the site's chosen variables
//!   ([`env`] documents the names, [`site_env`] the site's);
//! - working directory = the package dir; chroot mode goes through the
//!   `chroot` program and a `/bin/sh` inside the image that enters the dir;
//! - its own process group, cleaned up whole when the script ends or times out
//!   (SIGTERM, a grace period, SIGKILL), and killed whole if opm dies ([`group`]);
//! - stdout and stderr captured separately with head and tail kept ([`capture`]);
//! - failures that say what happened: exit code or signal with the output's
//!   tail, timeouts, missing or non-executable scripts, bad `#!` interpreters.

pub mod capture;
pub mod check;
pub mod env;
pub mod error;
pub mod group;
pub mod invocation;
pub mod outcome;
pub mod runner;
pub mod site_env;

pub use capture::{CapturedOutput, CapturedStream};
pub use env::ScriptContext;
pub use error::ScriptError;
pub use group::GroupCleanup;
pub use invocation::{CommandSpec, DEFAULT_TIMEOUT, InvocationBuilder, ScriptInvocation};
pub use outcome::{ExitStatusKind, ScriptOutcome};
pub use runner::{RunnerConfig, ScriptRunner};
pub use site_env::{SiteEnv, SiteEnvError};
