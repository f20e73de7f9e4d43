//! Draining nodes through the scheduler before their packages change
//! (issue 20), end to end: `opm server` with the drain settings, `opm
//! agent`s with sandbox roots and the real dpkg.
//!
//! `a_real_slurm_drains_waits_and_resumes_its_node` runs Debian's Slurm
//! on this machine: munged, slurmctld and slurmd as child processes of the
//! test with a slurm.conf whose one node is this host, and opm's drain
//! settings the README's three lines. A job runs while opm installs: the
//! stage waits until Slurm says the node is drained, runs, and the node is
//! idle again after; a drain that cannot complete (a job longer than
//! drain_timeout) fails the rows and leaves the node resumed. It needs
//! root and Slurm: SKIPPED locally without them, a failure in CI.
//!
//! `scripted_drains_wait_survive_a_restart_and_fail_clearly` drives other
//! nodes with drain commands that are scripts of the test: a drain waited
//! for across a server restart, a node drained by somebody else (not
//! resumed), a drain command that fails, and a timeout.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary, Slurm's daemons and its tools as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::context::status_rows;
use opm_testkit::{Agent, Server, TestContext};
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");

/// A head node with the example opkgs `motd` and `clusterfs` imported, the
/// phase at complete, and `settings` as its opm.toml.
fn site(settings: &str) -> TestContext {
    let ctx = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    let sources = [format!("{EXAMPLES}/motd"), format!("{EXAMPLES}/clusterfs")];
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    ctx.pack_and_import(&sources);
    std::fs::write(ctx.path("opm.toml"), settings).unwrap();
    ctx.ok(&["cluster", "phase", "complete"]);
    ctx
}

/// `opm --json status`, keyed by (target, package).
fn status(ctx: &TestContext) -> BTreeMap<(String, String), Value> {
    status_rows(ctx.opm(&["--json", "status"]).stdout.as_bytes())
}

