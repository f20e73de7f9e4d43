//! Signing repository indexes with gpg (`opm repo index --sign KEYID`), so
//! sites that keep apt's and dnf's signature checks on can use opm's
//! repositories: `InRelease` (clear-signed) and `Release.gpg` (detached)
//! for apt, `repodata/repomd.xml.asc` for dnf, and the public key next to
//! them (`opm-archive-key.asc`) for clients to name in `signed-by=` or
//! `gpgkey=`.
//!
//! gpg is a process, and only this crate spawns processes; the indexes
//! themselves are written by `opm-opkg` (files only). gpg runs with the
//! clean environment of [`Invocation`] plus the `GNUPGHOME` and `HOME` it
//! is given (where the keys are), in batch mode: a key with a passphrase
//! fails instead of prompting.

use std::path::{Path, PathBuf};

use crate::command::Invocation;
use crate::error::{NativeError, Result};

/// The public key written next to the signed indexes.
pub const KEY_FILE: &str = "opm-archive-key.asc";

/// The apt index that is signed.
pub const APT_RELEASE: &str = "Release";

/// apt's clear-signed copy of [`APT_RELEASE`].
pub const APT_INRELEASE: &str = "InRelease";

/// apt's detached signature of [`APT_RELEASE`].
pub const APT_RELEASE_GPG: &str = "Release.gpg";

/// dnf's index that is signed, relative to the repository.
pub const DNF_REPOMD: &str = "repodata/repomd.xml";

/// dnf's detached signature of [`DNF_REPOMD`].
pub const DNF_REPOMD_ASC: &str = "repodata/repomd.xml.asc";

/// Every signature file opm writes, relative to the repository: removed
/// before a repository is indexed again, so no stale signature outlives
/// the index it signed.
pub const SIGNATURES: [&str; 3] = [APT_INRELEASE, APT_RELEASE_GPG, DNF_REPOMD_ASC];

/// Signs with one gpg key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    key: String,
    env: Vec<(String, String)>,
}

impl Signer {
    /// A signer with `key` (a key id, fingerprint or user id gpg accepts
    /// for `--local-user`); `gnupg_home` and `home` are passed on to gpg
    /// when given (opm's own `GNUPGHOME` and `HOME`).
    ///
    /// # Errors
    /// [`NativeError::Sign`] for a key that is empty, starts with `-` or
    /// holds a line break.
    pub fn new(key: &str, gnupg_home: Option<&str>, home: Option<&str>) -> Result<Self> {
        if key.trim().is_empty() || key.starts_with('-') || key.contains(['\n', '\r', '\0']) {
            return Err(NativeError::Sign {
                key: key.to_owned(),
                step: "reading the key id".to_owned(),
                detail: "give a key id, fingerprint or user id as gpg --list-secret-keys shows"
                    .to_owned(),
            });
        }
        let mut env = Vec::new();
        if let Some(home) = home {
            env.push(("HOME".to_owned(), home.to_owned()));
        }
        if let Some(gnupg_home) = gnupg_home {
            env.push(("GNUPGHOME".to_owned(), gnupg_home.to_owned()));
        }
        Ok(Self {
            key: key.to_owned(),
            env,
        })
    }

    fn gpg(&self) -> Invocation {
        let mut invocation = Invocation::new("gpg").args(["--batch", "--yes", "--no-tty"]);
        for (name, value) in &self.env {
            invocation = invocation.env(name, value);
        }
        invocation
    }

    /// `gpg --armor --export KEY`: the public key on stdout.
    #[must_use]
    pub fn export_command(&self) -> Invocation {
        self.gpg().args(["--armor", "--export", self.key.as_str()])
    }

    /// `gpg --clearsign`: `input` clear-signed into `output`.
    #[must_use]
    pub fn clearsign_command(&self, input: &Path, output: &Path) -> Invocation {
        self.gpg()
            .args(["--local-user", self.key.as_str(), "--digest-algo", "SHA256"])
            .args(["--clearsign", "--output"])
            .args([path_text(output), path_text(input)])
    }

