//! The role a machine plays (SPEC §1.6).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a machine running opm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Role {
    /// The head node: runs every stage and orchestrates.
    Server,
    /// A compute node: pulls its work from the server.
    Client,
    /// A node image: installs into the image root.
    Image,
}

/// A role name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{given}'; expected server, client or image")]
pub struct UnknownRole {
    /// What was given.
    pub given: String,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Server, Role::Client, Role::Image];

    /// The name as written in opm.conf.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Image => "image",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == given)
            .ok_or_else(|| UnknownRole {
                given: given.to_owned(),
            })
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownRole;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Role> for &'static str {
    fn from(role: Role) -> Self {
        role.name()
    }
}
