//! Validated names of opkgs, nodes, images and groups.
//!
//! A name ends up in file paths, command lines and SQL parameters, so every
//! name is checked once at the edge and carried as a [`Name`] afterwards.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// What a name names; each kind has its own character rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// An opkg: `[a-z0-9][a-z0-9+.-]+` (SPEC §2).
    Opkg,
    /// A node (head node or compute node).
    Node,
    /// A node image.
    Image,
    /// A group of nodes.
    Group,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::Opkg => "opkg",
            NameKind::Node => "node",
            NameKind::Image => "image",
            NameKind::Group => "group",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            NameKind::Opkg => "lower-case letters, digits, '+', '.' and '-'",
            _ => "letters, digits, '.', '_' and '-'",
        }
    }

    fn accepts(self, c: char) -> bool {
        match self {
            NameKind::Opkg => {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-')
            }
            _ => c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        }
    }

    fn accepts_first(self, c: char) -> bool {
        match self {
            NameKind::Opkg => c.is_ascii_lowercase() || c.is_ascii_digit(),
            _ => c.is_ascii_alphanumeric(),
        }
    }

    fn min_len(self) -> usize {
        // The opkg pattern needs at least two characters.
        if self == NameKind::Opkg { 2 } else { 1 }
    }
}

/// Why a name was refused; the message names the broken rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing was given.
    #[error("{} name is empty", .kind.noun())]
    Empty {
        /// What the name was for.
        kind: NameKind,
    },
    /// Fewer characters than the kind allows.
    #[error("{} name '{name}' is too short: at least {} characters", .kind.noun(), .kind.min_len())]
    TooShort {
        /// What the name was for.
        kind: NameKind,
        /// The name.
        name: String,
    },
    /// Longer than [`MAX_NAME_LEN`].
    #[error("{} name is {len} bytes long; at most {MAX_NAME_LEN} are allowed", .kind.noun())]
    TooLong {
        /// What the name was for.
        kind: NameKind,
        /// Its length in bytes.
        len: usize,
    },
    /// The first character may not start a name.
    #[error("{} name '{name}' must start with a {}", .kind.noun(), if *.kind == NameKind::Opkg { "lower-case letter or digit" } else { "letter or digit" })]
    BadStart {
        /// What the name was for.
        kind: NameKind,
        /// The name, with control characters escaped.
        name: String,
    },
    /// A character outside the allowed set.
    #[error("{} name '{name}' contains {found} at position {position}; only {} are allowed", .kind.noun(), .kind.allowed())]
    BadChar {
        /// What the name was for.
        kind: NameKind,
        /// The name, with control characters escaped.
        name: String,
        /// The offending character, described.
        found: String,
        /// Its 1-based character position.
        position: usize,
    },
}

/// A name that passed the rules of its [`NameKind`]. Shared, not copied,
/// when cloned: a cluster view holds each node's and opkg's name in every
/// one of its rows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(Arc<str>);

impl Name {
    /// Checks `raw` against the rules of `kind`.
    pub fn new(kind: NameKind, raw: &str) -> Result<Name, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty { kind });
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong {
                kind,
                len: raw.len(),
            });
        }
        let shown = || raw.escape_default().to_string();
        for (index, c) in raw.chars().enumerate() {
            let ok = if index == 0 {
                kind.accepts_first(c)
            } else {
                kind.accepts(c)
            };
            if ok {
                continue;
            }
            if index == 0 && kind.accepts(c) {
                return Err(NameError::BadStart {
                    kind,
                    name: shown(),
                });
            }
            return Err(NameError::BadChar {
                kind,
                name: shown(),
                found: describe(c),
                position: index + 1,
            });
        }
        if raw.chars().count() < kind.min_len() {
            return Err(NameError::TooShort {
                kind,
                name: shown(),
            });
        }
        Ok(Name(Arc::from(raw)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '/' => "a slash".to_owned(),
        c if c.is_control() => format!("the control character {}", c.escape_default()),
        c if !c.is_ascii() => format!("the non-ASCII character '{c}'"),
        c => format!("'{c}'"),
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    /// Wire data carries no kind; the node rules are the common safe subset
    /// plus '+', which opkg names may hold.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.contains('+') {
            Name::new(NameKind::Opkg, &value)
        } else {
            Name::new(NameKind::Node, &value)
        }
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for (kind, raw) in [
            (NameKind::Opkg, "slurm"),
            (NameKind::Opkg, "mta-config"),
            (NameKind::Opkg, "c3"),
            (NameKind::Opkg, "gtk2+"),
            (NameKind::Opkg, "ganglia.3"),
            (NameKind::Node, "oscarnode1"),
            (NameKind::Node, "n"),
            (NameKind::Node, "Node_7.cluster-a"),
            (NameKind::Image, "oscarimage"),
            (NameKind::Group, "oscar_clients"),
        ] {
            assert_eq!(
                Name::new(kind, raw).map(|n| n.to_string()),
                Ok(raw.to_owned())
            );
        }
    }

    fn refusal(kind: NameKind, raw: &str) -> String {
        match Name::new(kind, raw) {
            Ok(name) => panic!("{raw:?} accepted as {name}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn path_shell_and_sql_escapes_are_refused_with_the_rule() {
        assert_eq!(
            refusal(NameKind::Node, "../x"),
            "node name '../x' must start with a letter or digit"
        );
        assert_eq!(
            refusal(NameKind::Node, "a b"),
            "node name 'a b' contains a space at position 2; only letters, digits, '.', '_' and '-' are allowed"
        );
        assert!(refusal(NameKind::Image, "x;y").contains("';' at position 2"));
        assert!(refusal(NameKind::Group, "a/b").contains("a slash"));
        assert!(refusal(NameKind::Opkg, "x'--").contains("''' at position 2"));
        assert_eq!(refusal(NameKind::Opkg, ""), "opkg name is empty");
        assert!(refusal(NameKind::Node, &"n".repeat(101)).contains("101 bytes long; at most 100"));
        assert!(refusal(NameKind::Node, "a\u{7}b").contains("control character \\u{7}"));
        assert!(refusal(NameKind::Node, "a\nb").contains("control character \\n"));
        assert!(refusal(NameKind::Node, "nœud").contains("non-ASCII character 'œ'"));
    }

    #[test]
    fn opkg_names_follow_the_spec_pattern() {
        assert!(
            refusal(NameKind::Opkg, "Slurm").contains("'S' at position 1; only lower-case letters")
        );
        assert!(refusal(NameKind::Opkg, "my_pkg").contains("'_' at position 3"));
        assert!(refusal(NameKind::Opkg, "-x").contains("must start"));
        assert!(refusal(NameKind::Opkg, "a").contains("too short"));
        assert_eq!(
            Name::new(NameKind::Node, &"n".repeat(100)).map(|n| n.as_str().len()),
            Ok(100)
        );
    }

    #[test]
    fn wire_names_are_validated() {
        assert!(serde_json::from_str::<Name>("\"../etc\"").is_err());
        assert!(serde_json::from_str::<Name>("\"gtk2+\"").is_ok());
        assert!(serde_json::from_str::<Name>("\"node1\"").is_ok());
    }
}