    /// `gpg --armor --detach-sign`: `input`'s signature into `output`.
    #[must_use]
    pub fn detach_sign_command(&self, input: &Path, output: &Path) -> Invocation {
        self.gpg()
            .args(["--local-user", self.key.as_str(), "--digest-algo", "SHA256"])
            .args(["--armor", "--detach-sign", "--output"])
            .args([path_text(output), path_text(input)])
    }

    /// The armored public key; asked first, so a key gpg does not have
    /// is refused before anything is written.
    ///
    /// # Errors
    /// [`NativeError::Sign`] when gpg fails or knows no such key,
    /// [`NativeError::ToolMissing`] without gpg.
    pub fn public_key(&self) -> Result<String> {
        let ran = self.export_command().run()?;
        if ran.success() && ran.stdout.contains("BEGIN PGP PUBLIC KEY BLOCK") {
            return Ok(ran.stdout);
        }
        Err(self.failure(
            "exporting its public key",
            if ran.success() {
                "gpg has no such key; check gpg --list-secret-keys (and GNUPGHOME)".to_owned()
            } else {
                ran.combined()
            },
        ))
    }

    /// Signs the apt index of `dir`: `InRelease` and `Release.gpg`.
    ///
    /// # Errors
    /// [`NativeError::Sign`] with gpg's messages.
    pub fn sign_apt(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let release = dir.join(APT_RELEASE);
        let inrelease = dir.join(APT_INRELEASE);
        let detached = dir.join(APT_RELEASE_GPG);
        self.sign(&self.clearsign_command(&release, &inrelease), &release)?;
        self.sign(&self.detach_sign_command(&release, &detached), &release)?;
        Ok(vec![inrelease, detached])
    }

    /// Signs the dnf index of `dir`: `repodata/repomd.xml.asc`.
    ///
    /// # Errors
    /// [`NativeError::Sign`] with gpg's messages.
    pub fn sign_dnf(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let repomd = dir.join(DNF_REPOMD);
        let signature = dir.join(DNF_REPOMD_ASC);
        self.sign(&self.detach_sign_command(&repomd, &signature), &repomd)?;
        Ok(vec![signature])
    }

    fn sign(&self, invocation: &Invocation, input: &Path) -> Result<()> {
        let ran = invocation.run()?;
        if ran.success() {
            Ok(())
        } else {
            Err(self.failure(&format!("signing {}", input.display()), ran.combined()))
        }
    }

    fn failure(&self, step: &str, detail: String) -> NativeError {
        NativeError::Sign {
            key: self.key.clone(),
            step: step.to_owned(),
            detail: detail.trim().to_owned(),
        }
    }
}

/// Removes the signatures opm may have written into `dir` earlier.
///
/// # Errors
/// The I/O error of a removal (a missing file is none).
pub fn remove_signatures(dir: &Path) -> std::io::Result<()> {
    for name in SIGNATURES {
        match std::fs::remove_file(dir.join(name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// A path as gpg's argument (lossy for a non-UTF-8 path, which then fails
/// to open and is reported by gpg).
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_batch_runs_with_only_the_given_homes() {
        let signer = Signer::new("ABCD1234", Some("/k/.gnupg"), None).unwrap();
        let clear = signer.clearsign_command(Path::new("/r/Release"), Path::new("/r/InRelease"));
        assert_eq!(
            clear.display(),
            "gpg --batch --yes --no-tty --local-user ABCD1234 --digest-algo SHA256 --clearsign --output /r/InRelease /r/Release"
        );
        assert_eq!(
            clear.env,
            [("GNUPGHOME".to_owned(), "/k/.gnupg".to_owned())]
        );
        let detached =
            signer.detach_sign_command(Path::new("/r/Release"), Path::new("/r/Release.gpg"));
        assert!(
            detached
                .display()
                .ends_with("--armor --detach-sign --output /r/Release.gpg /r/Release")
        );
        assert_eq!(
            signer.export_command().display(),
            "gpg --batch --yes --no-tty --armor --export ABCD1234"
        );
    }

    #[test]
    fn keys_that_are_not_key_ids_are_refused() {
        for bad in ["", "  ", "--homedir=/x", "a\nb"] {
            let error = Signer::new(bad, None, None).unwrap_err();
            assert!(
                error.to_string().contains("give a key id"),
                "{bad:?}: {error}"
            );
        }
    }
}
