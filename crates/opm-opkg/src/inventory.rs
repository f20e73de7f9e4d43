//! The scripts an opkg source ships in `scripts/` (SPEC §1.7), and in which
//! native part each file goes.

use std::path::Path;

use opm_model::{Part, Script};
use serde::Serialize;

use crate::error::{Diagnostic, InventoryError, Severity};

/// A file of `scripts/` that opm runs at some stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptFile {
    /// Which hook it is.
    pub script: Script,
    /// The file name as found (canonical or legacy).
    pub file_name: String,
    /// The native part that ships it: the part whose host runs the hook.
    pub part: Part,
    /// Whether the name is a legacy alias of the hook.
    pub legacy: bool,
}

/// Any other entry of `scripts/` (a Perl module, a template, a patch, a
/// directory): shipped, never run by opm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelperFile {
    /// The entry's name.
    pub file_name: String,
    /// The native part that ships it (`server-*`, `client-*`, else api).
    pub part: Part,
}

/// What `scripts/` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Hooks, in the order of [`Script::ALL`]; one per hook.
    pub scripts: Vec<ScriptFile>,
    /// Everything else, by name.
    pub helpers: Vec<HelperFile>,
    /// Files naming a hook another file already provides (a canonical name
    /// beats a legacy one); shipped, but opm runs the other one.
    pub shadowed: Vec<ScriptFile>,
}

