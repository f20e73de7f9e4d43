//! Effective dependencies: which relations hold for one native part on one
//! (dist, arch), after filters.
//!
//! Where they come from, per part:
//! - api (`opkg-<p>`): `<apiDeps>`;
//! - server (`opkg-<p>-server`): `<serverDeps>`, `<commonDeps>` and the
//!   opkg-level `<provides>`, `<conflicts>`, `<requires>`;
//! - client (`opkg-<p>-client`): `<clientDeps>`, `<commonDeps>` and the
//!   opkg-level relations.
//!
//! opkgc silently dropped the opkg-level relations although the schema
//! (6.1) says they belong to the server and client parts; opm honours them,
//! so an opkg that `<requires>` something gets it on both sides.

use std::fmt;

use opm_model::Part;
use serde::Serialize;

use crate::model::{DistFilter, Filters, Opkg, Relation, RelationBlock, RelationKind};
use crate::version::compare_part;

/// A target distribution: a name as the `<dist>` filters spell it
/// (`debian`, `rhel`, ...) and, optionally, its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Dist {
    /// The distribution name, matched exactly.
    pub name: String,
    /// Its version (`5`, `12`), needed to match `<dist version=...>`.
    pub version: Option<String>,
}

impl Dist {
    /// Reads `NAME` or `NAME-VERSION` (`rhel-5`): a last `-` followed by a
    /// digit starts the version.
    pub fn parse(given: &str) -> Dist {
        match given.rsplit_once('-') {
            Some((name, version))
                if !name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                Dist {
                    name: name.to_owned(),
                    version: Some(version.to_owned()),
                }
            }
            _ => Dist {
                name: given.to_owned(),
                version: None,
            },
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(version) = &self.version {
            write!(f, "-{version}")?;
        }
        Ok(())
    }
}

/// The dists built as .deb, whose `<dist>` versions opkgc ignores.
pub const DEB_DISTS: [&str; 2] = ["debian", "ubuntu"];

/// The one name of an architecture that Debian and RPM spell differently
/// (OSCAR's files say `x86_64` for 64-bit Debian too, as opkgc matched
/// `<arch>` against `uname -m`): `amd64` = `x86_64`, `arm64` = `aarch64`,
/// `i386` = `i586` = `i686`, `ppc64el` = `ppc64le`.
pub fn arch_family(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "i586" | "i686" => "i386",
        "ppc64el" => "ppc64le",
        other => other,
    }
}

impl DistFilter {
    /// Whether this entry names `dist`: the same name, and when the entry
    /// carries a version, `dist`'s version satisfies it (`rel` defaults to
    /// `=`; a dist without a version never satisfies a versioned entry).
    /// Debian-family dists ignore the version, as opkgc does when it
    /// builds a deb (`<dist version="4.0">debian</dist>` names every Debian).
    pub fn matches(&self, dist: &Dist) -> bool {
        if self.name != dist.name {
            return false;
        }
        if DEB_DISTS.contains(&dist.name.as_str()) {
            return true;
        }
        match (&self.constraint, &dist.version) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((rel, wanted)), Some(have)) => rel.holds(compare_part(have, wanted)),
        }
    }
}

impl Filters {
    /// Whether a block with these filters applies on (`dist`, `arch`). An
    /// unknown dist or arch (`None`) satisfies only an empty list.
    pub fn matches(&self, dist: Option<&Dist>, arch: Option<&str>) -> bool {
        let dist_ok =
            self.dists.is_empty() || dist.is_some_and(|d| self.dists.iter().any(|f| f.matches(d)));
        let arch_ok = self.arches.is_empty()
            || arch.is_some_and(|a| self.arches.iter().any(|x| arch_family(x) == arch_family(a)));
        dist_ok && arch_ok
    }

    /// Whether no dist and no arch is listed (the block applies everywhere).
    pub fn is_empty(&self) -> bool {
        self.dists.is_empty() && self.arches.is_empty()
    }
}

/// The relations of one native part, each list without duplicates, in
/// file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deps {
    /// Packages that must be installed.
    pub requires: Vec<Relation>,
    /// Packages that may not be installed alongside.
    pub conflicts: Vec<Relation>,
    /// Capabilities offered.
    pub provides: Vec<Relation>,
    /// Packages worth installing too.
    pub suggests: Vec<Relation>,
}

impl Deps {
    fn add(&mut self, block: &RelationBlock) {
        let list = match block.kind {
            RelationKind::Requires => &mut self.requires,
            RelationKind::Conflicts => &mut self.conflicts,
            RelationKind::Provides => &mut self.provides,
            RelationKind::Suggests => &mut self.suggests,
        };
        for relation in &block.packages {
            if !list.contains(relation) {
                list.push(relation.clone());
            }
        }
    }

    /// Whether there is no relation at all.
    pub fn is_empty(&self) -> bool {
        self.requires.is_empty()
            && self.conflicts.is_empty()
            && self.provides.is_empty()
            && self.suggests.is_empty()
    }
}

impl Opkg {
    /// Whether the package-wide `<filters>` allow (`dist`, `arch`).
    pub fn available_on(&self, dist: Option<&Dist>, arch: Option<&str>) -> bool {
        self.filters.matches(dist, arch)
    }

