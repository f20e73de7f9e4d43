//! The example opkgs of `examples/opkgs` (the demo's and the end-to-end
//! tests' fixtures) are what they claim to be: valid against the corpus's
//! `opkg.xsd` by libxml2 and by `opm opkg check --strict`, and together they
//! ship every API script of SPEC §1.7, a configurator.html, a dependency and
//! a conflict between opkgs.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use opm_model::Script;
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");
const OURS: [&str; 4] = ["clusterfs", "jobqueue", "altqueue", "motd"];

fn example(name: &str) -> String {
    format!("{EXAMPLES}/{name}")
}

fn show(name: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_opm"))
        .args([
            "--json", "opkg", "show", "--dist", "debian", "--arch", "amd64",
        ])
        .arg(example(name))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn relation_names(shown: &Value, kind: &str) -> BTreeSet<String> {
    ["api", "server", "client"]
        .iter()
        .flat_map(|part| shown["deps"][part][kind].as_array().unwrap().iter())
        .map(|relation| relation["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_example_config_xml_is_valid_for_libxml2() {
    let xsd = Path::new(CORPUS).join("opkg.xsd");
    if !xsd.is_file() {
        eprintln!("SKIPPED: ../shared not present (no {})", xsd.display());
        return;
    }
    if Command::new("xmllint").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no xmllint (apt-get install libxml2-utils)");
        return;
    }
    for name in OURS {
        let output = Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&xsd)
            .arg(format!("{}/config.xml", example(name)))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn every_example_passes_the_strict_check() {
    let output = Command::new(env!("CARGO_BIN_EXE_opm"))
        .args(["opkg", "check", "--strict"])
        .args(OURS.map(example))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{output:?}");
    for name in OURS {
        assert!(stdout.contains(&format!("{name}: ok")), "{stdout}");
    }
    assert!(!stdout.contains("warning"), "{stdout}");
}

#[test]
fn together_the_examples_ship_every_api_script_under_its_canonical_name() {
    let mut shipped = BTreeSet::new();
    for name in OURS {
        for script in show(name)["scripts"].as_array().unwrap() {
            assert_eq!(script["legacy"], false, "{name}: {script}");
            shipped.insert(script["script"].as_str().unwrap().to_owned());
        }
    }
    let all: BTreeSet<String> = Script::ALL
        .iter()
        .map(|script| script.file_name().to_owned())
        .collect();
    assert_eq!(shipped, all);
}

#[test]
fn every_example_script_is_an_executable_sh_script_that_checks_its_failure_marker() {
    for name in OURS {
        for entry in std::fs::read_dir(Path::new(&example(name)).join("scripts")).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions(),
            );
            assert_eq!(mode & 0o111, 0o111, "{} is executable", path.display());
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("#!/bin/sh\n"), "{}", path.display());
            assert!(text.contains("etc/opm-example/fail-"), "{}", path.display());
            let syntax = Command::new("sh").arg("-n").arg(&path).status().unwrap();
            assert!(syntax.success(), "{} parses", path.display());
        }
    }
}

#[test]
fn the_examples_carry_configurators_a_dependency_and_a_conflict() {
    let clusterfs = show("clusterfs");
    let defaults: Vec<(String, String)> = clusterfs["configurator"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| {
            (
                field["name"].as_str().unwrap().to_owned(),
                field["defaults"][0].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        defaults.contains(&("export_dir".into(), "/home".into())),
        "{defaults:?}"
    );
    assert!(
        defaults.contains(&("access".into(), "rw".into())),
        "{defaults:?}"
    );
    assert!(show("jobqueue")["configurator"].is_array());

    let requires = relation_names(&show("jobqueue"), "requires");
    for part in [
        "opkg-clusterfs",
        "opkg-clusterfs-server",
        "opkg-clusterfs-client",
    ] {
        assert!(
            requires.contains(part),
            "jobqueue requires {part}: {requires:?}"
        );
    }
    let conflicts = relation_names(&show("altqueue"), "conflicts");
    assert!(
        conflicts.iter().any(|c| c.starts_with("opkg-jobqueue")),
        "{conflicts:?}"
    );
    for name in ["clusterfs", "motd"] {
        assert!(relation_names(&show(name), "requires").is_empty(), "{name}");
    }
}

/// The backticked commands of examples/opkgs/README.md's "Build them" line.
fn readme_build_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{EXAMPLES}/README.md")).unwrap();
    let start = readme.find("Build them:").unwrap();
    let end = start + readme[start..].find("\n-").unwrap_or(readme.len() - start);
    readme[start..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|command| command.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|command| command.starts_with("opm "))
        .collect()
}

#[test]
fn the_readmes_build_commands_work_as_written() {
    let commands = readme_build_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let out = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for command in &commands {
        // As an admin types it in a checkout: the shell expands the glob.
        let script = command
            .replacen("opm", env!("CARGO_BIN_EXE_opm"), 1)
            .replace("OUT", out.path().to_str().unwrap());
        let ran = Command::new("sh")
            .args(["-c", &script])
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    let built = std::fs::read_dir(out.path()).unwrap().count();
    assert!(built > 3 * OURS.len(), "{built} files");
    assert!(out.path().join("Packages").is_file());
}
