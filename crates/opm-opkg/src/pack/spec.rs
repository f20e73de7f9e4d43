//! The format-neutral description of one native package: what both writers
//! take, and the checks that keep either tool from choking on what we write.

use std::collections::BTreeSet;

use super::error::PackError;
use crate::{Rel, Relation, Version};

/// One native package to write, in neither format's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// The package name (`opkg-<p>`, `opkg-<p>-server`, ...).
    pub name: String,
    /// `[epoch:]upstream[-release]`; rpm gets release `0` when none is written.
    pub version: Version,
    /// The architecture as OSCAR spells it (`x86_64`, `i386`, ...); `None`
    /// for an architecture-independent package (deb `all`, rpm `noarch`).
    pub arch: Option<String>,
    /// One line, no newline.
    pub summary: String,
    /// Free text; may be several paragraphs.
    pub description: String,
    /// `Name <mail>`: the deb Maintainer, the rpm Packager.
    pub maintainer: String,
    /// The rpm License tag (deb has no such field).
    pub license: String,
    /// The rpm Group tag (deb has no such field).
    pub group: String,
    /// Upstream's web site: deb Homepage, rpm URL.
    pub homepage: Option<String>,
    /// Packages that must be installed (deb Depends, rpm Requires).
    pub depends: Vec<Relation>,
    /// Requirements only the rpm carries: opkgc's rpm spec makes
    /// `opkg-<p>-server` require `opkg-<p> = V-R`, its debs do not.
    pub rpm_requires: Vec<Relation>,
    /// Packages that may not be installed alongside.
    pub conflicts: Vec<Relation>,
    /// Capabilities offered.
    pub provides: Vec<Relation>,
    /// Every file and directory the package owns, with absolute paths.
    pub files: Vec<Entry>,
    /// The history, newest first: written as `changelog.Debian.gz` into a
    /// deb and as `%changelog` into an rpm.
    pub changelog: Vec<Change>,
    /// Seconds since 1970 stamped on every file and the build, so the same
    /// spec always gives the same bytes.
    pub mtime: u32,
}

/// One file or directory of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path, `/`-separated, no `.`/`..` parts, no trailing `/`.
    pub path: String,
    /// Permission bits (`0o755`, `0o644`).
    pub mode: u32,
    /// A file's bytes, or a directory.
    pub content: Content,
}

/// What an [`Entry`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file with these bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link with this (relative) target.
    Link(String),
}

/// One version's entry of a package's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The version it describes.
    pub version: Version,
    /// `Name <mail>` of whoever made it.
    pub author: String,
    /// Seconds since 1970.
    pub time: u32,
    /// What changed, one line each.
    pub items: Vec<String>,
}

impl Entry {
    /// A regular file.
    pub fn file(path: impl Into<String>, mode: u32, bytes: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.into(),
            mode,
            content: Content::File(bytes.into()),
        }
    }

    /// A directory, mode 0755.
    pub fn dir(path: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o755,
            content: Content::Dir,
        }
    }

    /// A symbolic link to `target`, mode 0777 as links always are.
    pub fn link(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o777,
            content: Content::Link(target.into()),
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.content, Content::Dir)
    }

    /// Whether this is documentation (rpm's `%doc`): below /usr/share/doc.
    pub fn is_doc(&self) -> bool {
        self.path.starts_with("/usr/share/doc/")
    }

    /// The size in bytes (0 for a directory, the target's length for a link).
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::File(bytes) => bytes.len() as u64,
            Content::Dir => 0,
            Content::Link(target) => target.len() as u64,
        }
    }
}

/// The Debian spelling of an OSCAR architecture name.
pub fn deb_arch(arch: Option<&str>) -> String {
    match arch {
        None => "all".to_owned(),
        Some("x86_64") => "amd64".to_owned(),
        Some("i586" | "i686") => "i386".to_owned(),
        Some("aarch64") => "arm64".to_owned(),
        Some("ppc64le") => "ppc64el".to_owned(),
        Some(other) => other.to_owned(),
    }
}

/// The rpm spelling of an OSCAR architecture name.
pub fn rpm_arch(arch: Option<&str>) -> String {
    match arch {
        None => "noarch".to_owned(),
        Some("amd64") => "x86_64".to_owned(),
        Some("arm64") => "aarch64".to_owned(),
        Some("ppc64el") => "ppc64le".to_owned(),
        Some(other) => other.to_owned(),
    }
}

/// The relation operator as dpkg spells it.
pub(super) fn deb_operator(rel: Rel) -> &'static str {
    match rel {
        Rel::Greater => ">>",
        Rel::GreaterOrEqual => ">=",
        Rel::Less => "<<",
        Rel::LessOrEqual => "<=",
        Rel::Equal => "=",
    }
}

