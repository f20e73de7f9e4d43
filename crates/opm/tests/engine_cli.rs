//! `opm run` and `opm plan` through the binary: bad input exits 2 and says
//! what to fix, `opm plan` writes nothing, a failing script puts its row in
//! error with the script, exit code and output tail (exit 1), a gate
//! left closed exits 3, and script stages of one target overlap only when
//! the settings file or `--side-by-side` asks for it.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use opm_testkit::overlap;
use opm_testkit::tools::{have_tool, output_text};

use opm_testkit::TestContext;
use opm_testkit::source::opkg_source;

/// Whether perl can load XML::Simple, OSCAR's reader of `.configurator.values`.
fn have_xml_simple() -> bool {
    Command::new("perl")
        .args(["-MXML::Simple", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A site with one opkg `failing` (see [`Cluster::new`]) asked for.
struct Cluster(TestContext);

impl std::ops::Deref for Cluster {
    type Target = TestContext;

    fn deref(&self) -> &TestContext {
        &self.0
    }
}

impl Cluster {
    fn run(&self, args: &[&str]) -> Output {
        self.run_env(&[], args)
    }

    /// `opm ARGS` with these variables in opm's own environment too.
    fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.command()
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    }

    /// `opm ARGS` with the settings file `settings` (OPM_SETTINGS).
    fn run_with(&self, settings: &Path, args: &[&str]) -> Output {
        let mut all = vec!["--settings", settings.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Packs `src` again, alone in the repository: after a test changed
    /// its scripts, the next run installs the changed package.
    fn repack(&self) {
        let repo = self.path("repo");
        for entry in std::fs::read_dir(&repo).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let src = self.path("src");
        self.ok(&[
            "pack",
            "--format",
            "deb",
            "-o",
            repo.to_str().unwrap(),
            src.to_str().unwrap(),
        ]);
    }

    /// One opkg `failing`, its source in `src`, whose api-post-configure
    /// fails with exit 7: packed, imported and asked for, the phase not
    /// yet complete.
    fn new() -> Cluster {
        let cluster = Cluster(TestContext::new(assert_cmd::cargo::cargo_bin("opm")));
        opkg_source(
            &cluster.path("src"),
            "failing",
            "an opkg whose configure script fails",
            &[(
                "api-post-configure",
                "echo configuring\necho 'no disk left' >&2\nexit 7".to_owned(),
            )],
        );
        let repo = cluster.path("repo").display().to_string();
        let src = cluster.path("src").display().to_string();
        cluster.ok(&["pack", "--format", "deb", "-o", &repo, &src]);
        cluster.ok(&["init"]);
        cluster.ok(&["opkg", "import", &src]);
        cluster.ok(&["install", "failing"]);
        cluster
    }
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn bad_input_exits_2_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.conf");
    let out = Command::new(assert_cmd::cargo::cargo_bin("opm"))
        .env_clear()
        .env("OPM_CONF", &missing)
        .env(
            "OPM_DB",
            format!("sqlite:{}", dir.path().join("db").display()),
        )
        .env("OPM_BACKEND", "dpkg")
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope.conf") && stderr.contains("--conf"),
        "{stderr}"
    );
    let out = Command::new(assert_cmd::cargo::cargo_bin("opm"))
        .args(["run", "--jobs", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
}

#[test]
fn gates_block_plan_writes_nothing_and_a_failing_script_is_a_row_error() {
    if !have_tool("dpkg") {
        return;
    }
    let cluster = Cluster::new();
    // The phase stays setup_wizard: stages 2 and 3 may run, 4 may not.
    let before = file_bytes(&cluster.path("opm.db"));
    let plan = cluster.ok(&["plan"]);
    assert!(
        plan.contains("node head / failing: perform should_be_installed"),
        "{plan}"
    );
    let json: serde_json::Value = serde_json::from_str(&cluster.ok(&["--json", "plan"])).unwrap();
    assert_eq!(json[0]["decision"]["decision"], "perform", "{json}");
    assert_eq!(
        file_bytes(&cluster.path("opm.db")),
        before,
        "opm plan wrote"
    );

    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("api-post-configure") && stdout.contains("exit code 7"),
        "{stdout}"
    );
    // `opm status` itself exits 1 while a row is in error.
    let status: serde_json::Value =
        serde_json::from_slice(&cluster.run(&["--json", "status"]).stdout).unwrap();
    assert_eq!(status[0]["status"], "error");
    assert_eq!(status[0]["current"], "should_be_installed");
    let message = status[0]["message"].as_str().unwrap();
    assert!(message.contains("no disk left"), "{message}");
    // The error row is left alone by the next run, which still says so.
    let again = cluster.run(&["run"]);
    assert_eq!(again.status.code(), Some(1), "{}", output_text(&again));

    // After retry, with the script fixed, the gate of install-bin-pkgs
    // (build_image) holds the row back: exit 3 with the gate named.
    let script = cluster.path("head/usr/lib/oscar/packages/failing/api-post-configure");
    std::fs::write(&script, "#!/bin/sh\necho fixed\n").unwrap();
    cluster.ok(&["retry", "failing", "--node", "head"]);
    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("gate build_image"), "{stdout}");
    let values = cluster.path("head/usr/lib/oscar/packages/failing/.configurator.values");
    assert!(values.exists());
}

#[test]
fn a_busy_package_manager_is_transient_never_a_row_error() {
    if !have_tool("dpkg") || !have_tool("flock") {
        return;
    }
    let cluster = Cluster::new();
    let lock = cluster.path("head/var/lib/opm/root.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let ready = cluster.path("locked");
    let mut holder = Command::new("flock")
        .arg(&lock)
        .arg("-c")
        .arg(format!("touch {} && sleep 3", ready.display()))
        .spawn()
        .unwrap();
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = cluster.run(&["run", "--wait", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("is busy"), "{stdout}");
    let status: serde_json::Value =
        serde_json::from_slice(&cluster.run(&["--json", "status"]).stdout).unwrap();
    assert_eq!(status[0]["status"], "ok", "{status}");
    assert_eq!(status[0]["current"], "should_not_be_installed", "{status}");
    holder.wait().unwrap();
    // Once the lock is free the stage runs (and the configure script's
    // own failure is a row error, as before).
    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let status: serde_json::Value =
        serde_json::from_slice(&cluster.run(&["--json", "status"]).stdout).unwrap();
    assert_eq!(status[0]["current"], "should_be_installed", "{status}");
}

#[test]
fn configuration_values_are_settled_once_and_reach_later_scripts() {
    if !have_tool("dpkg") {
        return;
    }
    if !have_xml_simple() {
        eprintln!("SKIPPED: perl's XML::Simple not installed (see .ci/run for the apt line)");
        return;
    }
    let cluster = Cluster::new();
    // Replace the failing opkg's scripts: configure succeeds, deploy
    // records what it sees; the form has two defaults, one overridden.
    let src = cluster.path("src");
    std::fs::write(
        src.join("configurator.html"),
        "<html><form><input name=server value=10.0.0.1><select name=mode>\
         <option>slow<option selected>fast</select></form>",
    )
    .unwrap();
    let seen = cluster.path("seen");
    for (hook, body) in [
        ("api-post-configure", "exit 0".to_owned()),
        (
            "api-post-deploy",
            format!(
                "printf '%s|%s|%s|' \"$OPM_CONFIG_SERVER\" \"$mode\" \"$(stat -c %a .configurator.values)\" > {seen}\n\
                 perl -MXML::Simple -e '$v = XMLin(\".configurator.values\", suppressempty => \"\", forcearray => 1); \
                 print join(\"|\", map {{ \"$_=@{{$v->{{$_}}}}\" }} sort keys %$v)' >> {seen}",
                seen = seen.display()
            ),
        ),
    ] {
        let path = src.join("scripts").join(hook);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    cluster.repack();
    cluster.ok(&["config", "set", "failing", "server=head.cluster"]);
    cluster.ok(&["cluster", "phase", "complete"]);
    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "head.cluster|fast|600|mode=fast|server=head.cluster"
    );
}

#[test]
fn scripts_get_the_sites_variables_and_nothing_else_of_opms_environment() {
    if !have_tool("dpkg") {
        return;
    }
    let cluster = Cluster::new();
    // The opkg's configure script records its whole environment.
    let seen = cluster.path("seen");
    let src = cluster.path("src");
    std::fs::write(
        src.join("scripts/api-post-configure"),
        format!("#!/bin/sh\nenv > {}\n", seen.display()),
    )
    .unwrap();
    cluster.repack();
    cluster.ok(&["cluster", "phase", "complete"]);
    let settings = cluster.path("opm.toml");
    std::fs::write(
        &settings,
        "script_env_pass = [\"PERL5LIB\"]\n\n[script_env]\nOSCAR_HOME = \"/opt/oscar\"\nOSCAR_VERBOSE = \"1\"\n",
    )
    .unwrap();
    let out = cluster.run_env(
        &[("PERL5LIB", "/opt/oscar/lib"), ("SITE_SECRET", "s3cret")],
        &[
            "--settings",
            settings.to_str().unwrap(),
            "--script-env",
            "OSCAR_VERBOSE=5",
            "--script-env",
            "OSCAR_UI=cli",
            "run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let env = std::fs::read_to_string(&seen).unwrap();
    for line in [
        "OSCAR_HOME=/opt/oscar",
        "OSCAR_VERBOSE=5",
        "OSCAR_UI=cli",
        "PERL5LIB=/opt/oscar/lib",
        "OPM_TARGET=head",
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line}:\n{env}");
    }
    for absent in ["SITE_SECRET", "OPM_DB", "OPM_CONF", "OPM_BACKEND"] {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{absent}="))),
            "{absent} leaked:\n{env}"
        );
    }
}

#[test]
fn removal_takes_the_package_dir_along_with_the_values_opm_wrote() {
    if !have_tool("dpkg") {
        return;
    }
    let cluster = Cluster::new();
    let src = cluster.path("src");
    std::fs::write(
        src.join("configurator.html"),
        "<form><input name=server value=10.0.0.1></form>",
    )
    .unwrap();
    std::fs::write(
        src.join("scripts/api-post-configure"),
        "#!/bin/sh\nexit 0\n",
    )
    .unwrap();
    cluster.repack();
    cluster.ok(&["cluster", "phase", "complete"]);
    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let dir = cluster.path("head/usr/lib/oscar/packages/failing");
    assert!(dir.join(".configurator.values").is_file());

    cluster.ok(&["remove", "failing"]);
    let out = cluster.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(!dir.exists(), "{} is left behind", dir.display());
    let listed = Command::new("dpkg")
        .arg(format!("--root={}", cluster.root().display()))
        .args(["-l", "opkg-failing*"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        !listed.lines().any(|l| l.starts_with("ii")),
        "still installed:\n{listed}"
    );
}

#[test]
fn the_head_nodes_plan_covers_every_row_of_the_cluster() {
    let cluster = Cluster(TestContext::new(assert_cmd::cargo::cargo_bin("opm")));
    cluster.ok(&["init"]);
    let empty: serde_json::Value = serde_json::from_str(&cluster.ok(&["--json", "plan"])).unwrap();
    assert_eq!(empty, serde_json::json!([]));
    cluster.ok(&[
        "bench", "populate", "--nodes", "3", "--opkgs", "2", "--behind",
    ]);
    // Streamed one row per line, and still one JSON document.
    let json: serde_json::Value = serde_json::from_str(&cluster.ok(&["--json", "plan"])).unwrap();
    let lines = json.as_array().unwrap();
    let mut targets: Vec<String> = lines
        .iter()
        .map(|line| line["target"].as_str().unwrap().to_owned())
        .collect();
    targets.dedup();
    // The head node's two rows and each node's two, which agents do.
    assert_eq!(lines.len(), 8, "{json}");
    assert_eq!(
        targets,
        ["head", "bench-n1", "bench-n2", "bench-n3"],
        "{json}"
    );
    assert!(
        lines
            .iter()
            .all(|line| line["decision"]["stage"] == "finished"),
        "{json}"
    );
    let text = cluster.ok(&["plan"]);
    assert!(
        text.contains("node bench-n2 / bench-p1: perform finished"),
        "{text}"
    );
}

/// Writes `body` as `opkg`'s api-post-deploy in the cluster's root.
fn deploy_script(cluster: &Cluster, opkg: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = cluster.path("head/usr/lib/oscar/packages").join(opkg);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("api-post-deploy");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_settings_file_and_the_flag_let_script_stages_run_side_by_side() {
    let cluster = Cluster(TestContext::new(assert_cmd::cargo::cargo_bin("opm")));
    cluster.ok(&["init"]);
    // Two unrelated opkgs on the head node, each one stage (api-post-deploy)
    // short of what is requested, as in benchmark B3.
    cluster.ok(&[
        "bench",
        "populate",
        "--nodes",
        "0",
        "--opkgs",
        "2",
        "--stage",
        "run-script-post-install",
        "--behind",
    ]);
    let pair = [("bench-p1", "bench-p2"), ("bench-p2", "bench-p1")];
    let on = cluster.path("on.toml");
    std::fs::write(&on, "side_by_side_scripts = true\n").unwrap();
    let none = cluster.path("none.toml");
    std::fs::write(&none, "").unwrap();
    let settings: serde_json::Value =
        serde_json::from_slice(&cluster.run_with(&on, &["--json", "settings"]).stdout).unwrap();
    assert_eq!(settings["side_by_side_scripts"], true, "{settings}");

    // The file asks for it: scripts that wait for each other both pass.
    let sync = cluster.path("sync-file");
    std::fs::create_dir_all(&sync).unwrap();
    for (me, other) in pair {
        deploy_script(&cluster, me, &overlap::rendezvous(&sync, me, other));
    }
    let out = cluster.run_with(&on, &["run", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 stage(s) passed, 0 failed"),
        "{}",
        output_text(&out)
    );

    // --side-by-side=false beats the file: one at a time again.
    let rerun = |settings: &Path| {
        for (me, _) in pair {
            let out = cluster.run_with(
                settings,
                &[
                    "rerun",
                    me,
                    "--node",
                    "head",
                    "--from",
                    "run-script-post-install",
                ],
            );
            assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
        }
    };
    rerun(&on);
    let sync = cluster.path("sync-off");
    std::fs::create_dir_all(&sync).unwrap();
    for (me, other) in pair {
        deploy_script(&cluster, me, &overlap::exclusive(&sync, me, other));
    }
    let out = cluster.run_with(&on, &["run", "--jobs", "2", "--side-by-side=false"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let log = std::fs::read_to_string(sync.join("log")).unwrap();
    if let Err(why) = overlap::one_at_a_time(&log, 2) {
        panic!("{why}");
    }

    // Without the file, --side-by-side alone turns it on.
    rerun(&none);
    let sync = cluster.path("sync-flag");
    std::fs::create_dir_all(&sync).unwrap();
    for (me, other) in pair {
        deploy_script(&cluster, me, &overlap::rendezvous(&sync, me, other));
    }
    let out = cluster.run_with(&none, &["run", "--jobs", "2", "--side-by-side"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}
