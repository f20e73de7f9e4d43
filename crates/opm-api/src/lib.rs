//! The network side of opm: the head-node HTTP API (axum) and the node
//! agent's client.
//!
//! Filled by the many-machines issue.
