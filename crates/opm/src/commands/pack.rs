//! `opm pack`: builds `opkg-<p>`, `opkg-<p>-server` and `opkg-<p>-client`
//! from opkg sources as `.deb` or `.rpm` (SPEC §3), natively through
//! `opm_opkg::pack`. Every source is read and every package is built in
//! memory first; files are written only when all of them succeeded, so bad
//! input leaves the output directory as it was.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use opm_opkg::pack::{
    SourceFiles, Target, deb_bytes, deb_file_name, deb_name_warnings, opkg_specs, rpm_bytes,
    rpm_file_name, source_warnings,
};
use opm_opkg::{Dist, Loaded, Opkg, OpkgError, config_path};
use serde::Serialize;

use crate::cli::{BackendName, PackArgs, PackageFormat};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

/// One package written.
#[derive(Debug, Serialize)]
struct Built {
    /// The opkg it came from.
    opkg: String,
    /// The native package name.
    package: String,
    /// `deb` or `rpm`.
    format: &'static str,
    /// Where it was written.
    path: PathBuf,
    /// Its size in bytes.
    size: usize,
}

/// Runs `opm pack`.
pub fn run(args: PackArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let format = match args.format {
        Some(format) => format,
        None => default_format(settings.backend, on_path)?,
    };
    let mtime = source_date(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    let target = Target {
        dist: args.dist.as_deref().map(Dist::parse),
        arch: args.arch.clone(),
        mtime,
    };
    if args.output.exists() && !args.output.is_dir() {
        return Err(bad_input(format!(
            "-o {}: not a directory; name a directory for the packages",
            args.output.display()
        )));
    }
    let mut built = Vec::new();
    for path in &args.paths {
        let (opkg, files) = read_source(path)?;
        let specs = opkg_specs(&opkg, &files, &target)
            .map_err(|error| bad_input(format!("{}: {error}", path.display())))?;
        for warning in source_warnings(&files) {
            eprintln!("{}: warning: {warning}", path.display());
        }
        for spec in specs {
            if format == PackageFormat::Deb {
                for warning in deb_name_warnings(&spec) {
                    eprintln!("{}: warning: {warning}", path.display());
                }
            }
            let (bytes, name) = match format {
                PackageFormat::Deb => (deb_bytes(&spec), deb_file_name(&spec)),
                PackageFormat::Rpm => (rpm_bytes(&spec), rpm_file_name(&spec)),
            };
            let bytes = bytes.map_err(|error| bad_input(format!("{}: {error}", path.display())))?;
            built.push((opkg.name.to_string(), spec.name, name, bytes));
        }
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", args.output.display()))?;
    let mut report = Vec::new();
    for (opkg, package, name, bytes) in built {
        let path = args.output.join(name);
        std::fs::write(&path, &bytes)
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?;
        report.push(Built {
            opkg,
            package,
            format: format.name(),
            path,
            size: bytes.len(),
        });
    }
    if printer.json() {
        printer.print_json(&report)?;
    } else {
        for built in &report {
            printer.line(format_args!(
                "{} ({} bytes)",
                built.path.display(),
                built.size
            ));
        }
    }
    Ok(Exit::Success)
}

/// The opkg at `path` (a directory or its config.xml) and its files;
/// warnings go to stderr, errors make it bad input.
fn read_source(path: &Path) -> anyhow::Result<(Opkg, SourceFiles)> {
    let Loaded { opkg, warnings } = match Opkg::from_path(path) {
        Ok(loaded) => loaded,
        Err(OpkgError::Invalid { diagnostics }) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            return Err(bad_input(format!(
                "{} is not a usable opkg source; nothing was written; run opm opkg check for details",
                path.display()
            )));
        }
        Err(other) => return Err(bad_input(other.to_string())),
    };
    for warning in &warnings {
        eprintln!("{warning}");
    }
    let config = config_path(path).map_err(|error| bad_input(error.to_string()))?;
    // A config.xml given directly still belongs to its directory.
    let dir = config.parent().unwrap_or(Path::new("."));
    let files = SourceFiles::read(dir).map_err(|error| bad_input(error.to_string()))?;
    Ok((opkg, files))
}

/// The format when `--format` is not given: the backend's, else deb when
/// dpkg is installed, else rpm when rpm is.
fn default_format(
    backend: Option<BackendName>,
    installed: impl Fn(&str) -> bool,
) -> anyhow::Result<PackageFormat> {
    match backend {
        Some(BackendName::Apt | BackendName::Dpkg) => Ok(PackageFormat::Deb),
        Some(BackendName::Dnf | BackendName::Rpm) => Ok(PackageFormat::Rpm),
        None if installed("dpkg") => Ok(PackageFormat::Deb),
        None if installed("rpm") => Ok(PackageFormat::Rpm),
        None => Err(bad_input(
            "neither dpkg nor rpm is installed to say which format this system uses; pass --format deb or --format rpm",
        )),
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// File times: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn source_date(given: Option<&str>) -> anyhow::Result<u32> {
    match given {
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            bad_input(format!(
                "SOURCE_DATE_EPOCH='{text}' is not a number of seconds since 1970; unset it or fix it"
            ))
        }),
        None => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| u32::try_from(since.as_secs()).unwrap_or(u32::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_decides_the_format_before_the_host() {
        let all = |_: &str| true;
        let none = |_: &str| false;
        let only_rpm = |tool: &str| tool == "rpm";
        assert_eq!(
            default_format(Some(BackendName::Dnf), all).unwrap(),
            PackageFormat::Rpm
        );
        assert_eq!(
            default_format(Some(BackendName::Dpkg), none).unwrap(),
            PackageFormat::Deb
        );
        assert_eq!(default_format(None, all).unwrap(), PackageFormat::Deb);
        assert_eq!(default_format(None, only_rpm).unwrap(), PackageFormat::Rpm);
        let error = default_format(None, none).unwrap_err();
        assert!(error.to_string().contains("pass --format"), "{error}");
    }

    #[test]
    fn source_date_epoch_is_read_or_refused() {
        assert_eq!(source_date(Some("1700000000")).unwrap(), 1_700_000_000);
        let error = source_date(Some("yesterday")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("SOURCE_DATE_EPOCH='yesterday'"),
            "{error}"
        );
        assert!(source_date(None).unwrap() > 1_700_000_000);
    }
}
