//! Scripts held across their own package's removal.
//!
//! SPEC §1.5 runs `server-post-uninstall` after `opkg-<p>-server` is removed
//! and `client-post-uninstall` after `opkg-<p>-client` is removed, yet those
//! scripts ship in the very packages that are gone by then. Before a part is
//! removed, the scripts of that part the stage still has to run are copied
//! to `<root>/var/lib/opm/held/<p>/`; such a script then runs from its usual
//! place (put back for the run, so its working directory and path are those
//! of SPEC §1.7, chroot included) and is dropped from the hold once it
//! passed. The hold is on disk, so a stage interrupted after the removal
//! still has its scripts when it runs again.

use std::io;
use std::path::{Path, PathBuf};

use opm_model::{Part, Script};
use opm_plan::Action;

/// Where held scripts live, relative to a root.
pub const HELD_DIR: &str = "var/lib/opm/held";

/// The hold of `package` in `root`.
pub fn held_dir(root: &Path, package: &str) -> PathBuf {
    root.join(HELD_DIR).join(package)
}

/// The scripts of `part` among `later` actions: what removing `part` now
/// would take away before it runs.
pub fn scripts_of_part(later: &[Action], part: Part) -> Vec<Script> {
    later
        .iter()
        .filter_map(|action| match action {
            Action::RunScript { script, .. } if script.part() == part => Some(*script),
            _ => None,
        })
        .collect()
}

/// The file name under which `dir` ships `script` (canonical first, then
/// the legacy names), if it does.
pub fn find_script(dir: &Path, script: Script) -> Option<&'static str> {
    std::iter::once(script.file_name())
        .chain(script.legacy_names().iter().copied())
        .find(|name| dir.join(name).is_file())
}

/// Copies those of `scripts` that `package_dir` ships into `held`; the file
/// names held. A script already held (from an interrupted attempt) and no
/// longer shipped stays held.
///
/// # Errors
/// The copy's I/O error.
pub fn hold(package_dir: &Path, held: &Path, scripts: &[Script]) -> io::Result<Vec<&'static str>> {
    let mut kept = Vec::new();
    for script in scripts {
        let Some(name) = find_script(package_dir, *script) else {
            continue;
        };
        std::fs::create_dir_all(held)?;
        // fs::copy keeps the permission bits: the copy stays executable.
        std::fs::copy(package_dir.join(name), held.join(name))?;
        kept.push(name);
    }
    Ok(kept)
}

/// Drops what `held` keeps of `part`'s scripts, once that part is
/// installed again: a hold belongs to the installation it was taken from,
/// and a later uninstall must run the scripts of the version installed
/// then, which its removal holds afresh (SPEC §1.5, §1.9). Otherwise a
/// copy left by an earlier removal, of a script the new version no longer
/// ships, would run in its place. The names dropped.
///
/// # Errors
/// The removal's I/O error.
pub fn release_part(held: &Path, part: Part) -> io::Result<Vec<&'static str>> {
    let mut dropped = Vec::new();
    for script in Script::ALL.iter().filter(|script| script.part() == part) {
        while let Some(name) = find_script(held, *script) {
            std::fs::remove_file(held.join(name))?;
            dropped.push(name);
        }
    }
    if !dropped.is_empty() {
        // Gone with its last script; a hold of another part keeps it.
        let _ = std::fs::remove_dir(held);
    }
    Ok(dropped)
}

/// A held script put back into its package dir for one run.
#[derive(Debug)]
pub struct Restored {
    /// The copy in the package dir.
    file: PathBuf,
    /// The package dir, when the restore had to create it.
    created_dir: Option<PathBuf>,
    /// The held original.
    held_file: PathBuf,
}

/// Puts held `name` back into `package_dir` (creating it if the removal
/// took it) so it runs from where SPEC §1.7 says scripts run.
///
/// # Errors
/// The copy's I/O error.
pub fn restore(held: &Path, package_dir: &Path, name: &str) -> io::Result<Restored> {
    let created_dir = if package_dir.is_dir() {
        None
    } else {
        std::fs::create_dir_all(package_dir)?;
        Some(package_dir.to_path_buf())
    };
    let file = package_dir.join(name);
    std::fs::copy(held.join(name), &file)?;
    Ok(Restored {
        file,
        created_dir,
        held_file: held.join(name),
    })
}

