//! `opm --version` names the git commit built and the build date, or says
//! the build was made outside a git checkout; `-V` stays the bare version.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: the binary's own output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn version_names_the_commit_and_build_date() {
    let output = Command::new(env!("CARGO_BIN_EXE_opm"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    let line = line.trim_end();
    let prefix = concat!("opm ", env!("CARGO_PKG_VERSION"), " (");
    let info = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success());
    let date = match head {
        // Built from this checkout: its commit (the build script runs again
        // whenever HEAD moves).
        Some(head) => {
            let commit = String::from_utf8(head.stdout).unwrap();
            info.strip_prefix(&format!("commit {}, built ", commit.trim()))
                .unwrap_or_else(|| panic!("{line:?} names another commit than {commit}"))
        }
        // Outside git, no commit is named.
        None => info
            .strip_prefix("built ")
            .and_then(|rest| rest.strip_suffix(" outside a git checkout, commit unknown"))
            .unwrap_or_else(|| panic!("{line:?}")),
    };
    let digits: Vec<&str> = date.split('-').collect();
    assert!(
        digits.len() == 3
            && digits.iter().all(|d| d.chars().all(|c| c.is_ascii_digit()))
            && digits[0].len() == 4,
        "{line:?}"
    );
    // -V stays short.
    let short = Command::new(env!("CARGO_BIN_EXE_opm"))
        .arg("-V")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(short.stdout).unwrap().trim_end(),
        concat!("opm ", env!("CARGO_PKG_VERSION"))
    );
}
