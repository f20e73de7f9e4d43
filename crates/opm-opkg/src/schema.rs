//! From an element tree to an [`Opkg`], checking `corpus/opkg.xsd` on the way.
//!
//! Every rule of the schema is checked at both levels. What differs is the
//! verdict: with [`Level::Strict`] every schema violation is an error; with
//! [`Level::Default`] a violation opm can live with (a malformed changelog
//! date, an unlisted licence, elements out of order, ...) is a warning, and
//! only the ones that change what opm would do are errors: no or a bad name,
//! no usable version, a relation opm cannot express, old formats.

use opm_model::{Name, NameKind};

use crate::datetime::is_date_time;
use crate::decode::line_column;
use crate::error::{Diagnostic, Severity};
use crate::model::{
    Author, AuthorCategory, ChangelogEntry, Class, DistFilter, Filters, Opkg, Rel, Relation,
    RelationBlock, RelationKind, VersionEntry,
};
use crate::uri::is_any_uri;
use crate::version::{Version, highest};
use crate::xml::Element;

/// How closely config.xml must follow the schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Level {
    /// Schema slips that do not matter to opm are warnings.
    #[default]
    Default,
    /// Everything the schema forbids is an error (`opm opkg check --strict`),
    /// on top of the errors opm always raises where the xsd has no opinion:
    /// the name pattern, an unusable version, a package name with spaces or
    /// control-file syntax, an empty `<dist>`.
    Strict,
}

/// The licences `licenseType` lists.
pub const LICENSES: [&str; 7] = [
    "GPL",
    "LGPL",
    "PBS license (see PBS_License.txt)",
    "Freely distributable",
    "Maui license",
    "BSD",
    "SISSL",
];

/// The architectures `archType` lists.
pub const ARCHES: [&str; 6] = ["i386", "amd64", "x86_64", "ia64", "ppc", "ppc64"];

/// The longest summary the schema allows, in characters.
pub const MAX_SUMMARY: usize = 67;

/// The XML Schema instance namespace.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The attributes of [`XSI`] a validator accepts on any element.
const XSI_ATTRIBUTES: [&str; 4] = ["schemaLocation", "noNamespaceSchemaLocation", "type", "nil"];

/// Elements of older OSCAR config.xml formats, which opm does not read.
const OLD_FORMAT: [(&str, &str); 3] = [
    ("version", "a <version> element"),
    ("rpmlist", "an <rpmlist> element"),
    ("binary-package-list", "a <binary-package-list> element"),
];

