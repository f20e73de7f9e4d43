//! The demo and benchmark harness of opm, apart from the product's
//! commands: `opm demo` walks a throwaway cluster through its phases by
//! running the `opm` binary's own commands ([`demo`], with its server and
//! agents in [`daemons`]), `opm bench agents` loads a real `opm server`
//! with simulated agents ([`agents`]), `opm bench upgrade` upgrades an
//! opkg on them ([`upgrade`]) and `opm bench rollout` does so as a rollout
//! ([`rollout`]). The `opm` binary's `demo` and
//! `bench` commands only translate their arguments and print.

#![allow(
    clippy::disallowed_methods,
    reason = "the harness runs the opm binary itself (its server, agents and commands) and chroot, as an admin would"
)]

pub mod agents;
mod daemons;
pub mod demo;
pub mod rollout;
pub mod upgrade;

/// Where the harness's lines of text go (the CLI's printer).
pub type Say<'a> = &'a dyn Fn(&str);

/// An error caused by what the caller gave (exit 2 in the CLI): nothing
/// was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
