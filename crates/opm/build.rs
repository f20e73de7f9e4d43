//! Build script: what `opm --version` says besides the version, the git
//! commit built and the build date (`OPM_BUILD_INFO`).
//!
//! Built outside a git checkout (a source tarball, a copied tree) the
//! commit is unknown, and the line says so instead of naming one. The date
//! is `SOURCE_DATE_EPOCH`'s when set (reproducible builds), else the day
//! this script ran; it runs again whenever the checked-out commit changes.

#![allow(
    clippy::disallowed_methods,
    reason = "a build script cannot use opm-native, which is not built yet; it asks git and date"
)]

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let date = build_date();
    let info = match commit() {
        Ok(commit) => format!("commit {commit}, built {date}"),
        Err(why) => {
            println!("cargo:warning=opm --version will name no commit: {why}");
            format!("built {date} outside a git checkout, commit unknown")
        }
    };
    println!("cargo:rustc-env=OPM_BUILD_INFO={info}");
}

/// The output of `git ARGS` run in this crate's directory, trimmed.
fn git(args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(stderr.lines().next().unwrap_or("git failed").to_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The commit checked out, abbreviated; the files naming it are watched, so
/// a commit, checkout or merge runs this script again.
fn commit() -> Result<String, String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Ok(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        && branch.starts_with("refs/")
    {
        watched.push(branch);
    }
    for name in watched {
        // A worktree keeps HEAD in its own git dir, the refs in the
        // common one: --git-path knows which.
        if let Ok(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = PathBuf::from(path);
            // A path that does not exist would make cargo run this script
            // on every build.
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Ok(commit)
}

/// The build date, `YYYY-MM-DD` (UTC).
fn build_date() -> String {
    let mut date = Command::new("date");
    date.args(["-u", "+%Y-%m-%d"]);
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        date.arg(format!("--date=@{epoch}"));
    }
    match date.output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => "on an unknown date".to_owned(),
    }
}