/// One item of an `xs:sequence`: name, minOccurs, maxOccurs (None =
/// unbounded), and whether a count outside those bounds matters to opm.
struct Item(&'static str, u32, Option<u32>, bool);

const OSCAR: &[Item] = &[
    Item("name", 1, Some(1), true),
    Item("class", 0, Some(1), false),
    Item("summary", 1, Some(1), false),
    Item("description", 0, Some(1), false),
    Item("license", 1, Some(1), false),
    Item("group", 1, None, false),
    Item("uri", 0, Some(1), false),
    Item("authors", 1, None, false),
    Item("filters", 0, Some(1), false),
    Item("provides", 0, None, false),
    Item("conflicts", 0, None, false),
    Item("requires", 0, None, false),
    Item("serverDeps", 0, Some(1), false),
    Item("clientDeps", 0, Some(1), false),
    Item("commonDeps", 0, Some(1), false),
    Item("apiDeps", 0, Some(1), false),
    Item("changelog", 1, Some(1), true),
];

const AUTHORS: &[Item] = &[Item("author", 1, None, false)];

const AUTHOR: &[Item] = &[
    Item("name", 1, Some(1), false),
    Item("nickname", 0, Some(1), false),
    Item("email", 1, Some(1), false),
    Item("institution", 0, Some(1), false),
    Item("beginYear", 0, Some(1), false),
    Item("endYear", 0, Some(1), false),
];

const DEPS: &[Item] = &[
    Item("provides", 0, None, false),
    Item("conflicts", 0, None, false),
    Item("requires", 0, None, false),
    Item("suggests", 0, None, false),
];

const PKG_LIST: &[Item] = &[
    Item("filters", 0, Some(1), false),
    Item("pkg", 1, None, false),
];

const FILTERS: &[Item] = &[Item("dist", 0, None, false), Item("arch", 0, None, false)];

const CHANGELOG: &[Item] = &[Item("versionEntry", 1, None, true)];

const VERSION_ENTRY: &[Item] = &[Item("changelogEntry", 1, None, false)];

const CHANGELOG_ENTRY: &[Item] = &[Item("item", 1, None, false)];

/// Collects diagnostics while walking one document.
pub(crate) struct Checker<'a> {
    text: &'a str,
    file: &'a str,
    level: Level,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    /// A checker for the document `text`, read from `file`.
    pub fn new(text: &'a str, file: &'a str, level: Level) -> Checker<'a> {
        Checker {
            text,
            file,
            level,
            diagnostics: Vec::new(),
        }
    }

    /// Records a finding at byte `offset`.
    pub fn report(&mut self, offset: usize, severity: Severity, message: impl Into<String>) {
        let (line, column) = line_column(self.text, offset);
        self.diagnostics.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            severity,
            message: message.into(),
        });
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.report(offset, Severity::Error, message);
    }

    fn warn(&mut self, offset: usize, message: impl Into<String>) {
        self.report(offset, Severity::Warning, message);
    }

    /// A schema violation opm can live with.
    fn slip(&mut self, offset: usize, message: impl Into<String>) {
        let severity = match self.level {
            Level::Strict => Severity::Error,
            Level::Default => Severity::Warning,
        };
        self.report(offset, severity, message);
    }

    /// A schema violation opm silently repairs the way opkgc did (surrounding
    /// whitespace); only an error with `--strict`.
    fn strict_only(&mut self, offset: usize, message: impl Into<String>) {
        if self.level == Level::Strict {
            self.error(offset, message);
        }
    }

    /// Every finding so far, in file order.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics
            .sort_by_key(|d| (d.line, d.column, d.severity == Severity::Warning));
        self.diagnostics
    }

    fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// Checks the children of `parent` against an `xs:sequence`.
    fn sequence(&mut self, parent: &Element, model: &[Item]) {
        let mut counts = vec![0_u32; model.len()];
        let mut position = 0;
        for child in parent.elements() {
            let Some(index) = model.iter().position(|item| item.0 == child.name) else {
                let allowed: Vec<_> = model.iter().map(|item| format!("<{}>", item.0)).collect();
                self.slip(
                    child.offset,
                    format!(
                        "unexpected element <{}> in <{}>; it is ignored (expected {})",
                        child.name,
                        parent.name,
                        allowed.join(", ")
                    ),
                );
                continue;
            };
            counts[index] += 1;
            let item = &model[index];
            if item.2.is_some_and(|max| counts[index] > max) {
                let message = format!(
                    "<{}> may appear only once in <{}>; the first one is used",
                    child.name, parent.name
                );
                if item.3 {
                    self.error(child.offset, message);
                } else {
                    self.slip(child.offset, message);
                }
            }
            if index < position {
                self.slip(
                    child.offset,
                    format!(
                        "<{}> is out of order: the schema wants it before <{}>",
                        child.name, model[position].0
                    ),
                );
            } else {
                position = index;
            }
        }
        for (item, count) in model.iter().zip(counts) {
            if count < item.1 {
                // The ones opm cannot do without say how to fix them.
                let hint = match item.0 {
                    "name" => "; add <name>NAME</name> first in <oscar>",
                    "changelog" => {
                        "; opm takes the version from it: add <changelog><versionEntry version=\"1.0-1\">..."
                    }
                    "versionEntry" => {
                        "; add <versionEntry version=\"1.0-1\">, the version opm uses"
                    }
                    _ => "",
                };
                let message = format!("<{}> has no <{}>{hint}", parent.name, item.0);
                if item.3 {
                    self.error(parent.offset, message);
                } else {
                    self.slip(parent.offset, message);
                }
            }
        }
        for (offset, text) in parent.texts() {
            if let Some(start) = text.find(|c: char| !c.is_whitespace()) {
                self.slip(
                    offset + start,
                    format!("text is not allowed directly inside <{}>", parent.name),
                );
            }
        }
    }

    /// Checks that `element` carries only the attributes in `allowed`
    /// (namespace declarations and the validator's own `xsi:` attributes
    /// are always fine).
    fn attributes(&mut self, element: &Element, allowed: &[&str]) {
        for attribute in &element.attributes {
            let name = attribute.name.as_str();
            if name.starts_with("xmlns:") {
                continue;
            }
            if name == "xmlns" {
                // xmlns="" only says "no namespace", which is what opkg.xsd wants.
                if !attribute.value.is_empty() {
                    self.slip(
                        attribute.offset,
                        format!(
                            "<{}> declares a default namespace; opkg.xsd has none, so remove xmlns",
                            element.name
                        ),
                    );
                }
                continue;
            }
            if let Some(namespace) = &attribute.namespace {
                let local = name.split_once(':').map_or(name, |(_, local)| local);
                if namespace == XSI && XSI_ATTRIBUTES.contains(&local) {
                    continue;
                }
            } else if allowed.contains(&name) {
                continue;
            }
            self.slip(
                attribute.offset,
                format!(
                    "unknown attribute '{name}' on <{}>; it is ignored",
                    element.name
                ),
            );
        }
    }

    /// The trimmed text of a simple-type element with no attributes.
    fn plain(&mut self, element: &Element) -> String {
        self.attributes(element, &[]);
        self.simple(element)
    }

    /// The trimmed text of a simple-content element, checking it holds no
    /// elements (its attributes are the caller's business).
    fn simple(&mut self, element: &Element) -> String {
        for child in element.elements() {
            self.slip(
                child.offset,
                format!(
                    "<{}> may hold only text; <{}> inside it is ignored",
                    element.name, child.name
                ),
            );
        }
        element.text().trim().to_owned()
    }

    /// The text of an enumerated simple element, `None` when it is not one
    /// of `allowed` (a slip).
    fn enumeration(&mut self, element: &Element, allowed: &[&str]) -> Option<String> {
        let value = self.plain(element);
        let raw = element.text();
        if allowed.contains(&value.as_str()) {
            if raw != value {
                self.strict_only(
                    element.offset,
                    format!(
                        "<{}> '{value}' has surrounding whitespace, which the schema does not allow",
                        element.name
                    ),
                );
            }
            Some(value)
        } else {
            let listed: Vec<_> = allowed.iter().map(|a| format!("'{a}'")).collect();
            self.slip(
                element.offset,
                format!(
                    "<{}> '{value}' is not one the schema lists ({})",
                    element.name,
                    listed.join(", ")
                ),
            );
            None
        }
    }

    fn positive_integer(&mut self, element: &Element) -> Option<u32> {
        let value = self.plain(element);
        match parse_positive(&value) {
            Some(n) => u32::try_from(n).ok(),
            None => {
                self.slip(
                    element.offset,
                    format!("<{}> '{value}' is not a positive integer", element.name),
                );
                None
            }
        }
    }

    fn any_uri(&mut self, offset: usize, what: &str, value: &str) {
        if !is_any_uri(value) {
            self.slip(offset, format!("{what} '{value}' is not a valid URI"));
        }
    }
}

