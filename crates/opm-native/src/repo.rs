//! Where packages come from: the `--repo` values of SPEC §4.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{NativeError, Result};

/// One configured repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repo {
    /// A local directory of package files with its index (`Packages` for
    /// apt, `repodata/` for dnf); plain dpkg and rpm read the files directly.
    Dir(PathBuf),
    /// A remote flat repository (`http://…`, `https://…`, `ftp://…`, `file://…`).
    Url(String),
    /// An apt source line as written in `sources.list` (`deb [opts] URI suite [components]`).
    AptLine(String),
}

impl Repo {
    /// Reads a `--repo` value: a `deb …` line, a URL, or a directory (made
    /// absolute against the current directory, since the tools run elsewhere).
    ///
    /// # Errors
    /// [`NativeError::InvalidRepo`] for an empty value, a line break, or a
    /// directory path that is not UTF-8.
    pub fn parse(value: &str) -> Result<Self> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.contains(['\n', '\r']) {
            return Err(NativeError::InvalidRepo(value.to_owned()));
        }
        if trimmed.starts_with("deb ") || trimmed.starts_with("deb\t") {
            return Ok(Self::AptLine(trimmed.to_owned()));
        }
        if let Some((scheme, rest)) = trimmed.split_once("://") {
            if !rest.is_empty() && ["http", "https", "ftp", "file"].contains(&scheme) {
                return Ok(Self::Url(trimmed.trim_end_matches('/').to_owned()));
            }
            return Err(NativeError::InvalidRepo(value.to_owned()));
        }
        let path = Path::new(trimmed);
        let absolute = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|_| NativeError::InvalidRepo(value.to_owned()))?
                .join(path)
        };
        if absolute.to_str().is_none() {
            return Err(NativeError::InvalidRepo(value.to_owned()));
        }
        Ok(Self::Dir(absolute))
    }

    /// The local directory, if this repository is one (a `file://` URL counts).
    #[must_use]
    pub fn local_dir(&self) -> Option<PathBuf> {
        match self {
            Self::Dir(path) => Some(path.clone()),
            Self::Url(url) => url.strip_prefix("file://").map(PathBuf::from),
            Self::AptLine(_) => None,
        }
    }

    /// The line for apt's `sources.list`. Directories and URLs are flat
    /// repositories (`./`), trusted because opm builds and indexes them itself.
    #[must_use]
    pub fn apt_line(&self) -> String {
        match self {
            Self::Dir(path) => format!("deb [trusted=yes] file:{} ./", path.display()),
            Self::Url(url) => format!("deb [trusted=yes] {url}/ ./"),
            Self::AptLine(line) => line.clone(),
        }
    }

    /// The base URL dnf takes in `--repofrompath`, or `None` for an apt line.
    #[must_use]
    pub fn dnf_url(&self) -> Option<String> {
        match self {
            Self::Dir(path) => Some(format!("file://{}", path.display())),
            Self::Url(url) => Some(url.clone()),
            Self::AptLine(_) => None,
        }
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(path) => write!(formatter, "{}", path.display()),
            Self::Url(url) => formatter.write_str(url),
            Self::AptLine(line) => formatter.write_str(line),
        }
    }
}

/// The repositories as one comma-separated text, for messages.
#[must_use]
pub fn describe(repos: &[Repo]) -> String {
    if repos.is_empty() {
        return "the repositories (none configured)".to_owned();
    }
    repos
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directories_urls_and_apt_lines() {
        assert_eq!(
            Repo::parse("/srv/repo").unwrap(),
            Repo::Dir("/srv/repo".into())
        );
        assert_eq!(
            Repo::parse("https://example.org/opkg/").unwrap(),
            Repo::Url("https://example.org/opkg".into())
        );
        let line = "deb http://deb.debian.org/debian bookworm main";
        assert_eq!(Repo::parse(line).unwrap(), Repo::AptLine(line.into()));
        let relative = Repo::parse("repo").unwrap();
        assert!(relative.local_dir().unwrap().is_absolute());
    }

    #[test]
    fn rejects_what_is_not_a_repository() {
        for bad in ["", "  ", "gopher://x", "http://", "a\nb"] {
            assert!(
                matches!(Repo::parse(bad), Err(NativeError::InvalidRepo(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            Repo::parse("gopher://x").unwrap_err().to_string(),
            "invalid repository \"gopher://x\": give a directory, a URL or a 'deb …' line"
        );
    }

    #[test]
    fn writes_apt_lines_and_dnf_urls() {
        let dir = Repo::Dir("/srv/repo".into());
        assert_eq!(dir.apt_line(), "deb [trusted=yes] file:/srv/repo ./");
        assert_eq!(dir.dnf_url().unwrap(), "file:///srv/repo");
        let url = Repo::Url("http://h/r".into());
        assert_eq!(url.apt_line(), "deb [trusted=yes] http://h/r/ ./");
        assert_eq!(url.local_dir(), None);
        let file_url = Repo::Url("file:///srv/r".into());
        assert_eq!(file_url.local_dir().unwrap(), PathBuf::from("/srv/r"));
        assert_eq!(Repo::AptLine("deb x y".into()).dnf_url(), None);
        assert_eq!(describe(&[dir, url]), "/srv/repo, http://h/r");
        assert_eq!(describe(&[]), "the repositories (none configured)");
    }
}