impl Restored {
    /// Takes the copy away again; once the script passed, the held original
    /// goes too (a failed script stays held for `opm retry`).
    pub fn finish(self, passed: bool) {
        // Best effort: what is left behind is an unowned copy of a script,
        // and the next attempt overwrites it.
        let _ = std::fs::remove_file(&self.file);
        if let Some(dir) = &self.created_dir {
            let _ = std::fs::remove_dir(dir);
        }
        if passed {
            let _ = std::fs::remove_file(&self.held_file);
            if let Some(held) = self.held_file.parent() {
                let _ = std::fs::remove_dir(held);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use opm_plan::RootRef;

    fn script_file(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn only_later_scripts_of_the_removed_part_are_held() {
        let run = |script| Action::RunScript {
            script,
            args: Vec::new(),
            chroot: None,
        };
        let later = [
            run(Script::ServerPostUninstall),
            run(Script::ApiPostUninstall),
            Action::Remove {
                part: Part::Api,
                root: RootRef::Own,
            },
        ];
        assert_eq!(
            scripts_of_part(&later, Part::Server),
            [Script::ServerPostUninstall]
        );
        assert_eq!(
            scripts_of_part(&later, Part::Api),
            [Script::ApiPostUninstall]
        );
        assert!(scripts_of_part(&later, Part::Client).is_empty());
    }

    #[test]
    fn a_held_script_outlives_its_package_dir_and_leaves_once_it_passed() {
        let root = tempfile::tempdir().unwrap();
        let package_dir = root.path().join("usr/lib/oscar/packages/p");
        // A legacy name is held under the name it was shipped as.
        script_file(&package_dir, "post_client_rpm_uninstall");
        let held = held_dir(root.path(), "p");
        let kept = hold(
            &package_dir,
            &held,
            &[Script::ClientPostUninstall, Script::ClientPreUninstall],
        )
        .unwrap();
        assert_eq!(kept, ["post_client_rpm_uninstall"]);
        std::fs::remove_dir_all(&package_dir).unwrap();

        assert_eq!(find_script(&package_dir, Script::ClientPostUninstall), None);
        assert_eq!(
            find_script(&held, Script::ClientPostUninstall),
            Some("post_client_rpm_uninstall")
        );
        let restored = restore(&held, &package_dir, "post_client_rpm_uninstall").unwrap();
        let copy = package_dir.join("post_client_rpm_uninstall");
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "the copy stays executable");

        // A failed run keeps the hold for the retry, and tidies the copy.
        restored.finish(false);
        assert!(!package_dir.exists());
        assert!(held.join("post_client_rpm_uninstall").is_file());

        restore(&held, &package_dir, "post_client_rpm_uninstall")
            .unwrap()
            .finish(true);
        assert!(!package_dir.exists());
        assert!(!held.exists());
    }

    #[test]
    fn installing_a_part_again_drops_its_stale_hold_only() {
        let root = tempfile::tempdir().unwrap();
        let held = held_dir(root.path(), "p");
        script_file(&held, "client-post-uninstall");
        script_file(&held, "post_client_rpm_uninstall");
        script_file(&held, "server-post-uninstall");
        let mut dropped = release_part(&held, Part::Client).unwrap();
        dropped.sort_unstable();
        assert_eq!(
            dropped,
            ["client-post-uninstall", "post_client_rpm_uninstall"]
        );
        assert!(held.join("server-post-uninstall").is_file());
        assert_eq!(release_part(&held, Part::Server).unwrap().len(), 1);
        assert!(!held.exists());
        // Nothing held: nothing to do.
        assert!(release_part(&held, Part::Api).unwrap().is_empty());
    }

    #[test]
    fn a_package_dir_that_stays_keeps_its_other_files() {
        let root = tempfile::tempdir().unwrap();
        let package_dir = root.path().join("pkg");
        script_file(&package_dir, "server-post-uninstall");
        script_file(&package_dir, "api-post-uninstall");
        let held = held_dir(root.path(), "p");
        hold(&package_dir, &held, &[Script::ServerPostUninstall]).unwrap();
        std::fs::remove_file(package_dir.join("server-post-uninstall")).unwrap();
        restore(&held, &package_dir, "server-post-uninstall")
            .unwrap()
            .finish(true);
        assert!(package_dir.join("api-post-uninstall").is_file());
        assert!(!package_dir.join("server-post-uninstall").exists());
    }
}