/// `xs:positiveInteger` after whitespace collapsing.
fn parse_positive(value: &str) -> Option<u64> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return None;
    }
    trimmed.parse().ok()
}

/// A native package name opm can put into a control file or spec: no
/// whitespace and none of the characters the formats use as syntax.
fn package_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an empty package name".to_owned());
    }
    name.chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '|' | '<' | '>' | '=' | '!'))
        .map(|c| format!("package name '{name}' contains {:?}", c))
}

/// Builds the opkg from `root`, or returns `None` after recording why not.
pub(crate) fn build(root: &Element, check: &mut Checker<'_>) -> Option<Opkg> {
    if root.name == "package" {
        check.error(
            root.offset,
            "this is an old OSCAR config.xml (root element <package>); opm reads only the opkg format of OSCAR 5.1 and later (root <oscar>, version in <changelog>): convert it with opkg-convert or rewrite it",
        );
        return None;
    }
    if root.name != "oscar" {
        check.error(
            root.offset,
            format!(
                "the root element is <{}>; an opkg config.xml has <oscar>",
                root.name
            ),
        );
        return None;
    }
    for child in root.elements() {
        if let Some((_, what)) = OLD_FORMAT.iter().find(|(name, _)| *name == child.name) {
            check.error(
                child.offset,
                format!(
                    "this is an old OSCAR config.xml ({what}); opm reads only the opkg format of OSCAR 5.1 and later, where the version comes from <changelog> and packages from <serverDeps>/<clientDeps>: convert it with opkg-convert or rewrite it"
                ),
            );
            return None;
        }
    }
    check.attributes(root, &[]);
    check.sequence(root, OSCAR);
    let first = |name: &str| root.elements().find(|e| e.name == name);
    let all = |name: &'static str| root.elements().filter(move |e| e.name == name);

    let name = first("name").and_then(|element| {
        let raw = check.plain(element);
        match Name::new(NameKind::Opkg, &raw) {
            Ok(name) => Some(name),
            Err(error) => {
                check.error(element.offset, format!("invalid <name>: {error}"));
                None
            }
        }
    });
    let class = first("class").and_then(|element| {
        let names: Vec<_> = Class::ALL.iter().map(|c| c.name()).collect();
        check
            .enumeration(element, &names)
            .and_then(|value| Class::from_name(&value))
    });
    let summary = first("summary").map_or_else(String::new, |element| {
        // opkgc joins a summary written over several lines with single
        // spaces; a package summary must be one line.
        let summary = check
            .plain(element)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let length = element.text().chars().count();
        if length > MAX_SUMMARY {
            check.slip(
                element.offset,
                format!("<summary> is {length} characters long; the schema allows {MAX_SUMMARY}"),
            );
        }
        summary
    });
    // An empty <description> counts as none, so the summary stands in.
    let description = first("description")
        .map(|element| check.plain(element))
        .filter(|description| !description.is_empty());
    let license = first("license").map(|element| {
        check.enumeration(element, &LICENSES);
        element.text().trim().to_owned()
    });
    let groups = all("group").map(|element| check.plain(element)).collect();
    let uri = first("uri").map(|element| {
        let value = check.plain(element);
        check.any_uri(element.offset, "<uri>", &value);
        value
    });
    let mut authors = Vec::new();
    for list in all("authors") {
        check.attributes(list, &[]);
        check.sequence(list, AUTHORS);
        for author in list.elements().filter(|e| e.name == "author") {
            authors.push(build_author(author, check));
        }
    }
    let filters = first("filters")
        .map(|f| build_filters(f, check))
        .unwrap_or_default();
    let relations = root
        .elements()
        .filter_map(|element| relation_kind(&element.name).map(|kind| (kind, element)))
        .filter(|(kind, _)| *kind != RelationKind::Suggests)
        .map(|(kind, element)| build_block(kind, element, check))
        .collect();
    let mut deps = |name| {
        first(name)
            .map(|element| build_deps(element, check))
            .unwrap_or_default()
    };
    let server_deps = deps("serverDeps");
    let client_deps = deps("clientDeps");
    let common_deps = deps("commonDeps");
    let api_deps = deps("apiDeps");
    let changelog = first("changelog").map(|element| build_changelog(element, check));

    let changelog_offset = first("changelog").map_or(root.offset, |e| e.offset);
    let version = changelog.as_ref().and_then(|entries| {
        let versions: Vec<Version> = entries.iter().map(|e| e.version.clone()).collect();
        let chosen = highest(&versions)?.clone();
        let first_entry = &versions.first()?;
        if chosen != **first_entry {
            check.warn(
                changelog_offset,
                format!(
                    "the changelog's highest version {chosen} is not its first entry ({first_entry}); opm uses {chosen}"
                ),
            );
        }
        if let Some(above) = versions
            .iter()
            .find(|v| v.epoch.unwrap_or(0) > chosen.epoch.unwrap_or(0))
        {
            check.warn(
                changelog_offset,
                format!(
                    "the older changelog entry {above} has a higher epoch than the version opm uses ({chosen}); a package built from {above} would count as newer: give newer entries the epoch too"
                ),
            );
        }
        Some(chosen)
    });
    if check.has_errors() {
        return None;
    }
    Some(Opkg {
        name: name?,
        version: version?,
        class,
        summary,
        description,
        license,
        groups,
        uri,
        authors,
        filters,
        relations,
        server_deps,
        client_deps,
        common_deps,
        api_deps,
        changelog: changelog?,
    })
}

