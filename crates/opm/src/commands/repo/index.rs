//! `opm repo index DIR`: turns a directory of built packages into a
//! repository the backends use: a flat apt repository (`Packages`,
//! `Packages.gz`, `Release`, written by `opm_opkg::pack`) for the `.deb`
//! files and dnf repodata (by `createrepo_c`) for the `.rpm` files; with
//! `--sign KEYID` also their gpg signatures (`opm_native::sign`, where the
//! gpg process is run).

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use opm_native::sign::{KEY_FILE, Signer, remove_signatures};
use opm_opkg::pack::{createrepo_command, package_files, write_apt_index};
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
        let argv = createrepo_command(dir);
        let status = Command::new(&argv[0]).args(&argv[1..]).status();
        match status {
            Ok(status) if status.success() => {
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
            Ok(status) => {
                return Err(anyhow::anyhow!(
                    "createrepo_c failed ({status}) in {}; its messages are above",
                    dir.display()
                ));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(anyhow::anyhow!(
                    "{} .rpm files need createrepo_c for dnf repodata, and it is not installed; \
                     install it (apt-get install createrepo-c, dnf install createrepo_c){}",
                    rpms.len(),
                    if debs.is_empty() {
                        ""
                    } else {
                        "; the apt index was written"
                    }
                ));
            }
            Err(error) => {
                return Err(anyhow::anyhow!("cannot run createrepo_c: {error}"));
            }
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
