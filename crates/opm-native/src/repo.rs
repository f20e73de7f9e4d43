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
    /// A directory or URL whose index is signed (`opm repo index --sign`),
    /// written `[signed-by=KEYFILE] DIR|URL`: apt and dnf refuse it unless
    /// its signature verifies with the public key in `key`. (Plain dpkg and
    /// rpm read the package files and check no index.)
    Signed {
        /// The directory or URL.
        repo: Box<Repo>,
        /// The public key file (armored, as `opm repo index --sign` exports it).
        key: PathBuf,
    },
}

/// The prefix of a signed repository's value.
const SIGNED_BY: &str = "[signed-by=";

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
        if let Some(rest) = trimmed.strip_prefix(SIGNED_BY) {
            let invalid = || NativeError::InvalidRepo(value.to_owned());
            let (key, location) = rest.split_once(']').ok_or_else(invalid)?;
            let repo = Self::parse(location).map_err(|_| invalid())?;
            if key.trim().is_empty() || !matches!(repo, Self::Dir(_) | Self::Url(_)) {
                return Err(invalid());
            }
            let key = absolute(Path::new(key.trim())).ok_or_else(invalid)?;
            return Ok(Self::Signed {
                repo: Box::new(repo),
                key,
            });
        }
        if let Some((scheme, rest)) = trimmed.split_once("://") {
            if !rest.is_empty() && ["http", "https", "ftp", "file"].contains(&scheme) {
                return Ok(Self::Url(trimmed.trim_end_matches('/').to_owned()));
            }
            return Err(NativeError::InvalidRepo(value.to_owned()));
        }
        absolute(Path::new(trimmed))
            .map(Self::Dir)
            .ok_or_else(|| NativeError::InvalidRepo(value.to_owned()))
    }

    /// The public key a signed repository is checked with.
    #[must_use]
    pub fn signing_key(&self) -> Option<&Path> {
        match self {
            Self::Signed { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The local directory, if this repository is one (a `file://` URL counts).
    #[must_use]
    pub fn local_dir(&self) -> Option<PathBuf> {
        match self {
            Self::Dir(path) => Some(path.clone()),
            Self::Url(url) => url.strip_prefix("file://").map(PathBuf::from),
            Self::AptLine(_) => None,
            Self::Signed { repo, .. } => repo.local_dir(),
        }
    }

    /// The line for apt's `sources.list`. Directories and URLs are flat
    /// repositories (`./`), trusted because opm builds and indexes them
    /// itself, unless signed: then apt checks them with their key only.
    #[must_use]
    pub fn apt_line(&self) -> String {
        match self {
            Self::Dir(path) => format!("deb [trusted=yes] file:{} ./", path.display()),
            Self::Url(url) => format!("deb [trusted=yes] {url}/ ./"),
            Self::AptLine(line) => line.clone(),
            Self::Signed { repo, key } => {
                let options = format!("[signed-by={}]", key.display());
                repo.apt_line().replacen("[trusted=yes]", &options, 1)
            }
        }
    }

    /// The base URL dnf takes in `--repofrompath`, or `None` for an apt line.
    #[must_use]
    pub fn dnf_url(&self) -> Option<String> {
        match self {
            Self::Dir(path) => Some(format!("file://{}", path.display())),
            Self::Url(url) => Some(url.clone()),
            Self::AptLine(_) => None,
            Self::Signed { repo, .. } => repo.dnf_url(),
        }
    }
}

/// `path` made absolute against the current directory (the tools run
/// elsewhere); `None` when that fails or the result is not UTF-8.
fn absolute(path: &Path) -> Option<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    absolute.to_str().is_some().then_some(absolute)
}

impl fmt::Display for Repo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(path) => write!(formatter, "{}", path.display()),
            Self::Url(url) => formatter.write_str(url),
            Self::AptLine(line) => formatter.write_str(line),
            Self::Signed { repo, key } => write!(formatter, "{SIGNED_BY}{}] {repo}", key.display()),
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
    fn reads_signed_directories_and_urls() {
        let signed = Repo::parse("[signed-by=/etc/opm/key.asc] /srv/repo").unwrap();
        assert_eq!(
            signed,
            Repo::Signed {
                repo: Box::new(Repo::Dir("/srv/repo".into())),
                key: "/etc/opm/key.asc".into(),
            }
        );
        assert_eq!(
            signed.apt_line(),
            "deb [signed-by=/etc/opm/key.asc] file:/srv/repo ./"
        );
        assert_eq!(signed.dnf_url().unwrap(), "file:///srv/repo");
        assert_eq!(signed.local_dir().unwrap(), PathBuf::from("/srv/repo"));
        assert_eq!(signed.signing_key(), Some(Path::new("/etc/opm/key.asc")));
        assert_eq!(signed.to_string(), "[signed-by=/etc/opm/key.asc] /srv/repo");
        let url = Repo::parse("[signed-by=/k.asc]https://h/r/").unwrap();
        assert_eq!(url.apt_line(), "deb [signed-by=/k.asc] https://h/r/ ./");
        for bad in [
            "[signed-by=/k.asc]",
            "[signed-by=] /srv/repo",
            "[signed-by=/k.asc /srv/repo",
            "[signed-by=/k.asc] deb http://h/ ./",
            "[signed-by=/k.asc] [signed-by=/k.asc] /srv/repo",
        ] {
            assert!(
                matches!(Repo::parse(bad), Err(NativeError::InvalidRepo(_))),
                "{bad:?}"
            );
        }
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
            "invalid repository \"gopher://x\": give a directory, a URL, '[signed-by=KEYFILE] DIR|URL' or a 'deb …' line"
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