fn relation_kind(name: &str) -> Option<RelationKind> {
    match name {
        "provides" => Some(RelationKind::Provides),
        "conflicts" => Some(RelationKind::Conflicts),
        "requires" => Some(RelationKind::Requires),
        "suggests" => Some(RelationKind::Suggests),
        _ => None,
    }
}

fn build_author(element: &Element, check: &mut Checker<'_>) -> Author {
    check.attributes(element, &["cat"]);
    check.sequence(element, AUTHOR);
    let category = match element.attribute("cat") {
        Some(cat) => {
            let category = AuthorCategory::from_name(&cat.value);
            if category.is_none() {
                check.slip(
                    cat.offset,
                    format!(
                        "author cat '{}' is not one of 'upstream', 'maintainer', 'uploader'",
                        cat.value
                    ),
                );
            }
            category
        }
        None => {
            check.slip(
                element.offset,
                "<author> has no cat attribute (upstream, maintainer or uploader)",
            );
            None
        }
    };
    let mut text = |name: &str| {
        element
            .elements()
            .find(|e| e.name == name)
            .map(|e| check.plain(e))
    };
    let name = text("name").unwrap_or_default();
    let nickname = text("nickname");
    let email = text("email").unwrap_or_default();
    let institution = text("institution");
    if let Some(email_element) = element.elements().find(|e| e.name == "email") {
        check.any_uri(email_element.offset, "<email>", &email);
    }
    let mut year = |name: &str| {
        element
            .elements()
            .find(|e| e.name == name)
            .and_then(|e| check.positive_integer(e))
    };
    Author {
        name,
        nickname,
        email,
        institution,
        begin_year: year("beginYear"),
        end_year: year("endYear"),
        category,
    }
}

