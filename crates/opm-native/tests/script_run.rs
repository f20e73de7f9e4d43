//! The script runner against real child processes: `/bin/sh` scripts written
//! into temp dirs, run, timed out, flooded, forked, and failed on purpose.

// Helpers outside #[test] functions set up fixed temp files and names;
// a failure there is a broken test machine, reported by the panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_model::{Name, NameKind, Role, Stage, Target};
use opm_native::script::{
    ExitStatusKind, GroupCleanup, RunnerConfig, ScriptContext, ScriptError, ScriptInvocation,
    ScriptRunner, SiteEnv,
};

/// Generous: only a hung runner ever gets near it.
const PATIENCE: Duration = Duration::from_secs(60);

fn context() -> ScriptContext {
    ScriptContext {
        stage: Stage::InstallBinPkgs,
        target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
        role: Role::Client,
        attempt: 3,
        upgrade: None,
    }
}

fn runner() -> ScriptRunner {
    ScriptRunner::new(RunnerConfig {
        kill_grace: Duration::from_millis(500),
        ..RunnerConfig::default()
    })
}

/// Writes `body` as an executable script `name` into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn invocation(dir: &Path, name: &str) -> ScriptInvocation {
    ScriptInvocation::builder(dir, name, context())
        .build()
        .unwrap()
}

async fn run(
    invocation: &ScriptInvocation,
) -> Result<opm_native::script::ScriptOutcome, ScriptError> {
    tokio::time::timeout(PATIENCE, runner().run(invocation))
        .await
        .expect("the runner itself hung")
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// True once `pid` no longer runs (gone, or a zombie waiting for its reaper).
fn is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let after_name = &stat[stat.rfind(')').unwrap() + 1..];
            after_name.trim_start().starts_with('Z')
        }
    }
}

/// Waits (generously) for `pid` to be gone; false if it never went.
async fn gone_soon(pid: i32) -> bool {
    for _ in 0..200 {
        if is_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn script_sees_the_contract_and_nothing_of_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "api-post-image",
        "#!/bin/sh\necho \"cwd=$(pwd)\"\necho \"argc=$# arg1=$1\"\nenv\n",
    );
    let config = BTreeMap::from([
        ("nfs_server".to_owned(), "10.0.0.1".to_owned()),
        ("mode-x".to_owned(), "fast".to_owned()),
    ]);
    let invocation = ScriptInvocation::builder(dir.path(), "api-post-image", context())
        .config(config)
        .arg("/images/one two")
        .build()
        .unwrap();
    let outcome = run(&invocation).await.unwrap().into_result().unwrap();
    let stdout = String::from_utf8(outcome.output.stdout.head().to_vec()).unwrap();
    let dir_text = dir.path().to_str().unwrap();

    assert!(stdout.contains(&format!("cwd={dir_text}\n")), "{stdout}");
    assert!(stdout.contains("argc=1 arg1=/images/one two\n"), "{stdout}");
    for line in [
        format!("OSCAR_PACKAGE_HOME={dir_text}"),
        "OPM_STAGE=install-bin-pkgs".to_owned(),
        "OPM_TARGET=n1".to_owned(),
        "OPM_TARGET_KIND=node".to_owned(),
        "OPM_ROLE=client".to_owned(),
        "OPM_ATTEMPT=3".to_owned(),
        "OPM_CONFIG_NFS_SERVER=10.0.0.1".to_owned(),
        "nfs_server=10.0.0.1".to_owned(),
        "OPM_CONFIG_MODE_X=fast".to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line}:\n{stdout}"
        );
    }
    // Nothing of the test process's own environment (cargo sets plenty) leaks in,
    // besides what the shell itself sets.
    let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"];
    for line in stdout.lines().skip(2) {
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        assert!(
            invocation.env.contains_key(name) || shell_own.contains(&name),
            "unexpected variable {name} in the script's environment"
        );
    }
    assert_eq!(outcome.exit, ExitStatusKind::Code(0));
    assert_eq!(outcome.cleanup, GroupCleanup::Empty);
}

