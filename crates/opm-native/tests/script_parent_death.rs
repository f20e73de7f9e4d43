//! A script never outlives the opm process that started it: a real parent
//! process runs a script (which forks a grandchild `sleep`), the parent is
//! killed with SIGKILL, and the script's whole process group must go.
//!
//! The parent is this test binary itself, re-run with an environment variable
//! that makes the same test play the parent instead of the checker.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Helpers outside #[test] functions set up fixed temp files and names;
// a failure there is a broken test machine, reported by the panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use opm_model::{Name, NameKind, Role, Stage, Target};
use opm_native::script::{ScriptContext, ScriptInvocation, ScriptRunner};

/// Set in the re-run parent: the package dir holding the script.
const PARENT_ROLE: &str = "OPM_TEST_SCRIPT_PARENT_DIR";

/// Generous upper bound for anything here to happen.
const PATIENCE: Duration = Duration::from_secs(30);

const TEST_NAME: &str = "script_group_dies_with_a_killed_parent";

/// `(pid, state, pgrp)` from `/proc/<pid>/stat`, if the process exists.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Live (non-zombie) processes whose group is `pgid`.
fn live_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(stat(pid), Some((state, group)) if group == pgid && state != 'Z'))
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The parent's part: run the script and block until killed.
fn be_the_parent(dir: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let context = ScriptContext {
        stage: Stage::RunScriptPostInstall,
        target: Target::node(Name::new(NameKind::Node, "head").unwrap()),
        role: Role::Server,
        attempt: 1,
        upgrade: None,
    };
    let invocation = ScriptInvocation::builder(dir, "api-post-deploy", context)
        .build()
        .unwrap();
    let outcome = runtime.block_on(ScriptRunner::default().run(&invocation));
    panic!("the parent was meant to be killed, but its script ended: {outcome:?}");
}

#[test]
fn script_group_dies_with_a_killed_parent() {
    if let Ok(dir) = std::env::var(PARENT_ROLE) {
        be_the_parent(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("api-post-deploy");
    std::fs::write(
        &script,
        "#!/bin/sh\nsleep 300 &\necho $! > child.tmp && mv child.tmp child.pid\n\
         echo $$ > script.tmp && mv script.tmp script.pid\nwait\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(PARENT_ROLE, dir.path())
        .spawn()
        .unwrap();
    let script_pid_file = dir.path().join("script.pid");
    wait_for("the script to start", || {
        script_pid_file.exists() || parent.try_wait().unwrap().is_some()
    });
    assert!(
        parent.try_wait().unwrap().is_none(),
        "the parent ended before its script started"
    );
    let script_pid = read_pid(&script_pid_file);
    let child_pid = read_pid(&dir.path().join("child.pid"));
    let (_, pgid) = stat(script_pid).unwrap();
    assert_eq!(stat(child_pid).unwrap().1, pgid, "grandchild in the group");
    assert_ne!(
        pgid, script_pid,
        "the group is led by the guard, not the script"
    );
    assert!(live_members(pgid).len() >= 3, "guard, script and sleep run");

    parent.kill().unwrap(); // SIGKILL: no destructor, no cleanup code runs.
    parent.wait().unwrap();

    wait_for("the script's process group to die", || {
        live_members(pgid).is_empty()
    });
}
