//! Targets: the node or image a row is about.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::name::Name;

/// Whether a target is a node or an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum TargetKind {
    /// A head node or compute node.
    Node,
    /// A node image (a root filesystem on the head node).
    Image,
}

/// A target kind name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown target kind '{given}'; expected node or image")]
pub struct UnknownTargetKind {
    /// What was given.
    pub given: String,
}

impl TargetKind {
    /// The name used in output (`opm status`'s `kind`).
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Node => "node",
            TargetKind::Image => "image",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetKind {
    type Err = UnknownTargetKind;
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        match given {
            "node" => Ok(TargetKind::Node),
            "image" => Ok(TargetKind::Image),
            _ => Err(UnknownTargetKind {
                given: given.to_owned(),
            }),
        }
    }
}

impl TryFrom<String> for TargetKind {
    type Error = UnknownTargetKind;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TargetKind> for &'static str {
    fn from(kind: TargetKind) -> Self {
        kind.name()
    }
}

/// A node or an image, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// Node or image.
    pub kind: TargetKind,
    /// Its name.
    pub name: Name,
}

impl Target {
    /// A node target.
    pub fn node(name: Name) -> Target {
        Target {
            kind: TargetKind::Node,
            name,
        }
    }

    /// An image target.
    pub fn image(name: Name) -> Target {
        Target {
            kind: TargetKind::Image,
            name,
        }
    }
}

impl fmt::Display for Target {
    /// `node n3` / `image oscarimage`, as messages name rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}