impl PackageSpec {
    /// Checks what both formats need: a name dpkg and rpm accept, one-line
    /// fields, absolute unique entry paths, sane relation names.
    pub fn check(&self) -> Result<(), PackError> {
        let name = &self.name;
        let bad_name = |reason: &'static str| PackError::Name {
            name: name.clone(),
            reason,
        };
        if name.len() < 2 {
            return Err(bad_name("it needs at least two characters"));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(bad_name(
                "it must start with a lower-case letter or a digit",
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
        {
            return Err(bad_name(
                "it may hold only lower-case letters, digits, '+', '-' and '.'",
            ));
        }
        for (field, value) in [
            ("summary", &self.summary),
            ("maintainer", &self.maintainer),
            ("license", &self.license),
            ("group", &self.group),
        ] {
            if value.trim().is_empty() {
                return Err(self.field(field, value, "it is empty"));
            }
            if value.contains(['\n', '\r']) {
                return Err(self.field(field, value, "it must be one line"));
            }
        }
        if let Some(homepage) = &self.homepage
            && homepage.contains(['\n', '\r'])
        {
            return Err(self.field("homepage", homepage, "it must be one line"));
        }
        if let Some(arch) = &self.arch
            && (arch.is_empty() || !arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(self.field("arch", arch, "it may hold only letters, digits and '_'"));
        }
        for relation in self
            .depends
            .iter()
            .chain(&self.rpm_requires)
            .chain(&self.conflicts)
            .chain(&self.provides)
        {
            check_relation(name, relation)?;
        }
        let mut seen = BTreeSet::new();
        for entry in &self.files {
            check_path(name, &entry.path)?;
            if let Content::Link(target) = &entry.content
                && (target.is_empty() || target.contains(['\n', '\r', '\0']))
            {
                return Err(PackError::Entry {
                    package: name.clone(),
                    path: entry.path.clone(),
                    reason: "a link target must be one non-empty line",
                });
            }
            if !seen.insert(entry.path.as_str()) {
                return Err(PackError::Entry {
                    package: name.clone(),
                    path: entry.path.clone(),
                    reason: "it is listed twice",
                });
            }
        }
        Ok(())
    }

    fn field(&self, field: &'static str, value: &str, reason: &'static str) -> PackError {
        PackError::Field {
            package: self.name.clone(),
            field,
            value: value.to_owned(),
            reason,
        }
    }

    /// The description's lines without the indentation they had in the
    /// source file (config.xml indents them; the first line arrives
    /// trimmed), trailing spaces dropped, long lines wrapped at word
    /// boundaries to [`DESCRIPTION_WIDTH`] (dpkg shows them on an 80-column
    /// terminal after a space; rpmlint wants under 80).
    pub fn description_lines(&self) -> Vec<String> {
        dedent(&self.description)
            .into_iter()
            .flat_map(|line| wrap(&line, DESCRIPTION_WIDTH))
            .collect()
    }

    /// Sum of the file sizes, in bytes.
    pub fn payload_size(&self) -> u64 {
        self.files.iter().map(Entry::size).sum()
    }
}

/// The lines of `text` without the indentation they had in the source
/// file (config.xml indents them; the first line arrives trimmed),
/// trailing spaces dropped.
pub(super) fn dedent(text: &str) -> Vec<String> {
    let mut lines = text.trim().lines();
    let Some(first) = lines.next() else {
        return Vec::new();
    };
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    std::iter::once(first.trim_end().to_owned())
        .chain(rest.iter().map(|line| {
            let line = line.trim_end();
            // Only ASCII blanks are counted, so `indent` bytes end on a char
            // boundary of every non-blank line; blank lines are empty.
            line.get(indent..).unwrap_or("").to_owned()
        }))
        .collect()
}

/// The widest description line written, in characters.
pub const DESCRIPTION_WIDTH: usize = 78;

/// `line` cut at spaces into lines of at most `width` characters (a
/// longer word stays whole); a blank line stays one.
pub(super) fn wrap(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_owned()];
    }
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in line.split_whitespace() {
        let current_width = current.chars().count();
        if current_width > 0 && current_width + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

fn check_relation(package: &str, relation: &Relation) -> Result<(), PackError> {
    let fail = |reason| PackError::Relation {
        package: package.to_owned(),
        relation: relation.to_string(),
        reason,
    };
    // Whitespace, commas and operators would split or end the relation in
    // a Depends line or an rpm requirement. Parentheses (rpm capabilities
    // like `perl(Foo::Bar)`) are left to the deb writer to refuse.
    let breaks =
        |c: char| c.is_whitespace() || matches!(c, ',' | '|' | '<' | '>' | '=' | '[' | ']');
    if relation.name.is_empty() || relation.name.contains(breaks) {
        return Err(fail(
            "the package name is empty or holds a space, ',', '|', '<', '>', '=' or a bracket",
        ));
    }
    if let Some((_, version)) = &relation.constraint
        && (version.is_empty()
            || !version.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':' | '_')
            }))
    {
        return Err(fail(
            "the version is empty or holds a character neither dpkg nor rpm accepts",
        ));
    }
    Ok(())
}