#[tokio::test]
async fn site_variables_reach_the_script_and_the_rest_stays_cleared() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "api-post-install",
        "#!/bin/sh\nenv\nperl -e 'print \"perl=$ENV{OSCAR_HOME}\\n\"'\n",
    );
    // What opm's own environment holds: one variable the site passes
    // through, one it does not (a secret of the caller).
    let opm_env = |name: &str| match name {
        "PERL5LIB" => Some("/opt/oscar/lib/perl".into()),
        "OPM_TOKEN" => Some("s3cret".into()),
        _ => None,
    };
    let site = SiteEnv::new(
        &BTreeMap::from([
            ("OSCAR_HOME".to_owned(), "/opt/oscar".to_owned()),
            ("OSCAR_VERBOSE".to_owned(), "5".to_owned()),
        ]),
        &["PERL5LIB".to_owned(), "OSCAR_UI".to_owned()],
        opm_env,
    )
    .unwrap();
    let invocation = ScriptInvocation::builder(dir.path(), "api-post-install", context())
        .site_env(site)
        .build()
        .unwrap();
    let outcome = run(&invocation).await.unwrap().into_result().unwrap();
    let stdout = outcome.output.stdout.to_text();
    for line in [
        "OSCAR_HOME=/opt/oscar",
        "OSCAR_VERBOSE=5",
        "PERL5LIB=/opt/oscar/lib/perl",
        "perl=/opt/oscar",
        "OPM_STAGE=install-bin-pkgs",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line}:\n{stdout}"
        );
    }
    for absent in ["OSCAR_UI=", "OPM_TOKEN=", "CARGO"] {
        assert!(
            !stdout.lines().any(|l| l.starts_with(absent)),
            "{absent} leaked:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn failing_script_reports_its_code_and_the_tail_of_its_output() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "api-post-install",
        "#!/bin/sh\necho starting\necho 'cannot reach 10.0.0.1' >&2\nexit 7\n",
    );
    let outcome = run(&invocation(dir.path(), "api-post-install"))
        .await
        .unwrap();
    assert_eq!(outcome.exit, ExitStatusKind::Code(7));
    assert!(!outcome.is_success());
    let message = outcome.into_result().unwrap_err().to_string();
    let path = dir.path().join("api-post-install");
    assert!(
        message.starts_with(&format!(
            "script {} failed with exit code 7 after ",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("last stderr:\ncannot reach 10.0.0.1\nlast stdout:\nstarting"),
        "{message}"
    );
}

#[tokio::test]
async fn script_killed_by_a_signal_says_which() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "crash", "#!/bin/sh\nkill -s KILL $$\n");
    let outcome = run(&invocation(dir.path(), "crash")).await.unwrap();
    assert_eq!(outcome.exit, ExitStatusKind::Signal(9));
    let message = outcome.failure_message();
    assert!(
        message.contains("was killed by signal 9 (SIGKILL)"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_script_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let error = run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert!(matches!(error, ScriptError::NotFound { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "script {} does not exist; check that the opkg's package is installed",
            dir.path().join("api-pre-install").display()
        )
    );
}

#[tokio::test]
async fn missing_package_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let error = run(&invocation(&gone, "api-pre-install"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScriptError::PackageDirMissing { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn non_executable_script_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "api-pre-install", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "script {0} is not executable; fix it with chmod +x {0}",
            path.display()
        )
    );
}

#[tokio::test]
async fn directory_in_place_of_a_script_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("api-pre-install")).unwrap();
    let error = run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert!(matches!(error, ScriptError::NotAFile { .. }), "{error}");
}

#[tokio::test]
async fn bad_shebang_interpreter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "api-pre-install",
        "#!/no/such/interpreter -x\nexit 0\n",
    );
    let error = run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "script {} names interpreter /no/such/interpreter on its #! line, which does not exist; install it or fix the #! line",
            path.display()
        )
    );
}

#[tokio::test]
async fn hanging_script_times_out_and_its_whole_group_dies() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "hang",
        "#!/bin/sh\nsleep 300 &\necho $! > child.pid\necho $$ > script.pid\nwait\n",
    );
    let invocation = ScriptInvocation::builder(dir.path(), "hang", context())
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let outcome = run(&invocation).await.unwrap();
    assert_eq!(
        outcome.exit,
        ExitStatusKind::TimedOut(Duration::from_secs(1))
    );
    assert_eq!(outcome.duration, Duration::from_secs(1));
    assert_ne!(outcome.cleanup, GroupCleanup::Empty);
    assert!(gone_soon(read_pid(&dir.path().join("script.pid"))).await);
    assert!(gone_soon(read_pid(&dir.path().join("child.pid"))).await);
    let message = outcome.into_result().unwrap_err().to_string();
    assert!(
        message.contains("timed out after 1.0s and its process group was killed"),
        "{message}"
    );
}

#[tokio::test]
async fn script_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "stubborn",
        "#!/bin/sh\ntrap '' TERM\necho $$ > script.pid\nwhile :; do sleep 1; done\n",
    );
    let invocation = ScriptInvocation::builder(dir.path(), "stubborn", context())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let outcome = run(&invocation).await.unwrap();
    assert!(matches!(outcome.exit, ExitStatusKind::TimedOut(_)));
    assert_eq!(outcome.cleanup, GroupCleanup::Killed);
    assert!(gone_soon(read_pid(&dir.path().join("script.pid"))).await);
}