fn build_deps(element: &Element, check: &mut Checker<'_>) -> Vec<RelationBlock> {
    check.attributes(element, &[]);
    check.sequence(element, DEPS);
    element
        .elements()
        .filter_map(|child| relation_kind(&child.name).map(|kind| (kind, child)))
        .map(|(kind, child)| build_block(kind, child, check))
        .collect()
}

fn build_block(kind: RelationKind, element: &Element, check: &mut Checker<'_>) -> RelationBlock {
    check.attributes(element, &[]);
    check.sequence(element, PKG_LIST);
    let filters = element
        .elements()
        .find(|e| e.name == "filters")
        .map(|f| build_filters(f, check))
        .unwrap_or_default();
    let packages = element
        .elements()
        .filter(|e| e.name == "pkg")
        .filter_map(|pkg| {
            let name = check.simple(pkg);
            if let Some(problem) = package_name_problem(&name) {
                check.error(pkg.offset, format!("<pkg>: {problem}"));
                return None;
            }
            Some(Relation {
                constraint: constraint(pkg, check),
                name,
            })
        })
        .collect();
    RelationBlock {
        kind,
        filters,
        packages,
    }
}

/// The `rel`/`version` pair of a `<pkg>` or `<dist>`.
fn constraint(element: &Element, check: &mut Checker<'_>) -> Option<(Rel, String)> {
    check.attributes(element, &["rel", "version"]);
    let rel = match element.attribute("rel") {
        Some(rel) => match Rel::from_symbol(&rel.value) {
            Some(parsed) => Some(parsed),
            None => {
                check.error(
                    rel.offset,
                    format!(
                        "rel '{}' on <{}> is not one of '>', '>=', '<', '<=', '='",
                        rel.value, element.name
                    ),
                );
                return None;
            }
        },
        None => None,
    };
    let version = match element.attribute("version") {
        Some(version) if version.value.is_empty() => {
            check.slip(
                version.offset,
                format!("empty version on <{}>; it is ignored", element.name),
            );
            None
        }
        Some(version) => Some(version.value.trim().to_owned()),
        None => None,
    };
    match (rel, version) {
        (Some(rel), Some(version)) => Some((rel, version)),
        (None, Some(version)) => Some((Rel::Equal, version)),
        (Some(rel), None) => {
            check.warn(
                element.offset,
                format!(
                    "rel '{rel}' on <{}> without a version is ignored; add version=\"...\"",
                    element.name
                ),
            );
            None
        }
        (None, None) => None,
    }
}