    /// The blocks that feed `part`, before filtering (see the module docs).
    pub fn blocks(&self, part: Part) -> Vec<&RelationBlock> {
        match part {
            Part::Api => self.api_deps.iter().collect(),
            Part::Server => self
                .server_deps
                .iter()
                .chain(&self.common_deps)
                .chain(&self.relations)
                .collect(),
            Part::Client => self
                .client_deps
                .iter()
                .chain(&self.common_deps)
                .chain(&self.relations)
                .collect(),
        }
    }

    /// The relations of `part` on (`dist`, `arch`): every block feeding the
    /// part whose filters match. `None` for dist or arch means "unknown":
    /// only blocks that do not filter on it count.
    pub fn effective_deps(&self, part: Part, dist: Option<&Dist>, arch: Option<&str>) -> Deps {
        let mut deps = Deps::default();
        for block in self.blocks(part) {
            if block.filters.matches(dist, arch) {
                deps.add(block);
            }
        }
        deps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Rel;

    fn dist_filter(name: &str, constraint: Option<(Rel, &str)>) -> DistFilter {
        DistFilter {
            name: name.to_owned(),
            constraint: constraint.map(|(rel, v)| (rel, v.to_owned())),
        }
    }

    #[test]
    fn dist_names_split_at_a_versioned_last_dash() {
        assert_eq!(
            Dist::parse("rhel-5"),
            Dist {
                name: "rhel".into(),
                version: Some("5".into())
            }
        );
        assert_eq!(
            Dist::parse("debian"),
            Dist {
                name: "debian".into(),
                version: None
            }
        );
        assert_eq!(
            Dist::parse("centos-stream"),
            Dist {
                name: "centos-stream".into(),
                version: None
            }
        );
        assert_eq!(
            Dist::parse("-5"),
            Dist {
                name: "-5".into(),
                version: None
            }
        );
        assert_eq!(Dist::parse("rhel-5").to_string(), "rhel-5");
    }

    #[test]
    fn dist_filters_match_name_and_version() {
        let rhel5 = Dist::parse("rhel-5");
        let rhel = Dist::parse("rhel");
        assert!(dist_filter("rhel", None).matches(&rhel5));
        assert!(dist_filter("rhel", None).matches(&rhel));
        assert!(!dist_filter("Rhel", None).matches(&rhel));
        assert!(dist_filter("rhel", Some((Rel::Equal, "5"))).matches(&rhel5));
        assert!(!dist_filter("rhel", Some((Rel::Equal, "5"))).matches(&rhel));
        assert!(!dist_filter("rhel", Some((Rel::Equal, "4"))).matches(&rhel5));
        assert!(dist_filter("rhel", Some((Rel::Greater, "4"))).matches(&rhel5));
        assert!(dist_filter("rhel", Some((Rel::GreaterOrEqual, "5"))).matches(&rhel5));
        assert!(dist_filter("rhel", Some((Rel::Less, "10"))).matches(&rhel5));
        assert!(dist_filter("rhel", Some((Rel::LessOrEqual, "5"))).matches(&rhel5));
        assert!(!dist_filter("rhel", Some((Rel::Less, "5"))).matches(&rhel5));
    }

    #[test]
    fn filters_combine_dist_and_arch() {
        let debian = Dist::parse("debian");
        let both = Filters {
            dists: vec![dist_filter("debian", None), dist_filter("fc", None)],
            arches: vec!["amd64".into()],
        };
        assert!(both.matches(Some(&debian), Some("amd64")));
        assert!(!both.matches(Some(&debian), Some("i386")));
        assert!(!both.matches(Some(&Dist::parse("rhel")), Some("amd64")));
        assert!(!both.matches(None, Some("amd64")));
        assert!(!both.matches(Some(&debian), None));
        let arch_only = Filters {
            dists: vec![],
            arches: vec!["ppc".into()],
        };
        assert!(arch_only.matches(None, Some("ppc")));
        assert!(arch_only.matches(Some(&debian), Some("ppc")));
        assert!(Filters::default().matches(None, None));
        assert!(Filters::default().is_empty());
        assert!(!arch_only.is_empty());
    }

    #[test]
    fn debian_dists_ignore_the_filter_version_as_opkgc_does() {
        let filter = dist_filter("debian", Some((Rel::Equal, "4.0")));
        assert!(filter.matches(&Dist::parse("debian")));
        assert!(filter.matches(&Dist::parse("debian-12")));
        assert!(dist_filter("ubuntu", Some((Rel::Less, "8"))).matches(&Dist::parse("ubuntu-24")));
        assert!(!filter.matches(&Dist::parse("rhel-4.0")));
    }

    #[test]
    fn arch_filters_take_debian_and_rpm_spellings_as_one() {
        let filters = |arch: &str| Filters {
            dists: vec![],
            arches: vec![arch.into()],
        };
        for (written, asked) in [
            ("x86_64", "amd64"),
            ("amd64", "x86_64"),
            ("aarch64", "arm64"),
            ("arm64", "aarch64"),
            ("i386", "i686"),
            ("i586", "i686"),
            ("i686", "i386"),
            ("ppc64le", "ppc64el"),
            ("ppc64el", "ppc64le"),
        ] {
            assert!(
                filters(written).matches(None, Some(asked)),
                "{written} {asked}"
            );
        }
        assert!(!filters("x86_64").matches(None, Some("i386")));
        assert!(!filters("ppc64").matches(None, Some("ppc64le")));
    }
}
