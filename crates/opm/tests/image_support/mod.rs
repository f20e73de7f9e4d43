//! Roots for the end-to-end tests: a chrootable busybox image marked for
//! the example scripts, and what dpkg has installed in a root.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Why image roots cannot be made here, if they cannot.
pub fn image_unavailable() -> Option<String> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Some("not running as root (chroot needs it)".to_owned());
    }
    let probe = tempfile::tempdir().unwrap();
    make_image(probe.path()).err()
}

/// Makes `root` a chrootable busybox image marked for the example scripts.
pub fn make_image(root: &Path) -> Result<(), String> {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox"))
        .map_err(|e| format!("no /bin/busybox ({e}): apt-get install busybox-static"))?;
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/opm-example-image"), "").unwrap();
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

/// The native packages dpkg has installed in `root`.
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