/// Waits up to `limit` until `check` holds for row (`node`, `package`);
/// the row then.
fn wait_row(
    ctx: &TestContext,
    node: &str,
    package: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let rows = status(ctx);
        if let Some(row) = rows.get(&(node.to_owned(), package.to_owned()))
            && check(row)
        {
            return row.clone();
        }
        assert!(
            started.elapsed() < limit,
            "{node}/{package} never {what}: {rows:#?}\nserver log:\n{}",
            std::fs::read_to_string(ctx.path("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finished(row: &Value) -> bool {
    row["current"] == "finished" && row["status"] == "ok"
}

fn waiting_for(node: &str) -> impl Fn(&Value) -> bool {
    let message = format!("waiting for {node} to drain");
    move |row| row["status"] == "ok" && row["message"] == message.as_str()
}

fn in_error(row: &Value) -> bool {
    row["status"] == "error"
}

/// Whether `root` has the client package of `package` installed (its dpkg
/// database says so).
fn installed(root: &Path, package: &str) -> bool {
    std::fs::read_to_string(root.join("var/lib/dpkg/status"))
        .unwrap_or_default()
        .split("\n\n")
        .any(|entry| {
            entry.contains(&format!("Package: opkg-{package}-client\n"))
                && entry.contains("Status: install ok installed")
        })
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn agent(ctx: &TestContext, node: &str, server: &Server) -> Agent {
    ctx.agent(node, &server.url(), &["--poll-wait", "2"])
}

#[test]
fn scripted_drains_wait_survive_a_restart_and_fail_clearly() {
    // The scheduler is a directory: NODE.drained says a node is drained,
    // NODE.log what opm asked of it, NODE.refuse makes its drain fail.
    let sched = tempfile::tempdir().unwrap();
    let dir = sched.path().display().to_string();
    let bin = sched.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    script(
        &bin.join("drain"),
        &format!(
            "echo drain >> {dir}/$1.log\n\
             if [ -e {dir}/$1.refuse ]; then echo \"no partition holds $1\" >&2; exit 3; fi"
        ),
    );
    script(&bin.join("drained"), &format!("test -e {dir}/$1.drained"));
    script(
        &bin.join("resume"),
        &format!("echo resume >> {dir}/$1.log; rm -f {dir}/$1.drained"),
    );
    let bin = bin.display();
    let ctx = site(&format!(
        "drain_command = \"{bin}/drain %n\"\n\
         drained_command = \"{bin}/drained %n\"\n\
         resume_command = \"{bin}/resume %n\"\n\
         drain_timeout = \"20s\"\n"
    ));
    // `opm settings` shows what is in force.
    let shown = ctx.ok(&["settings"]);
    assert!(
        shown.contains(&format!("\ndrain_command: {bin}/drain %n\n")),
        "{shown}"
    );
    assert!(shown.contains("\ndrain_timeout: 20s\n"), "{shown}");
    let log = |node: &str| std::fs::read_to_string(sched.path().join(format!("{node}.log")));
    let nodes = ["n1", "n2", "n3", "n4", "n5"];
    for node in nodes {
        ctx.add_node(node);
    }
    // n2 was drained by somebody else; n3's drain is refused.
    std::fs::write(sched.path().join("n2.drained"), "").unwrap();
    std::fs::write(sched.path().join("n3.refuse"), "").unwrap();
    // n5's client-post-install fails on purpose (the example's marker).
    let marker = ctx.path("n5/root/etc/opm-example");
    std::fs::create_dir_all(&marker).unwrap();
    std::fs::write(marker.join("fail-motd-client-post-install"), "").unwrap();
    let server = ctx.server(&[]);
    let port = server.addr().port();
    let _agents: Vec<Agent> = nodes.iter().map(|n| agent(&ctx, n, &server)).collect();
    ctx.ok(&["install", "motd"]);
    let minute = Duration::from_secs(60);

    // n1 waits for its drain; the row says so, nothing is installed.
    wait_row(&ctx, "n1", "motd", minute, "waited", waiting_for("n1"));
    assert!(!installed(&ctx.path("n1/root"), "motd"));
    // The server restarts while n1 drains: it goes on waiting, asks for
    // no second drain, and the stage runs once the node is drained.
    drop(server);
    let server = ctx.server_on(port, &[]);
    wait_row(
        &ctx,
        "n1",
        "motd",
        minute,
        "waited again",
        waiting_for("n1"),
    );
    std::fs::write(sched.path().join("n1.drained"), "").unwrap();
    wait_row(&ctx, "n1", "motd", minute, "finished", finished);
    assert!(installed(&ctx.path("n1/root"), "motd"));
    // Resumed after its work (the log line is written before the poll
    // that found the work over answers).
    let started = Instant::now();
    while log("n1").unwrap() != "drain\nresume\n" {
        assert!(started.elapsed() < minute, "{:?}", log("n1"));
        std::thread::sleep(Duration::from_millis(200));
    }

    // n5's work fails once drained: opm resumes it all the same, and the
    // row's error says so.
    wait_row(&ctx, "n5", "motd", minute, "waited", waiting_for("n5"));
    std::fs::write(sched.path().join("n5.drained"), "").unwrap();
    let row = wait_row(&ctx, "n5", "motd", minute, "failed", |row| {
        in_error(row)
            && row["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("; opm resumed n5 after this failure"))
    });
    assert!(
        row["message"]
            .as_str()
            .unwrap()
            .contains("failing on purpose"),
        "{row:#}"
    );
    assert_eq!(log("n5").unwrap(), "drain\nresume\n");

    // n2: worked on as it was, and not resumed by opm.
    wait_row(&ctx, "n2", "motd", minute, "finished", finished);
    assert!(log("n2").is_err(), "{:?}", log("n2"));
    assert!(sched.path().join("n2.drained").exists());

    // n3: the refusal is the row's error, in the command's own words; the
    // row keeps its stage and nothing was installed.
    let row = wait_row(&ctx, "n3", "motd", minute, "failed", in_error);
    let message = row["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "cannot drain n3: drain_command '{bin}/drain n3' failed (exit status 3): \
             no partition holds n3; fix the drain settings"
        )),
        "{message}"
    );
    assert_eq!(row["current"], "run-configurator", "{row:#}");
    assert!(!installed(&ctx.path("n3/root"), "motd"));
    assert_eq!(ctx.opm(&["status"]).code, Some(1));
    // Fixed, a retry goes on where it stopped.
    std::fs::remove_file(sched.path().join("n3.refuse")).unwrap();
    std::fs::write(sched.path().join("n3.drained"), "").unwrap();
    ctx.ok(&["retry", "motd", "--node", "n3"]);
    wait_row(&ctx, "n3", "motd", minute, "finished after retry", finished);

    // n4 never drains: after drain_timeout its row fails and opm resumes it.
    let row = wait_row(&ctx, "n4", "motd", minute, "timed out", in_error);
    assert_eq!(
        row["message"],
        "n4 did not drain within 20s; opm resumed it; run 'opm retry' once the node's jobs \
         allow it, or raise drain_timeout"
    );
    assert_eq!(log("n4").unwrap(), "drain\nresume\n");
    assert!(!installed(&ctx.path("n4/root"), "motd"));
    drop(server);
}

/// Slurm on this machine, its daemons children of the test: munged with
/// a key of its own, slurmctld and slurmd in the foreground, every file
/// under a temporary directory. Dropping it cancels the jobs and kills
/// the daemons, also when the test failed.
struct Slurm {
    dir: tempfile::TempDir,
    host: String,
    daemons: Vec<(&'static str, Child)>,
}

impl Drop for Slurm {
    fn drop(&mut self) {
        // Jobs first, while slurmd is there to end them.
        let _ = self.tool("scancel").args(["--user", "root"]).output();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15)
            && self
                .tool("squeue")
                .arg("-h")
                .output()
                .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        for (_, daemon) in self.daemons.iter_mut().rev() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

/// Why Slurm cannot run here, if it cannot.
fn slurm_unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("slurmd and munged need root".to_owned());
    }
    for tool in [
        "/usr/sbin/munged",
        "/usr/sbin/slurmctld",
        "/usr/sbin/slurmd",
        "/usr/bin/sinfo",
    ] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing (apt-get install slurm-wlm munge)"
            ));
        }
    }
    None
}

