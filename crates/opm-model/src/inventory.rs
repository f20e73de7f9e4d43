//! What one read of a root's package database says about a set of
//! packages: installed at a version, known but not fully installed, or
//! missing. `opm-native` reads it, `opm_plan::verify` compares it with what
//! opm recorded (SPEC §1.9), and an agent sends its node's over the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One package as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "presence", rename_all = "snake_case")]
pub enum Presence {
    /// Fully installed.
    Installed {
        /// The full version (`[epoch:]version[-revision|-release]`).
        version: String,
    },
    /// Known to the database but not fully installed: dpkg's `unpacked`,
    /// `half-installed`, `half-configured`, `triggers-awaited`, … (an
    /// interrupted run, or a package an admin broke).
    Partial {
        /// The version the database records.
        version: String,
        /// dpkg's state word.
        state: String,
    },
    /// Not installed (never, removed, or only configuration files left).
    Missing,
}

/// The answer for every package asked about, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    packages: BTreeMap<String, Presence>,
}

impl Inventory {
    /// Every name of `asked` is [`Presence::Missing`] unless `found` says
    /// otherwise; `found` entries for names not asked about are dropped, so
    /// the inventory answers exactly the question.
    #[must_use]
    pub fn new(asked: &[String], found: impl IntoIterator<Item = (String, Presence)>) -> Self {
        let mut packages: BTreeMap<String, Presence> = asked
            .iter()
            .map(|name| (name.clone(), Presence::Missing))
            .collect();
        for (name, presence) in found {
            if let Some(slot) = packages.get_mut(&name) {
                // dpkg lists one line per architecture of a multi-arch
                // name; an installed one wins over a leftover.
                if !matches!(slot, Presence::Installed { .. }) {
                    *slot = presence;
                }
            }
        }
        Self { packages }
    }

    /// What the database says about `name`; `None` when it was not asked
    /// about (so the caller cannot take "not asked" for "missing").
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Presence> {
        self.packages.get(name)
    }

    /// Every package asked about, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Presence)> {
        self.packages
            .iter()
            .map(|(name, presence)| (name.as_str(), presence))
    }

    /// How many packages were asked about.
    #[must_use]
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    /// Whether nothing was asked about.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(version: &str) -> Presence {
        Presence::Installed {
            version: version.to_owned(),
        }
    }

    #[test]
    fn every_asked_name_is_answered_and_nothing_else() {
        let asked = ["a".to_owned(), "b".to_owned()];
        let inventory = Inventory::new(
            &asked,
            [
                ("a".to_owned(), installed("1.0")),
                ("z".to_owned(), installed("9")),
            ],
        );
        assert_eq!(inventory.get("a"), Some(&installed("1.0")));
        assert_eq!(inventory.get("b"), Some(&Presence::Missing));
        assert_eq!(inventory.get("z"), None);
        assert_eq!(inventory.len(), 2);
    }

    #[test]
    fn an_installed_architecture_wins_over_a_leftover_one() {
        let asked = ["a".to_owned()];
        let partial = Presence::Partial {
            version: "1.0".to_owned(),
            state: "half-installed".to_owned(),
        };
        for found in [
            vec![
                ("a".to_owned(), installed("1.0")),
                ("a".to_owned(), partial.clone()),
            ],
            vec![
                ("a".to_owned(), partial.clone()),
                ("a".to_owned(), installed("1.0")),
            ],
        ] {
            assert_eq!(
                Inventory::new(&asked, found).get("a"),
                Some(&installed("1.0"))
            );
        }
    }
}
