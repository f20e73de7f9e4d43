//! Throwaway gpg signing keys for the signed-repository tests: made in a
//! `GNUPGHOME` of the test's own (a temporary directory), with no
//! passphrase, so nothing of the developer's keyring is read or changed.

use std::path::Path;
use std::process::Command;

use crate::tools::stdout_of;

/// `gpg` in batch mode with `home` as its `GNUPGHOME`; add the arguments.
pub fn gpg_command(home: &Path) -> Command {
    let mut command = Command::new("gpg");
    command.env("GNUPGHOME", home).args(["--batch", "--no-tty"]);
    command
}

/// Makes a new ed25519 signing key in `home` (an existing directory) and
/// gives its fingerprint.
pub fn new_signing_key(home: &Path) -> String {
    stdout_of(gpg_command(home).args([
        "--passphrase",
        "",
        "--quick-gen-key",
        "opm test repository <opm@example.invalid>",
        "ed25519",
        "sign",
        "never",
    ]));
    let listing = stdout_of(gpg_command(home).args(["--with-colons", "--list-secret-keys"]));
    listing
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .and_then(|rest| rest.trim_matches(':').rsplit(':').next())
        .unwrap_or_else(|| {
            panic!(
                "no fingerprint in gpg's listing of {}:\n{listing}",
                home.display()
            )
        })
        .to_owned()
}
