//! Repository indexes over a directory of built packages: a flat apt
//! repository (`Packages`, `Packages.gz`, `Release`, written here as
//! dpkg-scanpackages and apt-ftparchive would). dnf repodata is written by
//! `createrepo_c`, which `opm_native::createrepo` runs: this crate spawns
//! nothing.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};
use sha2::Sha256;

use super::error::PackError;

/// Control fields in the order dpkg-scanpackages prints them; others follow
/// in the package's own order, `Description` always last.
const FIELD_ORDER: [&str; 14] = [
    "Package",
    "Source",
    "Version",
    "Architecture",
    "Maintainer",
    "Installed-Size",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Conflicts",
    "Breaks",
    "Replaces",
    "Provides",
];

/// What [`write_apt_index`] indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptIndex {
    /// `(package, version, file name)` of every `.deb`, in index order.
    pub packages: Vec<(String, String, String)>,
    /// The files written: `Packages`, `Packages.gz`, `Release`.
    pub written: Vec<PathBuf>,
}

/// The `.deb` and `.rpm` files directly in `dir`, sorted by name.
pub fn package_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), PackError> {
    let mut debs = Vec::new();
    let mut rpms = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
        let path = entry.map_err(PackError::io(dir))?.path();
        if !path.is_file() {
            continue;
        }
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("deb") => debs.push(path),
            Some("rpm") => rpms.push(path),
            _ => {}
        }
    }
    debs.sort();
    rpms.sort();
    Ok((debs, rpms))
}

/// Writes `Packages`, `Packages.gz` and `Release` for every `.deb` in `dir`,
/// so that `deb [trusted=yes] file:DIR ./` is a usable apt source.
pub fn write_apt_index(dir: &Path, now: SystemTime) -> Result<AptIndex, PackError> {
    let (debs, _) = package_files(dir)?;
    let mut stanzas = Vec::new();
    for path in &debs {
        let bytes = std::fs::read(path).map_err(PackError::io(path))?;
        let unreadable = |reason: String| PackError::Unreadable {
            path: path.clone(),
            reason,
        };
        let control = read_control(&bytes).map_err(unreadable)?;
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| unreadable("its file name is not UTF-8".to_owned()))?;
        let fields = parse_control(&control).map_err(unreadable)?;
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let (Some(package), Some(version)) = (field("Package"), field("Version")) else {
            return Err(unreadable(
                "its control file lacks Package or Version".to_owned(),
            ));
        };
        let stanza = apt_stanza(&fields, file_name, &bytes);
        stanzas.push(((package, version, file_name.to_owned()), stanza));
    }
    stanzas.sort_by(|a, b| a.0.cmp(&b.0));
    let packages_text: String = stanzas
        .iter()
        .map(|(_, stanza)| stanza.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let packages_gz = gz
        .write_all(packages_text.as_bytes())
        .and_then(|()| gz.finish())
        .map_err(PackError::io(dir.join("Packages.gz")))?;
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let release = release_text(
        &[
            ("Packages", packages_text.as_bytes()),
            ("Packages.gz", &packages_gz),
        ],
        seconds,
    );
    let mut written = Vec::new();
    for (name, bytes) in [
        ("Packages", packages_text.as_bytes()),
        ("Packages.gz", packages_gz.as_slice()),
        ("Release", release.as_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(PackError::io(&path))?;
        written.push(path);
    }
    Ok(AptIndex {
        packages: stanzas.into_iter().map(|(key, _)| key).collect(),
        written,
    })
}

/// The `control` file of a `.deb` held in memory (control.tar, .tar.gz).
pub fn read_control(deb: &[u8]) -> Result<String, String> {
    let mut archive = ar::Archive::new(deb);
    while let Some(member) = archive.next_entry() {
        let mut member = member.map_err(|error| format!("not an ar archive: {error}"))?;
        let name = String::from_utf8_lossy(member.header().identifier()).into_owned();
        if !name.starts_with("control.tar") {
            continue;
        }
        let mut tarball = Vec::new();
        member
            .read_to_end(&mut tarball)
            .map_err(|error| format!("{name}: {error}"))?;
        let tarball = match name.as_str() {
            "control.tar" => tarball,
            "control.tar.gz" => {
                let mut plain = Vec::new();
                GzDecoder::new(tarball.as_slice())
                    .read_to_end(&mut plain)
                    .map_err(|error| format!("{name}: {error}"))?;
                plain
            }
            _ => {
                return Err(format!(
                    "{name} is compressed in a way opm does not read (only gzip or none)"
                ));
            }
        };
        let mut tar = tar::Archive::new(tarball.as_slice());
        let entries = tar.entries().map_err(|error| format!("{name}: {error}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|error| format!("{name}: {error}"))?;
            let is_control = entry
                .path()
                .is_ok_and(|path| path == Path::new("control") || path == Path::new("./control"));
            if is_control {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|error| format!("{name}: control: {error}"))?;
                return Ok(text);
            }
        }
        return Err(format!("{name} holds no control file"));
    }
    Err("it has no control.tar member".to_owned())
}

/// A control paragraph as `(field, value)` pairs; continuation lines stay
/// in the value after a newline, as written (leading space kept).
pub fn parse_control(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = fields.last_mut() else {
                return Err(format!(
                    "control line {}: continuation before any field",
                    number + 1
                ));
            };
            value.push('\n');
            value.push_str(line);
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_owned(), value.trim().to_owned()));
        } else {
            return Err(format!(
                "control line {}: '{line}' is not 'Field: value'",
                number + 1
            ));
        }
    }
    Ok(fields)
}

