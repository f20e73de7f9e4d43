//! `opm repo index DIR`: turns a directory of built packages into a
//! repository the backends use: a flat apt repository (`Packages`,
//! `Packages.gz`, `Release`, written by `opm_opkg::pack`) for the `.deb`
//! files and dnf repodata (by `createrepo_c`, run by
//! `opm_native::createrepo`) for the `.rpm` files; with `--sign KEYID` also
//! their gpg signatures (`opm_native::sign`, where the gpg process is run).

use std::path::Path;
use std::time::SystemTime;

use opm_native::NativeError;
use opm_native::command::Ran;
use opm_native::sign::{KEY_FILE, Signer, remove_signatures};
use opm_opkg::pack::{package_files, write_apt_index};
use serde::Serialize;

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;

/// What `opm repo index` did.
#[derive(Debug, Default, Serialize)]
struct IndexReport {
    /// `.deb` files indexed into `Packages`.
    debs: usize,
    /// `.rpm` files indexed into `repodata/`.
    rpms: usize,
    /// Files and directories written.
    written: Vec<String>,
}

/// Runs `opm repo index DIR [--sign KEYID]`.
pub fn run(dir: &Path, sign: Option<&str>, printer: Printer) -> anyhow::Result<Exit> {
    if !dir.is_dir() {
        return Err(bad_input(format!(
            "{}: not a directory; name the directory opm pack wrote to",
            dir.display()
        )));
    }
    let (debs, rpms) = package_files(dir).map_err(|error| bad_input(error.to_string()))?;
    if debs.is_empty() && rpms.is_empty() {
        return Err(bad_input(format!(
            "{} holds no .deb or .rpm files; build some with opm pack -o {}",
            dir.display(),
            dir.display()
        )));
    }
    // The key is checked (and its public half read) before anything is
    // written: an unknown key is bad input and changes nothing.
    let signer = match sign {
        Some(key) => {
            let gnupg_home = std::env::var("GNUPGHOME").ok();
            let home = std::env::var("HOME").ok();
            let signer = Signer::new(key, gnupg_home.as_deref(), home.as_deref())
                .map_err(|error| bad_input(error.to_string()))?;
            let public = signer
                .public_key()
                .map_err(|error| bad_input(error.to_string()))?;
            Some((signer, public))
        }
        None => None,
    };
    // Old signatures would not match the new indexes: apt and dnf would
    // refuse the repository. Unsigned now means no signature at all.
    remove_signatures(dir).map_err(|error| {
        anyhow::anyhow!("removing the old signatures in {}: {error}", dir.display())
    })?;
    let mut report = IndexReport {
        debs: debs.len(),
        rpms: rpms.len(),
        written: Vec::new(),
    };
    if !debs.is_empty() {
        let index = write_apt_index(dir, SystemTime::now())
            .map_err(|error| bad_input(error.to_string()))?;
        report
            .written
            .extend(index.written.iter().map(|path| path.display().to_string()));
        if let Some((signer, _)) = &signer {
            let signed = signer.sign_apt(dir)?;
            report
                .written
                .extend(signed.iter().map(|path| path.display().to_string()));
        }
    }
    if !rpms.is_empty() {
        repodata_written(
            opm_native::createrepo::run(dir),
            dir,
            rpms.len(),
            !debs.is_empty(),
        )?;
        report
            .written
            .push(dir.join("repodata").display().to_string());
        if let Some((signer, _)) = &signer {
            let signed = signer.sign_dnf(dir)?;
            report
                .written
                .extend(signed.iter().map(|path| path.display().to_string()));
        }
    }
    if let Some((_, public)) = &signer {
        let path = dir.join(KEY_FILE);
        std::fs::write(&path, public)
            .map_err(|error| anyhow::anyhow!("writing {}: {error}", path.display()))?;
        report.written.push(path.display().to_string());
    }
    if printer.json() {
        printer.print_json(&report)?;
    } else {
        for path in &report.written {
            printer.line(format_args!("wrote {path}"));
        }
        printer.line(format_args!(
            "indexed {} .deb and {} .rpm in {}",
            report.debs,
            report.rpms,
            dir.display()
        ));
    }
    Ok(Exit::Success)
}

/// How a `createrepo_c` run for `dir` (with `rpms` packages) ended, as
/// the command's outcome: a missing tool says what to install, and whether
/// the apt index (`apt_written`) was written before.
fn repodata_written(
    outcome: opm_native::Result<Ran>,
    dir: &Path,
    rpms: usize,
    apt_written: bool,
) -> anyhow::Result<()> {
    match outcome {
        Ok(ran) if ran.success() => Ok(()),
        Ok(ran) => Err(anyhow::anyhow!(
            "createrepo_c failed ({}) in {}: {}",
            ran.describe_status(),
            dir.display(),
            ran.combined().trim()
        )),
        Err(NativeError::ToolMissing { .. }) => Err(anyhow::anyhow!(
            "{rpms} .rpm files need createrepo_c for dnf repodata, and it is not installed; \
             install it (apt-get install createrepo-c, dnf install createrepo_c){}",
            if apt_written {
                "; the apt index was written"
            } else {
                ""
            }
        )),
        Err(error) => Err(anyhow::anyhow!("cannot run createrepo_c: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use opm_native::NativeError;

    use super::repodata_written;

    #[test]
    fn a_missing_createrepo_c_says_what_to_install_and_what_was_written() {
        let missing = || NativeError::ToolMissing {
            tool: "createrepo_c".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let dir = Path::new("/srv/repo");
        let rpm_only = repodata_written(Err(missing()), dir, 3, false).unwrap_err();
        assert_eq!(
            rpm_only.to_string(),
            "3 .rpm files need createrepo_c for dnf repodata, and it is not installed; \
             install it (apt-get install createrepo-c, dnf install createrepo_c)"
        );
        let mixed = repodata_written(Err(missing()), dir, 1, true).unwrap_err();
        assert!(
            mixed.to_string().ends_with("; the apt index was written"),
            "{mixed}"
        );
    }

    #[test]
    fn a_failed_createrepo_c_is_named_with_its_status_and_messages() {
        let ran = opm_native::command::Invocation::new("sh")
            .args(["-c", "echo broken rpm >&2; exit 4"])
            .run()
            .unwrap();
        let error = repodata_written(Ok(ran), Path::new("/srv/repo"), 1, false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "createrepo_c failed (exit status 4) in /srv/repo: broken rpm"
        );
    }
}
