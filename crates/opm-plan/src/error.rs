//! Errors of the planner: only gathering facts can fail; [`crate::decide`]
//! itself is total.

use opm_model::Name;

/// Why facts for a decision could not be gathered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A row names an image whose root is not known, so nothing could be
    /// installed into it (and `/` must never stand in for it).
    #[error("image {image} has no registered root; add it with: opm image add {image} --path DIR")]
    UnknownImage {
        /// The image.
        image: Name,
    },
}
