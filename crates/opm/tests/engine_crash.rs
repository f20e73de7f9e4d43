//! Crash safety of `opm run` (SPEC §1.3 rule 6): a real `opm run` is killed
//! with SIGKILL at pseudo-random moments, then run again. Afterwards every
//! row has converged, every script of every passed attempt ran start to end
//! exactly once, and history shows the interrupted attempts. Also: two real
//! `opm run` processes never work one target at the same time.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const HOOKS: [&str; 5] = [
    "api-pre-install",
    "api-post-configure",
    "server-post-install",
    "api-post-clientdef",
    "api-post-deploy",
];

fn opm() -> PathBuf {
    assert_cmd::cargo::cargo_bin("opm")
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An opkg source whose scripts append `start`/`end` lines (with the
/// attempt number) to `record` around a short sleep.
fn write_opkg(dir: &Path, name: &str, record: &Path) {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>crash test opkg {name}</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>opm</name><email>opm@example.invalid</email></author></authors>
  <changelog><versionEntry version="1.0-1"><changelogEntry authorName="opm" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry></versionEntry></changelog>
</oscar>
"#
        ),
    )
    .unwrap();
    for hook in HOOKS {
        let path = scripts.join(hook);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"start {name} {hook} $OPM_ATTEMPT\" >> {record}\nsleep 0.1\necho \"end {name} {hook} $OPM_ATTEMPT\" >> {record}\n",
                record = record.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(opm());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "OPM_DB",
                format!("sqlite:{}", self.path("db.sqlite").display()),
            )
            .env("OPM_CONF", self.path("opm.conf"))
            .env("OPM_ROOT", self.path("root"))
            .env("OPM_REPO", self.path("repo"))
            .env("OPM_BACKEND", "dpkg");
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "opm {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn new(packages: &[&str]) -> Cluster {
        let cluster = Cluster {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(cluster.path("root")).unwrap();
        std::fs::create_dir_all(cluster.path("repo")).unwrap();
        std::fs::write(cluster.path("opm.conf"), "server\nhead\n").unwrap();
        let record = cluster.path("record");
        let mut sources = Vec::new();
        for name in packages {
            let source = cluster.path(&format!("src-{name}"));
            write_opkg(&source, name, &record);
            sources.push(source.display().to_string());
        }
        let repo = cluster.path("repo").display().to_string();
        let mut pack = vec!["pack", "--format", "deb", "-o", &repo];
        pack.extend(sources.iter().map(String::as_str));
        cluster.ok(&pack);
        cluster.ok(&["init"]);
        let mut import = vec!["opkg", "import"];
        import.extend(sources.iter().map(String::as_str));
        cluster.ok(&import);
        let mut install = vec!["install"];
        install.extend(packages);
        cluster.ok(&install);
        cluster.ok(&["cluster", "phase", "complete"]);
        cluster
    }

    fn json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut all = vec!["--json"];
        all.extend(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

/// A small deterministic generator (no clock, no OS randomness).
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

fn check_converged(cluster: &Cluster, packages: &[&str]) {
    let rows = cluster.json(&["status"]);
    assert_eq!(rows.len(), packages.len());
    for row in &rows {
        assert_eq!(row["current"], "finished", "{row}");
        assert_eq!(row["status"], "ok", "{row}");
    }
}

/// The number of the attempt `hook` ran in for attempt `id` of a stage
/// numbered `number`: its own, or that of the attempt it was carried from
/// when the stage resumed after the hook had passed (SPEC §1.1).
fn ran_in(
    cluster: &Cluster,
    id: i64,
    number: u32,
    hook: &str,
    numbers: &BTreeMap<i64, u32>,
) -> u32 {
    let attempt = id.to_string();
    let logs: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["--json", "logs", "--attempt", &attempt])).unwrap();
    let action = format!("run {hook}");
    let step = logs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["action"] == action.as_str())
        .unwrap_or_else(|| panic!("attempt {id} has no step {action}: {logs}"));
    match step["result"].as_str().unwrap() {
        "passed" => number,
        "carried" => numbers[&step["passed_in"].as_i64().unwrap()],
        other => panic!("step {action} of passed attempt {id} is {other}"),
    }
}