fn build_filters(element: &Element, check: &mut Checker<'_>) -> Filters {
    check.attributes(element, &[]);
    check.sequence(element, FILTERS);
    let mut filters = Filters::default();
    for child in element.elements() {
        match child.name.as_str() {
            "dist" => {
                let name = check.simple(child);
                if name.is_empty() {
                    check.error(child.offset, "<dist> is empty; name a distribution");
                    continue;
                }
                filters.dists.push(DistFilter {
                    constraint: constraint(child, check),
                    name,
                });
            }
            "arch" => {
                check.enumeration(child, &ARCHES);
                let arch = child.text().trim().to_owned();
                if arch.is_empty() {
                    check.error(child.offset, "<arch> is empty; name an architecture");
                    continue;
                }
                filters.arches.push(arch);
            }
            _ => {}
        }
    }
    filters
}

fn build_changelog(element: &Element, check: &mut Checker<'_>) -> Vec<VersionEntry> {
    check.attributes(element, &[]);
    check.sequence(element, CHANGELOG);
    element
        .elements()
        .filter(|e| e.name == "versionEntry")
        .filter_map(|entry| {
            check.attributes(entry, &["version"]);
            check.sequence(entry, VERSION_ENTRY);
            let entries = entry
                .elements()
                .filter(|e| e.name == "changelogEntry")
                .map(|e| build_changelog_entry(e, check))
                .collect();
            let Some(version) = entry.attribute("version") else {
                check.error(
                    entry.offset,
                    "<versionEntry> has no version attribute; write version=\"UPSTREAM-RELEASE\"",
                );
                return None;
            };
            match Version::parse(version.value.trim()) {
                Ok(parsed) => Some(VersionEntry {
                    version: parsed,
                    entries,
                }),
                Err(error) => {
                    check.error(version.offset, error.to_string());
                    None
                }
            }
        })
        .collect()
}

fn build_changelog_entry(element: &Element, check: &mut Checker<'_>) -> ChangelogEntry {
    check.attributes(element, &["authorName", "date", "closes"]);
    check.sequence(element, CHANGELOG_ENTRY);
    let author_name = match element.attribute("authorName") {
        Some(author) => author.value.clone(),
        None => {
            check.slip(
                element.offset,
                "<changelogEntry> has no authorName attribute",
            );
            String::new()
        }
    };
    let date = match element.attribute("date") {
        Some(date) => {
            let value = date.value.trim();
            if !is_date_time(value) {
                check.slip(
                    date.offset,
                    format!(
                        "changelog date '{value}' is not an xs:dateTime (YYYY-MM-DDThh:mm:ss with an optional zone)"
                    ),
                );
            }
            value.to_owned()
        }
        None => {
            check.slip(element.offset, "<changelogEntry> has no date attribute");
            String::new()
        }
    };
    let mut closes = Vec::new();
    if let Some(attribute) = element.attribute("closes") {
        for number in attribute.value.split_whitespace() {
            match parse_positive(number) {
                Some(n) => closes.push(n),
                None => check.slip(
                    attribute.offset,
                    format!("closes holds '{number}', which is not a positive bug number"),
                ),
            }
        }
    }
    let items = element
        .elements()
        .filter(|e| e.name == "item")
        .map(|item| check.plain(item))
        .collect();
    ChangelogEntry {
        author_name,
        date,
        closes,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_integers_follow_the_schema() {
        assert_eq!(parse_positive("2007"), Some(2007));
        assert_eq!(parse_positive("+07"), Some(7));
        assert_eq!(parse_positive("0"), None);
        assert_eq!(parse_positive("-1"), None);
        assert_eq!(parse_positive(""), None);
        assert_eq!(parse_positive("1e3"), None);
    }

    #[test]
    fn package_names_must_fit_in_control_files() {
        assert_eq!(package_name_problem("slurm-pam_slurm"), None);
        assert_eq!(package_name_problem("gtk2+"), None);
        assert!(package_name_problem("").is_some());
        assert!(package_name_problem("a b").is_some());
        assert!(package_name_problem("a,b").is_some());
        assert!(package_name_problem("a(1)").is_some());
    }
}
