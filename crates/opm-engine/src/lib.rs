//! The reconcile runtime of opm: loads rows that need work, asks `opm-plan`,
//! carries decisions out through `opm-native`, and records outcomes through
//! `opm-store`.
//!
//! Filled by the engine issue.
