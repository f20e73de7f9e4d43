//! `opm demo`, the README's main job, end to end: it must build its cluster,
//! walk every phase to `complete` and exit 0; bad input changes nothing.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs and the binary's own output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn demo(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_opm"))
        .arg("demo")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_demo_walks_every_phase_to_complete_and_exits_0() {
    walk_the_demo(false);
}

#[test]
fn the_demo_with_a_server_and_three_agents_brings_every_node_up() {
    walk_the_demo(true);
}

/// Runs the demo with its server and agents (`agents`) or with `opm run`
/// on the head node alone, and checks what it did.
fn walk_the_demo(agents: bool) {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let count = if agents { "3" } else { "0" };
    let output = demo(&["--dir", demo_dir.to_str().unwrap(), "--agents", count]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // The database and the nodes' tokens are the owner's alone.
    let mut private = vec![demo_dir.join("opm.db")];
    if agents {
        for entry in std::fs::read_dir(demo_dir.join("nodes")).unwrap() {
            private.push(entry.unwrap().path().join("token"));
        }
        assert_eq!(private.len(), 4, "{private:?}");
    }
    for file in &private {
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    // With agents the head node's progress is the server's: its log.
    let progress = if agents {
        std::fs::read_to_string(demo_dir.join("server.log")).unwrap()
    } else {
        stderr.to_string()
    };
    let walked = if agents { "settled at" } else { "opm run at" };
    for phase in [
        "setup_wizard",
        "build_image",
        "addclients",
        "netboot",
        "post_install",
        "test_install",
        "complete",
    ] {
        assert!(stdout.contains(&format!("== phase {phase}\n")), "{stdout}");
        assert!(stdout.contains(&format!("{walked} {phase}")), "{stdout}");
    }
    // The planted failure showed up and was fixed by retry.
    assert!(progress.contains("failing on purpose"), "{progress}");
    assert!(
        stdout.contains("$ opm retry jobqueue --node head"),
        "{stdout}"
    );
    assert!(stdout.contains("1 failed on purpose"), "{stdout}");
    // The conflict was refused.
    assert!(
        stderr.contains("altqueue conflicts with jobqueue"),
        "{stderr}"
    );
    // Drift: a package removed with dpkg behind opm's back, found by opm
    // verify and brought back by opm repair (on node1 with agents, else in
    // the image, else the head node's server part).
    let image_skipped = stdout.contains("SKIPPED: image compute");
    let (row, package) = match (agents, image_skipped) {
        (true, _) => ("node node1 / clusterfs", "opkg-clusterfs-client"),
        (false, false) => ("image compute / clusterfs", "opkg-clusterfs-client"),
        (false, true) => ("node head / clusterfs", "opkg-clusterfs-server"),
    };
    assert!(
        stdout.contains(&format!(" -r {package}   # behind opm's back")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "drifted: {row}: {package} is not installed (expected "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("repair: {row}: from install-bin-pkgs")),
        "{stdout}"
    );
    // The progress is the engine's reporter, live.
    assert!(
        progress.contains("node head / clusterfs: install-bin-pkgs passed"),
        "{progress}"
    );
    if agents {
        // Each node's agent installed the two client parts left after the
        // removal of motd, and the rows say so.
        for node in ["node1", "node2", "node3"] {
            assert!(
                stdout.contains(&format!("{node}: 2 client parts installed by its agent")),
                "{stdout}"
            );
            assert!(
                stdout.contains(&format!("  {node} / jobqueue: reached finished")),
                "{stdout}"
            );
        }
    }

    if agents {
        // The upgrade was a rollout, one node at a time: node2's planted
        // failure paused it before node3 started; after the fix, the retry
        // and the resume it went on, and the rollout is done.
        assert!(
            stdout.contains("$ opm upgrade motd --max-parallel 1 --max-failures 0"),
            "{stdout}"
        );
        assert!(
            stdout.contains("rollout of motd 1:3.2-1 paused: 1 of 3 nodes failed, the limit is 0"),
            "{stdout}"
        );
        assert!(
            stdout.contains("paused, 1 of 3 nodes finished, 1 waiting, 1 failed"),
            "{stdout}"
        );
        let resume = stdout.find("$ opm rollout resume").expect("no resume");
        let retry = stdout
            .find("$ opm retry motd --node node2")
            .expect("no retry");
        assert!(retry < resume, "{stdout}");
        assert!(
            stdout[resume..].contains("done, 3 of 3 nodes finished"),
            "{stdout}"
        );
        let audit = Command::new(env!("CARGO_BIN_EXE_opm"))
            .args(["history", "--audit"])
            .env(
                "OPM_DB",
                format!("sqlite:{}", demo_dir.join("opm.db").display()),
            )
            .output()
            .unwrap();
        let audit = String::from_utf8_lossy(&audit.stdout);
        assert!(audit.contains("rollout-resume"), "{audit}");
    }
    // A row on its way up says where it goes, not a bare stage name that
    // reads like an uninstall; the exit codes come with their meaning.
    if agents {
        assert!(
            stdout.contains(": at should_not_be_installed, requested finished"),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("(exit 0: every requested stage reached; 1: rows in error; 3:"),
        "{stdout}"
    );
    // The closing hint works as printed: its settings file names the
    // demo's database, opm.conf, root and repository.
    let hint = stdout
        .lines()
        .find_map(|line| line.strip_prefix("look around: OPM_SETTINGS="))
        .unwrap_or_else(|| panic!("no look-around hint in {stdout}"));
    let (settings, rest) = hint.split_once(' ').unwrap();
    let (binary, rest) = rest.split_once(' ').unwrap();
    assert!(rest.starts_with("status;"), "{hint}");
    let mut look = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OPM_") {
            look.env_remove(name);
        }
    }
    let looked = look
        .env("OPM_SETTINGS", settings)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(
        looked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&looked.stderr)
    );
    assert!(
        String::from_utf8_lossy(&looked.stdout).contains("clusterfs"),
        "{looked:?}"
    );

    // Every head-node row reached finished; motd was taken down again at
    // the end. The demo's database says so.
    let db = format!("sqlite:{}", demo_dir.join("opm.db").display());
    let status = Command::new(env!("CARGO_BIN_EXE_opm"))
        .args(["--json", "status"])
        .env("OPM_DB", &db)
        .env("OPM_CONF", demo_dir.join("opm.conf"))
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&status.stdout).unwrap();
    let current = |target: &str, package: &str| {
        rows.iter()
            .find(|r| r["target"] == target && r["package"] == package)
            .map(|r| r["current"].as_str().unwrap().to_owned())
    };
    for package in ["clusterfs", "jobqueue"] {
        assert_eq!(
            current("head", package).as_deref(),
            Some("finished"),
            "{rows:?}"
        );
    }
    assert_eq!(
        current("head", "motd").as_deref(),
        Some("should_not_be_installed"),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");
    // Once complete, a newer motd was imported and every row of it
    // upgraded (SPEC §1.9) before it was taken down.
    assert!(stdout.contains("$ opm upgrade motd"), "{stdout}");
    let history = Command::new(env!("CARGO_BIN_EXE_opm"))
        .args(["--json", "history", "motd"])
        .env("OPM_DB", &db)
        .env("OPM_CONF", demo_dir.join("opm.conf"))
        .output()
        .unwrap();
    let history: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).unwrap();
    let upgraded: Vec<&str> = history
        .iter()
        .filter(|e| e["note"] == "upgrade from 1:3.1-2 to 1:3.2-1")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(upgraded.contains(&"head"), "{history:#?}");
    if agents {
        for node in ["node1", "node2", "node3"] {
            assert!(upgraded.contains(&node), "{history:#?}");
        }
    }
    let image_skipped = stdout.contains("SKIPPED: image compute");
    let image_rows = rows.iter().filter(|r| r["kind"] == "image").count();
    assert_eq!(image_rows, if image_skipped { 0 } else { 3 }, "{rows:?}");
    if image_skipped {
        eprintln!("SKIPPED: the demo ran without its image (see its output)");
        return;
    }
    assert_eq!(
        current("compute", "jobqueue").as_deref(),
        Some("finished"),
        "{rows:?}"
    );
    // Every script run in the image was chrooted.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("image compute: "))
        .unwrap();
    let numbers: Vec<usize> = line
        .split(' ')
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert!(numbers[0] >= 4 && numbers[0] == numbers[1], "{line}");
}

#[test]
fn a_demo_directory_that_is_not_empty_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious"), "keep me").unwrap();
    let output = demo(&["--dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not empty"), "{stderr}");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious")).unwrap(),
        "keep me"
    );
}

#[test]
fn missing_example_opkgs_are_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let output = demo(&[
        "--dir",
        demo_dir.to_str().unwrap(),
        "--examples",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no example opkgs"), "{stderr}");
    assert!(stderr.contains("--examples DIR"), "{stderr}");
    assert!(!demo_dir.exists(), "nothing was created");
}

#[test]
fn another_user_than_root_is_told_what_to_do_and_nothing_is_created() {
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !root || !setpriv {
        eprintln!("SKIPPED: needs root and setpriv to run opm demo as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_opm"))
        .args(["demo", "--dir"])
        .arg(&demo_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("opm demo needs root (running as uid 65534)"),
        "{stderr}"
    );
    assert!(stderr.contains("run it as root"), "{stderr}");
    assert!(!demo_dir.exists());
}
