//! Empty sandbox roots for the real package tools (SANDBOX.md): a root that
//! `dpkg --root` installs into, and one that `apt-get` installs into from a
//! flat repository, its own configuration keeping apt and dpkg inside it.
//! Never the machine's own `/`.

use std::io;
use std::path::{Path, PathBuf};

/// Makes `root` an empty dpkg root: dpkg's admin directories, an empty
/// status file and `var/log` for `--log`.
pub fn dpkg_root(root: &Path) -> io::Result<()> {
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/log",
    ] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "")
}

/// Makes `root` an empty dpkg root that apt installs into from the flat
/// repository `repo` (trusted, unsigned), and gives the configuration file
/// to name in `APT_CONFIG` when running `apt-get`.
pub fn apt_root(root: &Path, repo: &Path) -> io::Result<PathBuf> {
    dpkg_root(root)?;
    for dir in [
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
    ] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::write(
        root.join("etc/apt/sources.list"),
        format!("deb [trusted=yes] file:{} ./\n", repo.display()),
    )?;
    let root_text = root.display();
    let config = root.join("apt.conf");
    std::fs::write(
        &config,
        format!(
            "Dir \"{root_text}/\";\nDir::State::status \"{root_text}/var/lib/dpkg/status\";\n\
             APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n\
             DPkg::Options {{ \"--root={root_text}\"; \"--log={root_text}/var/log/dpkg.log\"; \"--force-script-chrootless\"; }};\n"
        ),
    )?;
    Ok(config)
}
