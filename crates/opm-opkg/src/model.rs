//! The parsed form of a config.xml (SPEC §2, `corpus/opkg.xsd`).

use std::fmt;

use opm_model::Name;
use serde::Serialize;

use crate::version::Version;

/// One OSCAR package, as its config.xml describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opkg {
    /// `<name>`: the opkg's name (not the directory's).
    pub name: Name,
    /// The highest `versionEntry@version` of the changelog.
    pub version: Version,
    /// `<class>`, when given and one of the four the schema lists.
    pub class: Option<Class>,
    /// `<summary>` (empty when missing, which is a warning).
    pub summary: String,
    /// `<description>`, trimmed.
    pub description: Option<String>,
    /// `<license>` as written, listed by the schema or not.
    pub license: Option<String>,
    /// Every `<group>`; the first one is the package's group.
    pub groups: Vec<String>,
    /// `<uri>`: upstream's web site.
    pub uri: Option<String>,
    /// Every `<author>` of every `<authors>`.
    pub authors: Vec<Author>,
    /// Package-wide `<filters>`: where the opkg may be built and installed.
    pub filters: Filters,
    /// Opkg-level `<provides>`, `<conflicts>` and `<requires>`.
    pub relations: Vec<RelationBlock>,
    /// `<serverDeps>`: dependencies of `opkg-<p>-server`.
    pub server_deps: Vec<RelationBlock>,
    /// `<clientDeps>`: dependencies of `opkg-<p>-client`.
    pub client_deps: Vec<RelationBlock>,
    /// `<commonDeps>`: dependencies of both the server and the client part.
    pub common_deps: Vec<RelationBlock>,
    /// `<apiDeps>`: dependencies of `opkg-<p>`.
    pub api_deps: Vec<RelationBlock>,
    /// `<changelog>`, in file order.
    pub changelog: Vec<VersionEntry>,
}

impl Opkg {
    /// The first `<group>`, the one that counts.
    pub fn group(&self) -> Option<&str> {
        self.groups.first().map(String::as_str)
    }
}

/// `<class>`: how closely OSCAR ties the package to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Packaged upstream and by OSCAR, a core dependency.
    Core,
    /// Packaged by OSCAR, a core dependency.
    Base,
    /// Packaged by OSCAR.
    Included,
    /// Neither.
    ThirdParty,
}

impl Class {
    /// Every class, in schema order.
    pub const ALL: [Class; 4] = [Class::Core, Class::Base, Class::Included, Class::ThirdParty];

    /// The name as the schema spells it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Core => "core",
            Class::Base => "base",
            Class::Included => "included",
            Class::ThirdParty => "third-party",
        }
    }

    /// The class spelled `name`.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `<author>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    /// `<name>` (empty when missing, which is a warning).
    pub name: String,
    /// `<nickname>`.
    pub nickname: Option<String>,
    /// `<email>` (empty when missing, which is a warning).
    pub email: String,
    /// `<institution>`.
    pub institution: Option<String>,
    /// `<beginYear>`, when a positive number.
    pub begin_year: Option<u32>,
    /// `<endYear>`, when a positive number.
    pub end_year: Option<u32>,
    /// The `cat` attribute, when one of the three the schema lists.
    pub category: Option<AuthorCategory>,
}

/// `author@cat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorCategory {
    /// Wrote the software.
    Upstream,
    /// Maintains the opkg.
    Maintainer,
    /// Uploaded the opkg.
    Uploader,
}

impl AuthorCategory {
    /// The category spelled `name`.
    pub fn from_name(name: &str) -> Option<AuthorCategory> {
        match name {
            "upstream" => Some(AuthorCategory::Upstream),
            "maintainer" => Some(AuthorCategory::Maintainer),
            "uploader" => Some(AuthorCategory::Uploader),
            _ => None,
        }
    }
}

/// A version relation, `rel` in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Rel {
    /// `>`
    #[serde(rename = ">")]
    Greater,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterOrEqual,
    /// `<`
    #[serde(rename = "<")]
    Less,
    /// `<=`
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `=`
    #[serde(rename = "=")]
    Equal,
}

