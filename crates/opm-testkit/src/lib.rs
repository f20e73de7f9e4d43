//! Shared test helpers for opm: temp dirs, sandbox roots, example opkgs.
//!
//! Filled as integration tests across crates need common setup.