/// A free loopback port, for one of Slurm's daemons.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Slurm {
    fn start() -> Slurm {
        let dir = tempfile::tempdir().unwrap();
        let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        let path = |rest: &str| dir.path().join(rest);
        for sub in ["munge", "state", "spool", "log"] {
            std::fs::create_dir(path(sub)).unwrap();
        }
        let key: Vec<u8> = (0..1024u32)
            .map(|i| u8::try_from((i.wrapping_mul(2_654_435_761) >> 13) & 0xff).unwrap())
            .collect();
        std::fs::write(path("munge/munge.key"), key).unwrap();
        std::fs::set_permissions(
            path("munge/munge.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let socket = path("munge/socket");
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let d = dir.path().display().to_string();
        let conf = format!(
            "ClusterName=opmtest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             AuthType=auth/munge\n\
             AuthInfo=socket={socket}\n\
             CredType=cred/munge\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/log/slurmctld.log\n\
             SlurmdLogFile={d}/log/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SchedulerType=sched/builtin\n\
             SelectType=select/linear\n\
             MpiDefault=none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             ReturnToService=2\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=100 State=UNKNOWN\n\
             PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            ctld = free_port(),
            slurmd = free_port(),
            socket = socket.display(),
        );
        std::fs::write(path("slurm.conf"), conf).unwrap();
        let mut slurm = Slurm {
            dir,
            host,
            daemons: Vec::new(),
        };
        let mut munged = Command::new("/usr/sbin/munged");
        munged
            .arg("--foreground")
            .arg("--force")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={d}/munge/munge.key"))
            .arg(format!("--log-file={d}/log/munged.log"))
            .arg(format!("--pid-file={d}/munge/munged.pid"))
            .arg(format!("--seed-file={d}/munge/seed"));
        slurm.spawn("munged", &mut munged);
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "munged never made {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let conf = slurm.conf();
        slurm.spawn(
            "slurmctld",
            Command::new("/usr/sbin/slurmctld")
                .arg("-D")
                .arg("-f")
                .arg(&conf),
        );
        slurm.spawn(
            "slurmd",
            Command::new("/usr/sbin/slurmd")
                .arg("-D")
                .arg("-f")
                .arg(&conf),
        );
        slurm.wait_state("idle", Duration::from_secs(60));
        slurm
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) {
        let log = std::fs::File::create(self.dir.path().join(format!("log/{name}.out"))).unwrap();
        let child = command
            .env("SLURM_CONF", self.conf())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons.push((name, child));
    }

    /// A Slurm client tool of this cluster.
    fn tool(&self, name: &str) -> Command {
        let mut command = Command::new(name);
        command.env("SLURM_CONF", self.conf());
        command
    }

    fn run(&self, name: &str, args: &[&str]) -> String {
        let output: Output = self.tool(name).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{name} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// The node's short state: idle, alloc, drng, drain, ...
    fn state(&self) -> String {
        self.run("sinfo", &["-h", "-n", &self.host, "-o", "%t"])
    }

    fn wait_state(&self, want: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            let state = self.state();
            if state == want {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "node {} is {state}, never {want}; logs in {}:\n{}",
                self.host,
                self.dir.path().display(),
                std::fs::read_to_string(self.dir.path().join("log/slurmctld.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Submits a batch job running `script` and waits until it runs; the
    /// job id.
    fn job(&self, script: &str) -> String {
        let id = self.run(
            "sbatch",
            &["--parsable", "-o", "/dev/null", "--wrap", script],
        );
        let started = Instant::now();
        while self.job_state(&id) != "RUNNING" {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "job {id} never ran"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        id
    }

    /// The job's state, empty once it left the queue.
    fn job_state(&self, id: &str) -> String {
        self.run("squeue", &["-h", "-j", id, "-o", "%T"])
    }
}

#[test]
fn a_real_slurm_drains_waits_and_resumes_its_node() {
    if let Some(why) = slurm_unavailable() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the real-Slurm test: {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    let slurm = Slurm::start();
    let host = slurm.host.clone();
    // The README's three lines, told where this cluster's slurm.conf is.
    let env = format!("env SLURM_CONF={}", slurm.conf().display());
    let ctx = site(&format!(
        "drain_command = '{env} scontrol update nodename=%n state=drain reason=\"opm rollout\"'\n\
         drained_command = \"{env} sh -c 'sinfo -h -n %n -o %t | grep -qx drain'\"\n\
         resume_command = '{env} scontrol update nodename=%n state=resume'\n\
         drain_timeout = \"20s\"\n"
    ));
    ctx.add_node(&host);
    let server = ctx.server(&[]);
    let _agent = agent(&ctx, &host, &server);
    let root = ctx.path(&format!("{host}/root"));
    let minute = Duration::from_secs(60);

    // A job runs: opm asks for the drain, Slurm drains the node while the
    // job goes on, and opm waits with nothing installed.
    // The job goes on until the test has seen opm wait, then sleeps 3 s:
    // its end, not the test's timing, decides what Slurm says.
    let release = slurm.dir.path().join("release");
    let job = slurm.job(&format!(
        "until [ -e {} ]; do sleep 0.2; done; sleep 3",
        release.display()
    ));
    ctx.ok(&["install", "motd"]);
    wait_row(&ctx, &host, "motd", minute, "waited", waiting_for(&host));
    assert_eq!(slurm.state(), "drng");
    assert_eq!(slurm.job_state(&job), "RUNNING");
    assert!(!installed(&root, "motd"));
    std::fs::write(&release, "").unwrap();
    // The job ends, the node is drained, the stage runs, the node is
    // given back.
    wait_row(&ctx, &host, "motd", minute, "finished", finished);
    assert!(installed(&root, "motd"));
    assert_eq!(slurm.job_state(&job), "");
    slurm.wait_state("idle", Duration::from_secs(30));

    // A job longer than drain_timeout: the rows fail, the node is resumed
    // (allocated to its job again, not draining), nothing installed.
    let job = slurm.job("sleep 300");
    ctx.ok(&["install", "clusterfs"]);
    wait_row(
        &ctx,
        &host,
        "clusterfs",
        minute,
        "waited",
        waiting_for(&host),
    );
    let row = wait_row(&ctx, &host, "clusterfs", minute, "timed out", in_error);
    assert_eq!(
        row["message"],
        format!(
            "{host} did not drain within 20s; opm resumed it; run 'opm retry' once the \
             node's jobs allow it, or raise drain_timeout"
        )
    );
    // Slurm marks a node it just resumed as not responding (`*`) until
    // its next ping of slurmd; the state is what counts.
    assert_eq!(slurm.state().trim_end_matches('*'), "alloc");
    assert_eq!(slurm.job_state(&job), "RUNNING");
    assert!(!installed(&root, "clusterfs"));
    drop(server);
}
