//! Choosing a backend when none is named, as OSCAR's PackMan did: by the
//! distribution family first (apt/dpkg on Debian-like systems, dnf/rpm on
//! RPM systems), preferring the resolver over the plain tool; by the tools
//! present when the distribution is unknown.

use std::path::Path;

use crate::command::CLEAN_PATH;
use crate::error::{NativeError, Result};
use crate::manager::Backend;
use crate::root::Root;

/// The distribution families that decide the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Debian, Ubuntu and their derivatives.
    Debian,
    /// Red Hat, Fedora, SUSE and their derivatives.
    Rpm,
}

const DEBIAN_IDS: &[&str] = &["debian", "ubuntu"];
const RPM_IDS: &[&str] = &[
    "rhel",
    "fedora",
    "centos",
    "rocky",
    "almalinux",
    "suse",
    "opensuse",
    "sles",
    "amzn",
    "ol",
    "mandriva",
    "mageia",
];

/// The family named by an `os-release` file's `ID` and `ID_LIKE`.
#[must_use]
pub fn family_of(os_release: &str) -> Option<Family> {
    let mut ids = Vec::new();
    for line in os_release.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if matches!(key.trim(), "ID" | "ID_LIKE") {
            let value = value.trim().trim_matches(['"', '\'']);
            ids.extend(value.split_whitespace().map(str::to_ascii_lowercase));
        }
    }
    ids.iter().find_map(|id| {
        if DEBIAN_IDS.contains(&id.as_str()) {
            Some(Family::Debian)
        } else if RPM_IDS.contains(&id.as_str()) || id.starts_with("opensuse") {
            Some(Family::Rpm)
        } else {
            None
        }
    })
}

/// Chooses a backend from the family (if known) and the programs present.
#[must_use]
pub fn choose(family: Option<Family>, has_program: &dyn Fn(&str) -> bool) -> Option<Backend> {
    let order: &[Backend] = match family {
        Some(Family::Debian) => &[Backend::Apt, Backend::Dpkg],
        Some(Family::Rpm) => &[Backend::Dnf, Backend::Rpm],
        None => &[],
    };
    order
        .iter()
        .chain(&[Backend::Apt, Backend::Dnf, Backend::Dpkg, Backend::Rpm])
        .copied()
        .find(|backend| has_program(backend.program()))
}

/// Detects the backend for `root`: an image root with its own `os-release`
/// is judged by it, an empty sandbox by the machine's own.
///
/// # Errors
/// [`NativeError::NoBackend`] when no package manager is installed.
pub fn detect(root: &Root) -> Result<Backend> {
    let read = |path: &Path| std::fs::read_to_string(path).ok();
    let os_release = read(&root.join("etc/os-release"))
        .or_else(|| read(&root.join("usr/lib/os-release")))
        .or_else(|| read(Path::new("/etc/os-release")))
        .or_else(|| read(Path::new("/usr/lib/os-release")));
    let family = os_release.as_deref().and_then(family_of);
    choose(family, &has_program).ok_or(NativeError::NoBackend)
}

/// Whether `program` is an executable file in [`CLEAN_PATH`].
#[must_use]
pub fn has_program(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    CLEAN_PATH.split(':').any(|dir| {
        std::fs::metadata(Path::new(dir).join(program))
            .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_family_from_os_release() {
        for (text, family) in [
            ("ID=debian\nVERSION_ID=\"12\"", Some(Family::Debian)),
            (
                "ID=linuxmint\nID_LIKE=\"ubuntu debian\"",
                Some(Family::Debian),
            ),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"",
                Some(Family::Rpm),
            ),
            (
                "ID=opensuse-leap\nID_LIKE=\"suse opensuse\"",
                Some(Family::Rpm),
            ),
            ("ID=arch", None),
            ("", None),
        ] {
            assert_eq!(family_of(text), family, "{text}");
        }
    }

    #[test]
    fn prefers_the_family_resolver_then_its_plain_tool_then_anything_present() {
        let only = |programs: &'static [&'static str]| move |name: &str| programs.contains(&name);
        let all = only(&["apt-get", "dpkg", "dnf", "rpm"]);
        assert_eq!(choose(Some(Family::Debian), &all), Some(Backend::Apt));
        assert_eq!(choose(Some(Family::Rpm), &all), Some(Backend::Dnf));
        assert_eq!(
            choose(Some(Family::Debian), &only(&["dpkg", "rpm"])),
            Some(Backend::Dpkg)
        );
        assert_eq!(
            choose(Some(Family::Rpm), &only(&["apt-get", "rpm"])),
            Some(Backend::Rpm)
        );
        assert_eq!(
            choose(Some(Family::Rpm), &only(&["apt-get"])),
            Some(Backend::Apt)
        );
        assert_eq!(choose(None, &all), Some(Backend::Apt));
        assert_eq!(choose(None, &only(&["rpm"])), Some(Backend::Rpm));
        assert_eq!(choose(None, &only(&[])), None);
    }

    #[test]
    fn an_image_root_is_judged_by_its_own_os_release() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), "ID=debian\n").unwrap();
        let root = Root::new(dir.path()).unwrap();
        let expected = if has_program("apt-get") {
            Backend::Apt
        } else {
            Backend::Dpkg
        };
        if has_program("dpkg") {
            assert_eq!(detect(&root).unwrap(), expected);
        } else {
            eprintln!("SKIPPED: neither apt-get nor dpkg installed");
        }
    }
}