/// For each passed attempt, its scripts ran start to end exactly once.
fn check_record(cluster: &Cluster) -> usize {
    let record = std::fs::read_to_string(cluster.path("record")).unwrap_or_default();
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for line in record.lines() {
        *lines.entry(line.to_owned()).or_default() += 1;
    }
    let history = cluster.json(&["history"]);
    let mut attempts: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut numbers: BTreeMap<i64, u32> = BTreeMap::new();
    let mut interrupted = 0;
    for entry in &history {
        if entry["event"] != "attempt" {
            continue;
        }
        let key = (
            entry["package"].as_str().unwrap().to_owned(),
            entry["stage"].as_str().unwrap().to_owned(),
        );
        let number = attempts.entry(key.clone()).or_default();
        *number += 1;
        let id = entry["id"].as_i64().unwrap();
        numbers.insert(id, *number);
        match entry["result"].as_str().unwrap() {
            "interrupted" => interrupted += 1,
            "passed" => {
                let hook = match key.1.as_str() {
                    "should_be_installed" => "api-pre-install",
                    "run-configurator" => "api-post-configure",
                    "install-bin-pkgs" => "server-post-install",
                    "run-script-post-clients" => "api-post-clientdef",
                    "run-script-post-install" => "api-post-deploy",
                    _ => continue,
                };
                let number = ran_in(cluster, id, *number, hook, &numbers);
                for edge in ["start", "end"] {
                    let line = format!("{edge} {} {hook} {number}", key.0);
                    assert_eq!(
                        lines.get(&line).copied(),
                        Some(1),
                        "{line:?} in the record:\n{record}"
                    );
                }
            }
            other => panic!("unexpected attempt result {other}: {entry}"),
        }
    }
    interrupted
}

#[test]
fn killed_runs_resume_and_nothing_is_lost_or_done_twice() {
    if !have("dpkg") {
        eprintln!("SKIPPED: dpkg not installed");
        return;
    }
    let packages = ["crasha", "crashb"];
    let mut seed = 0x5eed_u64;
    let mut interrupted_total = 0;
    for iteration in 0..20 {
        let cluster = Cluster::new(&packages);
        let mut child = cluster
            .command()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = 100 + next(&mut seed) % 1_400;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        // A second kill of the resumed run now and then.
        if iteration % 4 == 1 {
            let mut again = cluster
                .command()
                .arg("run")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(100 + next(&mut seed) % 500));
            again.kill().unwrap();
            again.wait().unwrap();
        }
        let out = cluster.command().arg("run").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "iteration {iteration} (killed after {delay} ms): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check_converged(&cluster, &packages);
        interrupted_total += check_record(&cluster);
    }
    assert!(
        interrupted_total > 0,
        "no kill ever hit a running stage; the test proves nothing"
    );
}

#[test]
fn a_second_run_never_works_the_same_target_at_once() {
    if !have("dpkg") {
        eprintln!("SKIPPED: dpkg not installed");
        return;
    }
    let packages = ["twina"];
    let cluster = Cluster::new(&packages);
    let first = cluster
        .command()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Waits at most 0 s for the lease: says who works the target.
    let second = cluster
        .command()
        .args(["run", "--wait", "0"])
        .output()
        .unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("node head is being worked by ") && stdout.contains(" until "),
        "{stdout}"
    );
    // A run that waits long enough finds nothing left to do.
    check_converged(&cluster, &packages);
    let record = std::fs::read_to_string(cluster.path("record")).unwrap();
    // No overlap: every start is followed by its own end.
    let lines: Vec<&str> = record.lines().collect();
    for pair in lines.chunks(2) {
        assert!(
            pair[0].starts_with("start ") && pair[1].starts_with("end "),
            "{record}"
        );
        assert_eq!(pair[0][6..], pair[1][4..], "{record}");
    }
}
