//! The real OSCAR opkgs of the shared corpus (read in place), imported
//! through the real `opm` binary: the old-format one refuses the whole
//! import, the others register, and sge's declared conflicts with torque
//! and maui stop it from being installed next to them.

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use opm_testkit::TestContext;
use serde_json::json;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn corpus_opkgs() -> Option<Vec<String>> {
    let dir = PathBuf::from(CORPUS).join("opkgs");
    if !dir.is_dir() {
        eprintln!("SKIPPED: ../shared not present (no corpus at {CORPUS})");
        return None;
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    names.sort();
    Some(names)
}

#[test]
fn the_corpus_imports_except_the_old_format_which_stops_everything() {
    let Some(all) = corpus_opkgs() else { return };
    let site = TestContext::initialised(OPM);
    let args: Vec<&str> = ["opkg", "import"]
        .into_iter()
        .chain(all.iter().map(String::as_str))
        .collect();
    let stderr = site.refused(&args, "nothing was imported");
    assert!(stderr.contains("old-format"), "{stderr}");
    assert_eq!(site.json(&["opkg", "list"]), json!([]));

    let args: Vec<&str> = ["opkg", "import"]
        .into_iter()
        .chain(
            all.iter()
                .filter(|p| !p.ends_with("old-format"))
                .map(String::as_str),
        )
        .collect();
    site.ok(&args);
    let list = site.json(&["opkg", "list"]);
    assert_eq!(list.as_array().unwrap().len(), all.len() - 1);
    let sge = list
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "sge")
        .unwrap();
    assert_eq!(sge["conflicts"], json!(["maui", "torque"]));

    site.ok(&["install", "torque"]);
    site.refused(
        &["install", "sge"],
        "sge conflicts with torque, which is installed or requested on node head",
    );
}
