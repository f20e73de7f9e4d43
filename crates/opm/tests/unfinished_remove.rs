//! An install from the bottom stage that did not finish, then `opm remove`
//! (issue 16, HIGH 2 and MEDIUM 3): `opm-<p>` is in the root but `current`
//! still says should_not_be_installed. The planner's rule is to run the
//! uninstall path anyway; the store must accept that step, and the row must
//! stay among the pending rows until it has run. Real `opm`, real dpkg into
//! a sandbox root; the package's presence is asked of dpkg itself.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::tools::have_tool;

use opm_testkit::TestContext;
use opm_testkit::source::opkg_source;

/// How long a run that should end at once may take before it is called a
/// spin (the livelock made `opm run` loop forever).
const PATIENCE: Duration = Duration::from_secs(60);

/// A head node with opkg `name`, whose api-pre-install runs `hook` (a shell
/// fragment, `@DIR@` standing for the cluster's directory: scripts get no
/// environment of the test's), packed, imported, requested and the phase
/// complete.
struct Cluster {
    site: TestContext,
    name: &'static str,
}

impl std::ops::Deref for Cluster {
    type Target = TestContext;

    fn deref(&self) -> &TestContext {
        &self.site
    }
}

impl Cluster {
    fn new(name: &'static str, hook: &str) -> Cluster {
        let site = TestContext::new(assert_cmd::cargo::cargo_bin("opm"));
        let source = site.path(&format!("src-{name}"));
        let hook = hook.replace("@DIR@", &site.dir().display().to_string());
        opkg_source(
            &source,
            name,
            &format!("unfinished install test opkg {name}"),
            &[("api-pre-install", hook)],
        );
        site.install(&[source], &[name]);
        Cluster { site, name }
    }

    /// `opm run`, killed and reported as a spin when it outlasts [`PATIENCE`].
    fn run(&self) -> Output {
        let mut child = self
            .command()
            .arg("run")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > PATIENCE {
                child.kill().unwrap();
                let out = child.wait_with_output().unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join("\n");
                panic!("opm run spins: still running after {PATIENCE:?}; last lines:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }

    /// The one row, as `opm status --json` shows it.
    fn row(&self) -> serde_json::Value {
        // Exit 1 while a row is in error; the JSON is there either way.
        let out = self.command().args(["--json", "status"]).output().unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows[0].clone()
    }

    /// Whether dpkg says `opkg-<name>` is installed in the sandbox root.
    fn api_package_installed(&self) -> bool {
        let out = Command::new("dpkg-query")
            .arg("--admindir")
            .arg(self.path("head/var/lib/dpkg"))
            .args(["-W", "-f", "${db:Status-Status}"])
            .arg(format!("opkg-{}", self.name))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "installed"
    }
}

/// Waits until `path` exists.
fn wait_for_file(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < PATIENCE,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks the end state every variant must reach: the run ended with exit
/// 0, the row says removed and ok, and dpkg agrees.
fn assert_removed(cluster: &Cluster, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let row = cluster.row();
    assert_eq!(row["requested"], "should_not_be_installed", "{row}");
    assert_eq!(row["current"], "should_not_be_installed", "{row}");
    assert_eq!(row["status"], "ok", "{row}");
    assert!(
        !cluster.api_package_installed(),
        "status says removed, but dpkg still has opkg-{} in the root",
        cluster.name
    );
}

#[test]
fn a_run_killed_in_a_bottom_stage_then_removed_ends_with_the_package_gone() {
    if !have_tool("dpkg") {
        return;
    }
    // The hook hangs while the marker is there, after saying where it runs.
    let cluster = Cluster::new(
        "hangp",
        "[ -e @DIR@/hang ] || exit 0\necho $$ > @DIR@/hang.pid\nexec sleep 300",
    );
    let hang = cluster.path("hang");
    std::fs::write(&hang, "").unwrap();
    let mut first = cluster.spawn_run();
    let pid_file = cluster.path("hang.pid");
    wait_for_file(&pid_file);
    first.kill().unwrap();
    first.wait().unwrap();
    // kill -9 of opm leaves its script behind, as a crash would.
    let script = std::fs::read_to_string(&pid_file).unwrap();
    Command::new("kill")
        .args(["-9", script.trim()])
        .status()
        .unwrap();
    std::fs::remove_file(&hang).unwrap();
    assert!(cluster.api_package_installed(), "opkg-hangp went in first");
    assert_eq!(cluster.row()["status"], "running");

    cluster.ok(&["remove", "hangp"]);
    let out = cluster.run();
    assert_removed(&cluster, &out);
    // Nothing left to do: a further run ends at once, changing nothing.
    let again = cluster.run();
    assert_eq!(again.status.code(), Some(0));
    assert!(!cluster.api_package_installed());
}

#[test]
fn a_failed_bottom_stage_then_remove_and_retry_uninstalls_the_package() {
    if !have_tool("dpkg") {
        return;
    }
    let cluster = Cluster::new("failp", "echo the hook fails on purpose >&2\nexit 3");
    let failed = cluster.run();
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(cluster.api_package_installed(), "opkg-failp went in first");
    assert_eq!(cluster.row()["status"], "error");

    cluster.ok(&["remove", "failp"]);
    cluster.ok(&["retry", "failp", "--node", "head"]);
    let out = cluster.run();
    assert_removed(&cluster, &out);
}
