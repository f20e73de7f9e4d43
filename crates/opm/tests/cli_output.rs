//! Output that goes nowhere: a reader that stops early (`opm status |
//! head`) ends the command quietly, and `opm bench populate` fills a
//! database that the ordinary commands then read.

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use opm_testkit::TestContext;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let site = TestContext::initialised(OPM);
    let populated = site.ok(&["bench", "populate", "--nodes", "100", "--opkgs", "20"]);
    assert!(populated.contains("2020 rows"), "{populated}");
    for args in [&["--json", "status"][..], &["status"]] {
        let mut child = site
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Gone before the ~300 kB of rows are written: the write fails.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn populate_gives_converged_or_one_behind_rows_and_refuses_nonsense() {
    let site = TestContext::initialised(OPM);
    site.ok(&[
        "bench", "populate", "--nodes", "3", "--opkgs", "2", "--behind",
    ]);
    let rows = site.json(&["status"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8, "head and 3 nodes x 2 opkgs");
    assert!(
        rows.iter()
            .all(|r| r["requested"] == "finished" && r["current"] == "run-script-post-install")
    );
    assert_eq!(site.ok(&["cluster", "phase"]).trim(), "complete");
    // No nodes means the head node's rows alone.
    let head_only = TestContext::initialised(OPM);
    let added = head_only.ok(&["bench", "populate", "--nodes", "0", "--opkgs", "5"]);
    assert!(added.contains("and 5 rows"), "{added}");
    let refused = site.refused(
        &[
            "bench", "populate", "--nodes", "1", "--opkgs", "1", "--stage", "1", "--behind",
        ],
        "nothing is before it",
    );
    assert!(refused.contains("--behind"), "{refused}");
}