impl Rel {
    /// The relation spelled `symbol`.
    pub fn from_symbol(symbol: &str) -> Option<Rel> {
        match symbol {
            ">" => Some(Rel::Greater),
            ">=" => Some(Rel::GreaterOrEqual),
            "<" => Some(Rel::Less),
            "<=" => Some(Rel::LessOrEqual),
            "=" => Some(Rel::Equal),
            _ => None,
        }
    }

    /// The symbol as the schema spells it.
    pub fn symbol(self) -> &'static str {
        match self {
            Rel::Greater => ">",
            Rel::GreaterOrEqual => ">=",
            Rel::Less => "<",
            Rel::LessOrEqual => "<=",
            Rel::Equal => "=",
        }
    }

    /// Whether `ordering` (left compared to right) satisfies the relation.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Rel::Greater => ordering == Greater,
            Rel::GreaterOrEqual => ordering != Less,
            Rel::Less => ordering == Less,
            Rel::LessOrEqual => ordering != Greater,
            Rel::Equal => ordering == Equal,
        }
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A `<pkg>`: a native package or capability, maybe with a version bound.
/// In JSON: `{"name": ..., "rel": ..., "version": ...}`, the last two only
/// when bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The package or capability name.
    pub name: String,
    /// `rel` and `version`, when a version is given (`rel` defaults to `=`).
    pub constraint: Option<(Rel, String)>,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some((rel, version)) = &self.constraint {
            write!(f, " ({rel} {version})")?;
        }
        Ok(())
    }
}

/// Which relation a block states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelationKind {
    /// `<provides>`: capabilities the package offers.
    Provides,
    /// `<conflicts>`: packages that may not be installed alongside.
    Conflicts,
    /// `<requires>`: packages that must be installed first.
    Requires,
    /// `<suggests>`: packages worth installing too.
    Suggests,
}

impl RelationKind {
    /// The element name.
    pub fn name(self) -> &'static str {
        match self {
            RelationKind::Provides => "provides",
            RelationKind::Conflicts => "conflicts",
            RelationKind::Requires => "requires",
            RelationKind::Suggests => "suggests",
        }
    }
}

/// A `<provides>`, `<conflicts>`, `<requires>` or `<suggests>` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationBlock {
    /// Which relation.
    pub kind: RelationKind,
    /// Where the block applies.
    pub filters: Filters,
    /// The packages it names.
    pub packages: Vec<Relation>,
}

/// `<filters>`: a block applies on (dist D, arch A) iff (no dist listed or
/// D listed) and (no arch listed or A listed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters {
    /// `<dist>` entries.
    pub dists: Vec<DistFilter>,
    /// `<arch>` entries, as written.
    pub arches: Vec<String>,
}

/// A `<dist>` entry, maybe with a version bound; in JSON like [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilter {
    /// The distribution name (`debian`, `rhel`, ...), matched exactly.
    pub name: String,
    /// `rel` and `version`, when a version is given (`rel` defaults to `=`).
    pub constraint: Option<(Rel, String)>,
}

/// A `<versionEntry>` of the changelog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionEntry {
    /// Its `version`.
    pub version: Version,
    /// Its `<changelogEntry>` children.
    pub entries: Vec<ChangelogEntry>,
}

/// A `<changelogEntry>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangelogEntry {
    /// `authorName`.
    pub author_name: String,
    /// `date`, as written (it is checked, not interpreted).
    pub date: String,
    /// `closes`: bug numbers.
    pub closes: Vec<u64>,
    /// `<item>` texts, trimmed.
    pub items: Vec<String>,
}

/// `{"name", "rel"?, "version"?}`: flatter than the tuple for JSON readers.
fn serialize_bounded<S: serde::Serializer>(
    serializer: S,
    name: &str,
    constraint: Option<&(Rel, String)>,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let fields = if constraint.is_some() { 3 } else { 1 };
    let mut state = serializer.serialize_struct("Relation", fields)?;
    state.serialize_field("name", name)?;
    if let Some((rel, version)) = constraint {
        state.serialize_field("rel", rel)?;
        state.serialize_field("version", version)?;
    }
    state.end()
}

impl Serialize for Relation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_bounded(serializer, &self.name, self.constraint.as_ref())
    }
}

impl Serialize for DistFilter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_bounded(serializer, &self.name, self.constraint.as_ref())
    }
}
