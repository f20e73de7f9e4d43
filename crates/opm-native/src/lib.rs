//! Package-manager backends and the script runner: the only crate that
//! spawns processes.
//!
//! Filled by the native-packages issue (backends) and the engine issue
//! (script runner).

pub mod script;