impl Inventory {
    /// The inventory of the `scripts/` directory of the opkg source `dir`;
    /// empty when there is none. Names starting with `.` (version-control
    /// leftovers) are skipped.
    pub fn of_dir(dir: &Path) -> Result<Inventory, InventoryError> {
        let scripts = dir.join("scripts");
        let entries = match std::fs::read_dir(&scripts) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Inventory::default());
            }
            Err(source) => {
                return Err(InventoryError {
                    path: scripts,
                    source,
                });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| InventoryError {
                path: scripts.clone(),
                source,
            })?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(Inventory::from_names(names.iter().map(String::as_str)))
    }

    /// The inventory of a `scripts/` directory holding entries `names`.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Inventory {
        let mut names: Vec<&str> = names.into_iter().filter(|n| !n.starts_with('.')).collect();
        names.sort_unstable();
        names.dedup();
        let mut inventory = Inventory::default();
        let mut found: Vec<ScriptFile> = Vec::new();
        for name in names {
            match Script::from_file_name(name) {
                Some(script) => found.push(ScriptFile {
                    script,
                    file_name: name.to_owned(),
                    part: script.part(),
                    legacy: script.file_name() != name,
                }),
                None => inventory.helpers.push(HelperFile {
                    file_name: name.to_owned(),
                    part: Part::of_file(name),
                }),
            }
        }
        for script in Script::ALL {
            let mut candidates: Vec<ScriptFile> = found
                .iter()
                .filter(|f| f.script == script)
                .cloned()
                .collect();
            // Canonical first, then legacy names from newest to oldest.
            candidates.sort_by_key(|f| {
                std::iter::once(script.file_name())
                    .chain(script.legacy_names().iter().copied())
                    .position(|n| n == f.file_name)
            });
            let mut candidates = candidates.into_iter();
            if let Some(chosen) = candidates.next() {
                inventory.scripts.push(chosen);
            }
            inventory.shadowed.extend(candidates);
        }
        inventory
    }

    /// One warning per shadowed hook file, naming the file opm runs
    /// instead; `scripts_dir` is how the caller names `scripts/`.
    pub fn warnings(&self, scripts_dir: &Path) -> Vec<Diagnostic> {
        self.shadowed
            .iter()
            .filter_map(|shadowed| {
                let chosen = self.script(shadowed.script)?;
                Some(Diagnostic {
                    file: scripts_dir.join(&shadowed.file_name).display().to_string(),
                    line: 1,
                    column: 1,
                    severity: Severity::Warning,
                    message: format!(
                        "{} and {} are both the {} hook; opm runs {}, so remove {}",
                        shadowed.file_name,
                        chosen.file_name,
                        shadowed.script,
                        chosen.file_name,
                        shadowed.file_name
                    ),
                })
            })
            .collect()
    }

    /// The file that provides `script`, if any.
    pub fn script(&self, script: Script) -> Option<&ScriptFile> {
        self.scripts.iter().find(|f| f.script == script)
    }

    /// Every file name (hooks, shadowed hooks and helpers) that `part` ships.
    pub fn files_of(&self, part: Part) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .scripts
            .iter()
            .chain(&self.shadowed)
            .filter(|f| f.part == part)
            .map(|f| f.file_name.as_str())
            .chain(
                self.helpers
                    .iter()
                    .filter(|h| h.part == part)
                    .map(|h| h.file_name.as_str()),
            )
            .collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_and_helpers_are_told_apart() {
        let inventory = Inventory::from_names([
            "SLURM.pm",
            "api-post-deploy",
            "client-post-install",
            "configurator.html",
            "server-post-install",
            ".svn",
        ]);
        let hooks: Vec<_> = inventory
            .scripts
            .iter()
            .map(|f| (f.script, f.part))
            .collect();
        assert_eq!(
            hooks,
            [
                (Script::ServerPostInstall, Part::Server),
                (Script::ClientPostInstall, Part::Client),
                (Script::ApiPostDeploy, Part::Api),
            ]
        );
        let helpers: Vec<_> = inventory
            .helpers
            .iter()
            .map(|h| h.file_name.as_str())
            .collect();
        assert_eq!(helpers, ["SLURM.pm", "configurator.html"]);
        assert_eq!(inventory.files_of(Part::Server), ["server-post-install"]);
        assert_eq!(
            inventory.files_of(Part::Api),
            ["SLURM.pm", "api-post-deploy", "configurator.html"]
        );
    }

    #[test]
    fn legacy_names_count_and_go_to_the_part_that_runs_them() {
        let inventory =
            Inventory::from_names(["post_install", "post_client_rpm_install", "server-helper"]);
        let deploy = inventory.script(Script::ApiPostDeploy).unwrap();
        assert!(deploy.legacy);
        assert_eq!(deploy.part, Part::Api);
        let client = inventory.script(Script::ClientPostInstall).unwrap();
        assert_eq!(client.part, Part::Client);
        assert_eq!(inventory.helpers[0].part, Part::Server);
    }

    #[test]
    fn a_canonical_name_shadows_its_legacy_aliases() {
        let inventory =
            Inventory::from_names(["post_clients", "api-post-clients", "api-post-clientdef"]);
        let chosen = inventory.script(Script::ApiPostClientdef).unwrap();
        assert_eq!(chosen.file_name, "api-post-clientdef");
        assert!(!chosen.legacy);
        let shadowed: Vec<_> = inventory
            .shadowed
            .iter()
            .map(|f| f.file_name.as_str())
            .collect();
        assert_eq!(shadowed, ["api-post-clients", "post_clients"]);
        let warnings = inventory.warnings(Path::new("src/scripts"));
        assert_eq!(warnings.len(), 2);
        assert_eq!(
            warnings[0].to_string(),
            "src/scripts/api-post-clients:1:1: warning: api-post-clients and api-post-clientdef are both the api-post-clientdef hook; opm runs api-post-clientdef, so remove api-post-clients"
        );
        let only_legacy = Inventory::from_names(["post_clients", "api-post-clients"]);
        assert_eq!(
            only_legacy
                .script(Script::ApiPostClientdef)
                .unwrap()
                .file_name,
            "api-post-clients"
        );
    }

    #[test]
    fn a_missing_scripts_dir_is_an_empty_inventory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Inventory::of_dir(dir.path()).unwrap(), Inventory::default());
        std::fs::create_dir(dir.path().join("scripts")).unwrap();
        std::fs::write(dir.path().join("scripts/api-post-image"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("scripts/client-helper.sh"), "").unwrap();
        let inventory = Inventory::of_dir(dir.path()).unwrap();
        assert_eq!(
            inventory.script(Script::ApiPostImage).unwrap().part,
            Part::Api
        );
        assert_eq!(inventory.files_of(Part::Client), ["client-helper.sh"]);
    }

    #[test]
    fn an_unreadable_scripts_entry_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scripts"), "not a directory").unwrap();
        let error = Inventory::of_dir(dir.path()).unwrap_err();
        assert!(error.to_string().starts_with("cannot list "), "{error}");
    }
}
