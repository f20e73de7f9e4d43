//! Signed repositories (`opm repo index --sign`): apt and dnf install from
//! a repository signed with a throwaway gpg key (made for the test in a
//! temporary `GNUPGHOME`, no passphrase) when told its key, and refuse it
//! when its index changed after signing or another key signed it.

use std::path::{Path, PathBuf};

use opm_native::sign::{Signer, remove_signatures};
use opm_native::{Backend, Cause, NativeError, Options, PackageManager, Repo, Root};
use opm_testkit::gpg::new_signing_key;

use crate::fixtures::{available, index, installed, names, package, sandbox, write};

const A: &str = "opm-test-a";
const B: &str = "opm-test-b";

/// A throwaway signing key: its `GNUPGHOME` and fingerprint.
struct Key {
    home: tempfile::TempDir,
    fingerprint: String,
}

impl Key {
    /// A new key, or `None` (after a SKIPPED line) without gpg.
    fn new(test: &str) -> Option<Key> {
        if !opm_native::detect::has_program("gpg") {
            eprintln!("SKIPPED: {test}: gpg not installed; apt-get install gnupg");
            return None;
        }
        let home = tempfile::tempdir().unwrap();
        let fingerprint = new_signing_key(home.path());
        Some(Key { home, fingerprint })
    }

    fn signer(&self) -> Signer {
        Signer::new(&self.fingerprint, self.home.path().to_str(), None).unwrap()
    }

    /// Writes the public key into `dir`; its path.
    fn export(&self, dir: &Path) -> PathBuf {
        let path = dir.join("key.asc");
        std::fs::write(&path, self.signer().public_key().unwrap()).unwrap();
        path
    }

    fn sign(&self, backend: Backend, repo: &Path) {
        let signer = self.signer();
        let signed = if backend == Backend::Apt {
            signer.sign_apt(repo)
        } else {
            signer.sign_dnf(repo)
        };
        assert!(!signed.unwrap().is_empty());
    }
}

fn signed_manager(backend: Backend, repo: &Path, key: &Path) -> Box<dyn PackageManager> {
    backend.manager(Options::new(vec![Repo::Signed {
        repo: Box::new(Repo::Dir(repo.to_owned())),
        key: key.to_owned(),
    }]))
}

/// apt or dnf installs from a repository signed with a throwaway key.
pub fn installs_from_a_signed_repository(backend: Backend) {
    let test = "installs_from_a_signed_repository";
    if !available(backend, test) {
        return;
    }
    let Some(key) = Key::new(test) else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    write(backend, repo.path(), &[package(A, "1.0-1", &[])]);
    index(backend, repo.path());
    key.sign(backend, repo.path());
    let keys = tempfile::tempdir().unwrap();
    let public = key.export(keys.path());

    let (_dir, root) = sandbox();
    let manager = signed_manager(backend, repo.path(), &public);
    manager.install(&root, &names(&[A])).unwrap();
    assert_eq!(installed(&*manager, &root, &[A]), [A]);
}

/// The refusal every tampered repository must get: a tool failure that
/// says the signature does not verify (apt: or that the index no longer
/// matches the signed `Release`), and nothing installed.
fn assert_refused(
    manager: &dyn PackageManager,
    root: &Root,
    error: &NativeError,
    causes: &[Cause],
) {
    let Some(failure) = error.tool_failure() else {
        panic!("expected a tool failure, got: {error}");
    };
    assert!(causes.contains(&failure.cause), "{error}");
    assert!(installed(manager, root, &[A, B]).is_empty());
}

/// An index changed after signing (a package slipped in, the index
/// rewritten, the old signature left) is refused.
pub fn refuses_an_index_changed_after_signing(backend: Backend) {
    let test = "refuses_an_index_changed_after_signing";
    if !available(backend, test) {
        return;
    }
    let Some(key) = Key::new(test) else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    write(backend, repo.path(), &[package(A, "1.0-1", &[])]);
    index(backend, repo.path());
    key.sign(backend, repo.path());
    let keys = tempfile::tempdir().unwrap();
    let public = key.export(keys.path());
    // What the signature covered, kept; then the index is rebuilt around
    // a package the key holder never saw, and the old signature put back.
    let signatures: Vec<(PathBuf, Vec<u8>)> = opm_native::sign::SIGNATURES
        .iter()
        .map(|name| repo.path().join(name))
        .filter(|path| path.exists())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    write(backend, repo.path(), &[package(B, "6.6-6", &[])]);
    index(backend, repo.path());
    for (path, bytes) in &signatures {
        std::fs::write(path, bytes).unwrap();
    }

    let (_dir, root) = sandbox();
    let manager = signed_manager(backend, repo.path(), &public);
    let error = manager.install(&root, &names(&[B])).unwrap_err();
    // apt checks the signature of the unchanged Release, then finds the
    // new Packages.gz does not match it; dnf checks repomd.xml itself.
    let stale = Cause::BadPackage(vec![format!(
        "file:{}/./Packages.gz",
        repo.path().display()
    )]);
    assert_refused(&*manager, &root, &error, &[Cause::Unverified, stale]);
}

/// A repository signed by another key than the one the site trusts is
/// refused, and so is one with no signature at all.
pub fn refuses_another_key_and_no_signature(backend: Backend) {
    let test = "refuses_another_key_and_no_signature";
    if !available(backend, test) {
        return;
    }
    let (Some(trusted), Some(other)) = (Key::new(test), Key::new(test)) else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    write(backend, repo.path(), &[package(A, "1.0-1", &[])]);
    index(backend, repo.path());
    other.sign(backend, repo.path());
    let keys = tempfile::tempdir().unwrap();
    let public = trusted.export(keys.path());

    let (_dir, root) = sandbox();
    let manager = signed_manager(backend, repo.path(), &public);
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    assert_refused(&*manager, &root, &error, &[Cause::Unverified]);

    remove_signatures(repo.path()).unwrap();
    let (_dir, root) = sandbox();
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    assert_refused(&*manager, &root, &error, &[Cause::Unverified]);
}
