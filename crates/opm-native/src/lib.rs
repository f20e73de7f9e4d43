//! Package-manager backends and the script runner: the only crate that
//! spawns processes.
//!
//! Backends: one [`PackageManager`] trait (install, remove, query a set of
//! packages in a [`Root`], from the configured [`Repo`]s) with one module
//! per tool: [`apt`] and [`dpkg`] on Debian-like systems, [`dnf`] and [`rpm`]
//! on RPM systems. Entry point: [`Backend::manager`] for a backend named by
//! `--backend`, or [`detect::detect`] to choose one as OSCAR's PackMan did.
//! Every tool run is built as a [`command::Invocation`] value and its output
//! parsed from text, so both are unit-tested; real runs go into sandbox
//! roots in the integration tests. A [`lock::RootLock`] keeps two opm
//! processes from running a package manager on the same root at once.
//!
//! The script runner ([`script`]) runs opkg API scripts. Neighbours:
//! `opm-engine` drives both (from `spawn_blocking` for the synchronous
//! backends); `opm-model` supplies names; packages come from `opm pack`
//! (`opm-opkg`).

#![allow(
    clippy::disallowed_methods,
    reason = "this is the crate that starts processes, through Invocation and the script runner"
)]

pub mod apt;
pub mod command;
pub mod createrepo;
pub mod detect;
pub mod dnf;
pub mod dpkg;
mod error;
pub mod files;
pub mod lock;
mod manager;
mod repo;
mod root;
pub mod rpm;
pub mod sign;
pub mod version;

pub mod script;

pub use error::{Cause, NativeError, Result, ToolFailure};
pub use manager::{Backend, InstalledPackage, Options, PackageManager, Versioned};
pub use repo::{Repo, describe as describe_repos};
pub use root::Root;