/// One `Packages` paragraph for a `.deb` named `file_name` with these bytes.
pub fn apt_stanza(fields: &[(String, String)], file_name: &str, bytes: &[u8]) -> String {
    let mut text = String::new();
    let mut put = |key: &str, value: &str| {
        let _ = writeln!(text, "{key}: {value}");
    };
    let find = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
    };
    for name in FIELD_ORDER {
        if let Some((key, value)) = find(name) {
            put(key, value);
        }
    }
    put("Filename", &format!("./{file_name}"));
    put("Size", &bytes.len().to_string());
    put("MD5sum", &hex::encode(Md5::digest(bytes)));
    put("SHA256", &hex::encode(Sha256::digest(bytes)));
    for (key, value) in fields {
        let known = FIELD_ORDER
            .iter()
            .any(|name| key.eq_ignore_ascii_case(name));
        if !known && !key.eq_ignore_ascii_case("Description") {
            put(key, value);
        }
    }
    if let Some((key, value)) = find("Description") {
        put(key, value);
    }
    text
}

/// The `Release` file of a flat repository holding `files`.
pub fn release_text(files: &[(&str, &[u8])], seconds: u64) -> String {
    let mut text = String::from("Origin: opm\nLabel: opm\n");
    let _ = writeln!(text, "Date: {}", rfc2822(seconds));
    text.push_str("MD5Sum:\n");
    for (name, bytes) in files {
        let _ = writeln!(
            text,
            " {} {} {name}",
            hex::encode(Md5::digest(bytes)),
            bytes.len()
        );
    }
    text.push_str("SHA256:\n");
    for (name, bytes) in files {
        let _ = writeln!(
            text,
            " {} {} {name}",
            hex::encode(Sha256::digest(bytes)),
            bytes.len()
        );
    }
    text
}

/// `Tue, 14 Nov 2023 22:13:20 UTC`, the date form apt reads.
pub fn rfc2822(seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} UTC",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc2822_in_utc() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(rfc2822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 UTC");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 UTC");
    }

    #[test]
    fn control_paragraphs_keep_continuation_lines() {
        let fields = parse_control("Package: a\nDescription: one\n two\n .\n").unwrap();
        assert_eq!(
            fields,
            [
                ("Package".to_owned(), "a".to_owned()),
                ("Description".to_owned(), "one\n two\n .".to_owned())
            ]
        );
    }

    #[test]
    fn broken_control_paragraphs_name_the_line() {
        assert_eq!(
            parse_control(" orphan\n").unwrap_err(),
            "control line 1: continuation before any field"
        );
        assert_eq!(
            parse_control("Package: a\nno colon\n").unwrap_err(),
            "control line 2: 'no colon' is not 'Field: value'"
        );
    }

    #[test]
    fn stanzas_follow_dpkg_scanpackages_order() {
        let fields = parse_control(
            "Description: d\n more\nDepends: b\nPackage: a\nSection: misc\nVersion: 1\nArchitecture: all\n",
        )
        .unwrap();
        assert_eq!(
            apt_stanza(&fields, "a_1_all.deb", b"abc"),
            "Package: a\nVersion: 1\nArchitecture: all\nDepends: b\nFilename: ./a_1_all.deb\nSize: 3\n\
             MD5sum: 900150983cd24fb0d6963f7d28e17f72\n\
             SHA256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\
             Section: misc\nDescription: d\n more\n"
        );
    }

    #[test]
    fn release_lists_both_indexes_with_sums_and_sizes() {
        let text = release_text(&[("Packages", b"abc"), ("Packages.gz", b"")], 0);
        assert!(text.contains("MD5Sum:\n 900150983cd24fb0d6963f7d28e17f72 3 Packages\n d41d8cd98f00b204e9800998ecf8427e 0 Packages.gz\n"), "{text}");
        assert!(text.contains("SHA256:\n ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 3 Packages\n"), "{text}");
    }

    #[test]
    fn junk_is_not_a_deb() {
        assert!(read_control(b"not an archive").is_err());
    }
}