#[tokio::test]
async fn huge_output_is_capped_at_both_ends_without_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "flood",
        "#!/bin/sh\necho first\nhead -c 30000000 /dev/zero\necho last\nhead -c 20000000 /dev/zero >&2\necho err-last >&2\n",
    );
    let outcome = run(&invocation(dir.path(), "flood"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let limit = RunnerConfig::default().capture_limit;
    let stdout = &outcome.output.stdout;
    assert_eq!(stdout.total_bytes(), 30_000_000 + 6 + 5);
    assert_eq!(stdout.head().len(), limit);
    assert_eq!(stdout.tail().len(), limit);
    assert!(stdout.head().starts_with(b"first\n"));
    assert!(stdout.tail().ends_with(b"\0\0last\n"));
    assert_eq!(stdout.dropped_bytes(), 30_000_011 - 2 * limit as u64);
    let stderr = &outcome.output.stderr;
    assert_eq!(stderr.total_bytes(), 20_000_000 + 9);
    assert!(stderr.tail().ends_with(b"err-last\n"));
    assert!(stdout.to_text().contains("bytes dropped]"));
}

#[tokio::test]
async fn two_flooded_streams_keep_each_ones_head_and_tail_and_say_what_was_left_out() {
    let dir = tempfile::tempdir().unwrap();
    // 2 MiB to each stream, each framed by lines that must survive.
    script(
        dir.path(),
        "both",
        "#!/bin/sh\necho out-first\nhead -c 2097152 /dev/zero | tr '\\0' o\necho\necho out-last\n\
         echo err-first >&2\nhead -c 2097152 /dev/zero | tr '\\0' e >&2\necho >&2\necho err-last >&2\n",
    );
    let outcome = run(&invocation(dir.path(), "both"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let written = 2 * (2_097_152 + 10 + 1 + 9);
    assert_eq!(outcome.output.total_bytes(), written);
    let max = 60 * 1024;
    let text = outcome.output.to_text(max);
    assert!(text.starts_with("out-first\n"), "{}", &text[..40]);
    for line in ["\nout-last\n", "\nerr-first\n"] {
        assert!(text.contains(line), "{line:?} missing");
    }
    assert!(text.ends_with("\nerr-last\n"));
    // Each stream kept half of `max`, and its marker counts the rest.
    let half = (max / 2) as u64;
    let per_stream = written / 2;
    for name in ["stdout", "stderr"] {
        let marker = format!(
            "[opm: {} bytes of {name} left out of {per_stream} written]",
            per_stream - half
        );
        assert!(text.contains(&marker), "{marker} missing");
    }
    assert!(text.len() <= max + 200, "{}", text.len());
    // What fits is kept whole, without a marker.
    script(dir.path(), "small", "#!/bin/sh\necho out\necho err >&2\n");
    let small = run(&invocation(dir.path(), "small")).await.unwrap();
    assert_eq!(small.output.to_text(max), "out\nerr\n");
}

#[tokio::test]
async fn background_child_holding_stdout_does_not_hang_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "forker",
        "#!/bin/sh\nsleep 300 &\necho $! > child.pid\necho done\nexit 0\n",
    );
    let outcome = run(&invocation(dir.path(), "forker")).await.unwrap();
    assert_eq!(outcome.exit, ExitStatusKind::Code(0));
    assert_eq!(outcome.cleanup, GroupCleanup::Terminated);
    assert_eq!(outcome.output.stdout.head(), b"done\n");
    assert!(!outcome.output.stdout.is_unfinished());
    assert!(gone_soon(read_pid(&dir.path().join("child.pid"))).await);
}

#[tokio::test]
async fn child_escaping_the_group_with_the_pipe_open_does_not_hang_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "daemonize",
        // daemon.pid appears only once the daemon has left the group.
        "#!/bin/sh\nsetsid sh -c 'echo $$ > daemon.pid; exec sleep 300' &\n\
         while [ ! -s daemon.pid ]; do sleep 0.05; done\necho started\n",
    );
    let outcome = run(&invocation(dir.path(), "daemonize")).await.unwrap();
    let daemon = read_pid(&dir.path().join("daemon.pid"));
    // It left the group on purpose, so the runner must not have killed it;
    // this test started it and ends it.
    let escaped_alive = !is_gone(daemon);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(escaped_alive);
    assert_eq!(outcome.exit, ExitStatusKind::Code(0));
    assert!(outcome.output.stdout.is_unfinished());
    assert!(
        outcome
            .output
            .stdout
            .to_text()
            .starts_with("started\n[opm: stopped reading")
    );
}

