//! Sandbox roots for the real package tools (SANDBOX.md): an empty root
//! that `dpkg --root` installs into, one that `apt-get` installs into from
//! a flat repository, its own configuration keeping apt and dpkg inside
//! it, and a chrootable busybox image root for image stages; and what dpkg
//! has installed in a root. Never the machine's own `/`.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Why image roots cannot be made here, if they cannot: chroot needs root
/// and a static busybox.
pub fn image_unavailable() -> Option<String> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Some("not running as root (chroot needs it)".to_owned());
    }
    let probe = match tempfile::tempdir() {
        Ok(probe) => probe,
        Err(error) => return Some(format!("no temporary directory: {error}")),
    };
    make_image(probe.path()).err()
}

/// Makes `root` a chrootable busybox image marked for the example scripts
/// (`etc/opm-example-image`).
pub fn make_image(root: &Path) -> Result<(), String> {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    std::fs::copy("/bin/busybox", bin.join("busybox"))
        .map_err(|e| format!("no /bin/busybox ({e}): apt-get install busybox-static"))?;
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .map_err(|e| format!("/bin/busybox --list: {e}"))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet))
                .map_err(|e| format!("{}: {e}", bin.join(applet).display()))?;
        }
    }
    std::fs::create_dir_all(root.join("etc")).map_err(|e| format!("etc: {e}"))?;
    std::fs::write(root.join("etc/opm-example-image"), "").map_err(|e| format!("etc: {e}"))?;
    let entered = Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", "true"])
        .output()
        .map_err(|e| format!("no chroot program: {e}"))?;
    if entered.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot chroot into a busybox image (is /bin/busybox static?): {}",
            String::from_utf8_lossy(&entered.stderr)
        ))
    }
}

/// The native packages dpkg has installed in `root`, sorted.
pub fn installed(root: &Path) -> Vec<String> {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap_or_default();
    let mut names = Vec::new();
    for stanza in status.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(str::trim)
        };
        if field("Status:") == Some("install ok installed")
            && let Some(package) = field("Package:")
        {
            names.push(package.to_owned());
        }
    }
    names.sort();
    names
}