fn check_path(package: &str, path: &str) -> Result<(), PackError> {
    let fail = |reason| PackError::Entry {
        package: package.to_owned(),
        path: path.to_owned(),
        reason,
    };
    if !path.starts_with('/') || path.len() < 2 {
        return Err(fail("the path must be absolute and not '/'"));
    }
    if path.ends_with('/') {
        return Err(fail("the path must not end with '/'"));
    }
    if path[1..]
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(fail("the path must not hold empty, '.' or '..' parts"));
    }
    if path.contains(['\n', '\r', '\0']) {
        return Err(fail("the path must not hold a newline or NUL"));
    }
    Ok(())
}

/// Every directory above `path` (`/usr`, `/usr/lib`, ... ) outermost first.
pub(super) fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .skip(1)
        .map(move |(at, _)| &path[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PackageSpec {
        PackageSpec {
            name: "opkg-alpha".into(),
            version: Version::parse("1.0-1").unwrap(),
            arch: None,
            summary: "Alpha".into(),
            description: String::new(),
            maintainer: "A <a@example.org>".into(),
            license: "GPL".into(),
            group: "Application/System".into(),
            homepage: None,
            depends: vec![],
            rpm_requires: vec![],
            conflicts: vec![],
            provides: vec![],
            files: vec![Entry::file("/usr/share/a", 0o644, "a")],
            changelog: vec![],
            mtime: 0,
        }
    }

    fn refused(change: impl FnOnce(&mut PackageSpec), expected: &str) {
        let mut spec = spec();
        change(&mut spec);
        let error = spec.check().unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn a_good_spec_passes() {
        spec().check().unwrap();
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        refused(|s| s.name = "Opkg".into(), "must start with a lower-case");
        refused(|s| s.name = "opkg_a".into(), "may hold only");
        refused(|s| s.name = "o".into(), "at least two");
        refused(
            |s| s.summary = "two\nlines".into(),
            "summary 'two\nlines' is not usable: it must be one line",
        );
        refused(|s| s.maintainer = " ".into(), "maintainer");
        refused(|s| s.arch = Some("x86-64".into()), "arch");
        refused(
            |s| s.files.push(Entry::file("/usr/share/a", 0o644, "b")),
            "listed twice",
        );
        refused(
            |s| s.files.push(Entry::file("usr/b", 0o644, "b")),
            "absolute",
        );
        refused(|s| s.files.push(Entry::dir("/usr/")), "end with '/'");
        refused(|s| s.files.push(Entry::dir("/usr/../etc")), "'..'");
        refused(
            |s| {
                s.depends.push(Relation {
                    name: "a b".into(),
                    constraint: None,
                })
            },
            "relation 'a b'",
        );
        refused(
            |s| {
                s.conflicts.push(Relation {
                    name: "a".into(),
                    constraint: Some((Rel::Equal, "1 2".into())),
                })
            },
            "the version is empty or holds",
        );
    }

    #[test]
    fn descriptions_lose_their_source_indentation() {
        let mut spec = spec();
        spec.description = "First line.\n    second\n      indented\n\n    last  \n  ".into();
        assert_eq!(
            spec.description_lines(),
            ["First line.", "second", "  indented", "", "last"]
        );
        spec.description = "a\n  \u{a0}b".into();
        assert_eq!(spec.description_lines(), ["a", "\u{a0}b"]);
        spec.description = " \n ".into();
        assert!(spec.description_lines().is_empty());
        let long = "word ".repeat(40);
        spec.description = format!("{long}\n\n  {long}");
        let lines = spec.description_lines();
        assert!(
            lines
                .iter()
                .all(|line| line.chars().count() <= DESCRIPTION_WIDTH)
        );
        assert_eq!(lines.join(" ").split_whitespace().count(), 80);
        assert!(lines.contains(&String::new()), "paragraphs stay apart");
    }

    #[test]
    fn arch_names_follow_each_format() {
        assert_eq!(deb_arch(None), "all");
        assert_eq!(deb_arch(Some("x86_64")), "amd64");
        assert_eq!(deb_arch(Some("i386")), "i386");
        assert_eq!(rpm_arch(None), "noarch");
        assert_eq!(rpm_arch(Some("amd64")), "x86_64");
        assert_eq!(rpm_arch(Some("ppc64")), "ppc64");
    }

    #[test]
    fn parents_run_outermost_first() {
        assert_eq!(parents("/a/b/c").collect::<Vec<_>>(), ["/a", "/a/b"]);
        assert_eq!(parents("/a").count(), 0);
    }
}