#[tokio::test]
async fn abandoning_a_run_kills_its_group() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "slow",
        "#!/bin/sh\nsleep 300 &\necho $! > child.pid\necho $$ > script.pid\nwait\n",
    );
    let invocation = invocation(dir.path(), "slow");
    let runner = runner();
    let pid_file = dir.path().join("child.pid");
    let abandoned = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            _ = runner.run(&invocation) => panic!("a 300 s script finished"),
            () = async {
                while !dir.path().join("script.pid").exists() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } => {}
        }
    })
    .await;
    assert!(abandoned.is_ok(), "the script never started");
    assert!(gone_soon(read_pid(&pid_file)).await);
    assert!(gone_soon(read_pid(&dir.path().join("script.pid"))).await);
}

#[tokio::test]
async fn script_without_a_shebang_line_says_to_add_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "api-pre-install", "echo no interpreter named\n");
    let error = run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "script {} has no #! line and is not a binary; add a first line such as #!/bin/sh",
            path.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_runs_keep_their_own_environment_and_group() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "who",
        // Field 5 of /proc/<pid>/stat is the process group.
        "#!/bin/sh\nsleep 0.2\nread -r stat < /proc/$$/stat\nset -- $stat\necho \"$OPM_TARGET $5\"\n",
    );
    let runner = runner();
    let mut runs = tokio::task::JoinSet::new();
    for index in 0..6 {
        let context = ScriptContext {
            target: Target::node(Name::new(NameKind::Node, &format!("n{index}")).unwrap()),
            ..context()
        };
        let invocation = ScriptInvocation::builder(dir.path(), "who", context)
            .build()
            .unwrap();
        let runner = runner.clone();
        runs.spawn(async move { (index, runner.run(&invocation).await) });
    }
    let mut groups = std::collections::BTreeSet::new();
    while let Some(joined) = runs.join_next().await {
        let (index, result) = joined.unwrap();
        let outcome = result.unwrap().into_result().unwrap();
        let text = outcome.output.stdout.to_text();
        let (target, group) = text.trim().split_once(' ').unwrap();
        assert_eq!(target, format!("n{index}"));
        groups.insert(group.trim().to_owned());
    }
    assert_eq!(
        groups.len(),
        6,
        "each run has its own process group: {groups:?}"
    );
}

#[tokio::test]
async fn missing_guard_shell_is_named() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "api-pre-install", "#!/bin/sh\nexit 0\n");
    let runner = ScriptRunner::new(RunnerConfig {
        shell: PathBuf::from("/no/such/sh"),
        ..RunnerConfig::default()
    });
    let error = runner
        .run(&invocation(dir.path(), "api-pre-install"))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("could not start the process-group guard /no/such/sh: "),
        "{error}"
    );
}

/// The process group a script of `dir` reported on its stdout.
async fn group_of_run(runner: &ScriptRunner, dir: &Path, name: &str) -> (String, GroupCleanup) {
    let outcome = tokio::time::timeout(PATIENCE, runner.run(&invocation(dir, name)))
        .await
        .expect("the runner itself hung")
        .unwrap();
    assert!(outcome.is_success(), "{}", outcome.failure_message());
    let stdout = String::from_utf8(outcome.output.stdout.head().to_vec()).unwrap();
    (stdout.trim().to_owned(), outcome.cleanup)
}

#[tokio::test]
async fn a_group_left_empty_takes_the_next_script_and_a_dirty_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    // Field 5 of /proc/self/stat is the process group (the shell's own).
    let report = "read -r _pid _comm _state _ppid pgrp _rest < /proc/self/stat\necho \"$pgrp\"\n";
    script(dir.path(), "clean", &format!("#!/bin/sh\n{report}"));
    script(
        dir.path(),
        "dirty",
        &format!("#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\n{report}"),
    );
    let runner = runner();
    let (first, cleanup) = group_of_run(&runner, dir.path(), "clean").await;
    assert_eq!(cleanup, GroupCleanup::Empty);
    let (second, _) = group_of_run(&runner, dir.path(), "clean").await;
    assert_eq!(first, second, "an empty group's guard is used again");
    // A script that leaves a process behind: cleaned up, and its group
    // is not handed to anyone else.
    let (dirty, cleanup) = group_of_run(&runner, dir.path(), "dirty").await;
    assert_eq!(dirty, first);
    assert_eq!(cleanup, GroupCleanup::Terminated);
    let (after, _) = group_of_run(&runner, dir.path(), "clean").await;
    assert_ne!(after, dirty, "a group that needed cleaning is not reused");
}
