//! End to end across processes on loopback: `opm server` on the head node,
//! `opm agent` on three (then four) compute nodes, each agent with its own
//! opm.conf, token and sandbox root, the real dpkg installing the example
//! opkgs packed by `opm pack`. The phases are set with the CLI as "the
//! other tool" would; the server and the agents do the rest by themselves.
//!
//! The API tests speak raw HTTP/1.1 over a TCP socket, so what is checked
//! is exactly what goes over the wire.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::context::status_rows;
use opm_testkit::{Server, TestContext};
use serde_json::Value;

use opm_testkit::sandbox::{image_unavailable, installed, make_image};
use opm_testkit::source::opkg_source;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const OPKGS: [&str; 3] = ["clusterfs", "jobqueue", "motd"];

/// A head node with a database, a repository packed from the examples and
/// the processes it started (killed when it goes).
struct Site {
    // Before `ctx`: the servers are killed before their directory goes.
    servers: Vec<Server>,
    ctx: TestContext,
    children: Vec<(String, Child)>,
}

impl Drop for Site {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Site {
    fn new() -> Site {
        Site::with_sources(&[])
    }

    /// A site whose state is in a fresh PostgreSQL database; `None` (after
    /// a loud SKIPPED line) when no PostgreSQL server can be had.
    fn on_postgres() -> Option<Site> {
        let server = opm_testkit::postgres()?;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = runtime.block_on(server.fresh_database()).unwrap();
        Some(Site::with(Some(url), &[]))
    }

    /// A site with the example opkgs and `extra` opkg sources imported.
    fn with_sources(extra: &[PathBuf]) -> Site {
        Site::with(None, extra)
    }

    /// A site on database `db` (a SQLite file of its own when `None`).
    fn with(db: Option<String>, extra: &[PathBuf]) -> Site {
        let bin = env!("CARGO_BIN_EXE_opm");
        let ctx = match db {
            Some(db) => TestContext::with_database(bin, db),
            None => TestContext::new(bin),
        };
        let mut examples: Vec<String> = OPKGS.iter().map(|n| format!("{EXAMPLES}/{n}")).collect();
        examples.extend(extra.iter().map(|path| path.display().to_string()));
        let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
        ctx.pack_and_import(&examples);
        Site {
            servers: Vec::new(),
            ctx,
            children: Vec::new(),
        }
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.ctx.path(rest)
    }

    fn expect(&self, args: &[&str], code: i32) -> Output {
        self.ctx.expect(args, code)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ctx.ok(args)
    }

    /// Starts `opm server` on `port` (0: any); its address.
    fn start_server(&mut self, port: u16) -> SocketAddr {
        self.start_server_with(port, &[])
    }

    /// Starts `opm server` on `port` with `extra` arguments; its address.
    fn start_server_with(&mut self, port: u16, extra: &[&str]) -> SocketAddr {
        let server = self.ctx.server_on(port, extra);
        let addr = server.addr();
        self.servers.push(server);
        addr
    }

    /// Kills the servers (`server`) or agent `name`.
    fn kill(&mut self, name: &str) {
        if name == "server" {
            self.servers.clear();
            return;
        }
        for (who, child) in &mut self.children {
            if who == name {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
        self.children.retain(|(who, _)| who != name);
    }

    /// Registers compute node `name` with a token, a root and an opm.conf.
    fn add_node(&self, name: &str) {
        self.ctx.add_node(name);
    }

    /// `opm` as node `name`'s CLI.
    fn node_command(&self, name: &str, server: SocketAddr) -> Command {
        let mut command = self.ctx.node_command(name, &format!("http://{server}"));
        command
            .args(["agent", "--poll-wait", "2", "--spool"])
            .arg(self.path(name).join("spool.json"));
        command
    }

    fn start_agent(&mut self, name: &str, server: SocketAddr) {
        let command = self.node_command(name, server);
        self.spawn_agent(name, command);
    }

    fn spawn_agent(&mut self, name: &str, mut command: Command) {
        let log = std::fs::File::create(self.path(&format!("{name}/agent.log"))).unwrap();
        let child = command.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        self.children.push((name.to_owned(), child));
    }

    /// `opm status --json`, keyed by (target, package).
    fn status(&self) -> BTreeMap<(String, String), Value> {
        status_rows(&self.expect(&["--json", "status"], 0).stdout)
    }

    /// Waits until every row of `targets` × [`OPKGS`] is `current` and ok.
    fn wait_for(&self, targets: &[&str], packages: &[&str], current: &str) {
        let started = Instant::now();
        loop {
            let status = self.status();
            let done = targets.iter().all(|target| {
                packages.iter().all(|package| {
                    status
                        .get(&((*target).to_owned(), (*package).to_owned()))
                        .is_some_and(|row| row["current"] == current && row["status"] == "ok")
                })
            });
            if done {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "rows of {targets:?} never reached {current}: {status:#?}\nserver log:\n{}",
                std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn history(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["--json", "history"])).unwrap()
    }
}

fn client_parts(packages: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = packages
        .iter()
        .map(|p| format!("opkg-{p}-client"))
        .collect();
    names.sort();
    names
}

/// Every stage attempt of `target` passed exactly once per stage, apart
/// from attempts recorded as interrupted.
fn each_stage_passed_once(history: &[Value], target: &str) {
    let mut passed: BTreeMap<(String, String), usize> = BTreeMap::new();
    for entry in history
        .iter()
        .filter(|e| e["target"] == target && e["event"] == "attempt")
    {
        assert!(
            entry["result"] == "passed" || entry["result"] == "interrupted",
            "{entry:#}"
        );
        if entry["result"] == "passed" {
            let key = (
                entry["package"].as_str().unwrap().to_owned(),
                entry["stage"].as_str().unwrap().to_owned(),
            );
            *passed.entry(key).or_default() += 1;
        }
    }
    assert!(!passed.is_empty(), "no attempts for {target}");
    for (key, count) in passed {
        assert_eq!(count, 1, "{target} {key:?} passed {count} times");
    }
}

#[test]
fn agents_walk_the_whole_lifecycle_catch_up_and_survive_a_server_restart() {
    walk_the_lifecycle(Site::new());
}

#[test]
fn the_same_lifecycle_with_the_state_in_postgresql() {
    if let Some(site) = Site::on_postgres() {
        walk_the_lifecycle(site);
    }
}

/// Three agents and an image from setup_wizard to complete through a
/// server restart, a fourth node catching up, and motd taken down again.
fn walk_the_lifecycle(mut site: Site) {
    // The head node works its image itself, beside the agents.
    let image = match image_unavailable() {
        None => {
            let root = site.path("images/compute");
            make_image(&root).unwrap();
            site.ok(&["image", "add", "compute", "--path", root.to_str().unwrap()]);
            Some(root)
        }
        Some(why) => {
            eprintln!("SKIPPED the image part: {why}");
            None
        }
    };
    let nodes = ["n1", "n2", "n3"];
    for node in nodes {
        site.add_node(node);
    }
    let server = site.start_server(0);
    for node in nodes {
        site.start_agent(node, server);
    }
    site.ok(&["install", "clusterfs", "jobqueue", "motd"]);

    // Only the gated stages run: the head node stops at run-configurator.
    site.ok(&["cluster", "phase", "setup_wizard"]);
    site.wait_for(&["head"], &OPKGS, "run-configurator");
    site.ok(&["cluster", "phase", "build_image"]);
    site.wait_for(&["head"], &OPKGS, "install-bin-pkgs");
    for node in nodes {
        assert_eq!(
            installed(&site.path(&format!("{node}/root"))),
            Vec::<String>::new()
        );
    }

    // The server goes away and comes back on the same port mid-walk.
    site.kill("server");
    site.ok(&["cluster", "phase", "post_install"]);
    std::thread::sleep(Duration::from_millis(1500));
    let again = site.start_server(server.port());
    assert_eq!(again, server);

    site.ok(&["cluster", "phase", "complete"]);
    let mut everyone = vec!["head"];
    everyone.extend(nodes);
    if image.is_some() {
        everyone.push("compute");
    }
    site.wait_for(&everyone, &OPKGS, "finished");
    if let Some(root) = &image {
        assert_eq!(installed(root), client_parts(&OPKGS));
    }
    for node in nodes {
        assert_eq!(
            installed(&site.path(&format!("{node}/root"))),
            client_parts(&OPKGS)
        );
    }
    let history = site.history();
    for node in nodes {
        each_stage_passed_once(&history, node);
    }

    // A node added after complete catches up by itself.
    site.add_node("n4");
    site.start_agent("n4", server);
    site.wait_for(&["n4"], &OPKGS, "finished");
    assert_eq!(installed(&site.path("n4/root")), client_parts(&OPKGS));

    // One opkg uninstalled everywhere: nodes first, then the head node.
    site.ok(&["remove", "motd"]);
    let mut all = everyone.clone();
    all.push("n4");
    site.wait_for(&all, &["motd"], "should_not_be_installed");
    for node in ["n1", "n2", "n3", "n4"] {
        assert_eq!(
            installed(&site.path(&format!("{node}/root"))),
            client_parts(&["clusterfs", "jobqueue"])
        );
    }
    assert!(
        !installed(&site.path("head"))
            .iter()
            .any(|name| name.starts_with("opkg-motd"))
    );
    if let Some(root) = &image {
        assert_eq!(installed(root), client_parts(&["clusterfs", "jobqueue"]));
    }
}

/// An opkg whose client-post-install notes each start in the node's root
/// and then, while `etc/slow` exists there, takes a minute.
fn slow_opkg(dir: &Path) -> PathBuf {
    let source = dir.join("slowpkg");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{EXAMPLES}/motd"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let config = std::fs::read_to_string(source.join("config.xml")).unwrap();
    std::fs::write(
        source.join("config.xml"),
        config.replace("<name>motd</name>", "<name>slowpkg</name>"),
    )
    .unwrap();
    let script = source.join("scripts/client-post-install");
    std::fs::write(
        &script,
        "#!/bin/sh\nroot=${OSCAR_PACKAGE_HOME%/usr/lib/oscar/packages/*}\n\
         mkdir -p \"$root/var/log\"\necho \"start $OPM_ATTEMPT\" >>\"$root/var/log/slow.log\"\n\
         while [ -e \"$root/etc/slow\" ]; do sleep 0.1; done\necho done >>\"$root/var/log/slow.log\"\n",
    )
    .unwrap();
    source
}

#[test]
fn an_agent_killed_mid_install_finishes_the_row_after_a_restart() {
    let sources = tempfile::tempdir().unwrap();
    let slow = slow_opkg(sources.path());
    let mut site = Site::with_sources(&[slow]);
    site.add_node("n1");
    let root = site.path("n1/root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/slow"), "").unwrap();
    let server = site.start_server(0);
    site.start_agent("n1", server);
    site.ok(&["install", "slowpkg"]);
    site.ok(&["cluster", "phase", "complete"]);

    let log = root.join("var/log/slow.log");
    let started = Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|text| text.contains("start")) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "client-post-install never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    site.kill("n1");
    std::fs::remove_file(root.join("etc/slow")).unwrap();
    site.start_agent("n1", server);
    site.wait_for(&["n1"], &["slowpkg"], "finished");

    // The script died with its agent (no "done" before the second start),
    // then ran again as attempt 2.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start 1\nstart 2\ndone\n"
    );
    let history = site.history();
    each_stage_passed_once(&history, "n1");
    let interrupted: Vec<&Value> = history
        .iter()
        .filter(|e| e["target"] == "n1" && e["result"] == "interrupted")
        .collect();
    assert_eq!(interrupted.len(), 1, "{history:#?}");
    assert_eq!(interrupted[0]["stage"], "install-bin-pkgs");
    assert_eq!(installed(&root), ["opkg-slowpkg-client"]);
}

#[test]
fn an_agents_scripts_get_the_sites_variables_and_nothing_else() {
    let sources = tempfile::tempdir().unwrap();
    let source = sources.path().join("envpkg");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{EXAMPLES}/motd"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let config = std::fs::read_to_string(source.join("config.xml")).unwrap();
    std::fs::write(
        source.join("config.xml"),
        config.replace("<name>motd</name>", "<name>envpkg</name>"),
    )
    .unwrap();
    std::fs::write(
        source.join("scripts/client-post-install"),
        "#!/bin/sh\nroot=${OSCAR_PACKAGE_HOME%/usr/lib/oscar/packages/*}\n\
         mkdir -p \"$root/var/log\"\nenv > \"$root/var/log/env\"\n",
    )
    .unwrap();
    let mut site = Site::with_sources(&[source]);
    std::fs::write(
        site.path("opm.toml"),
        "script_env_pass = [\"PERL5LIB\"]\n[script_env]\nOSCAR_HOME = \"/opt/oscar\"\n",
    )
    .unwrap();
    site.add_node("n1");
    let server = site.start_server(0);
    let mut agent = site.node_command("n1", server);
    agent
        .args(["--script-env", "OSCAR_UI=cli"])
        .env("PERL5LIB", "/opt/oscar/lib")
        .env("NODE_SECRET", "s3cret");
    site.spawn_agent("n1", agent);
    site.ok(&["install", "envpkg"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["n1"], &["envpkg"], "finished");

    let env = std::fs::read_to_string(site.path("n1/root/var/log/env")).unwrap();
    for line in [
        "OSCAR_HOME=/opt/oscar",
        "OSCAR_UI=cli",
        "PERL5LIB=/opt/oscar/lib",
        "OPM_TARGET=n1",
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line}:\n{env}");
    }
    for absent in ["NODE_SECRET", "OPM_SERVER", "OPM_TOKEN_FILE"] {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{absent}="))),
            "{absent} leaked:\n{env}"
        );
    }
}

#[test]
fn an_agents_script_flooding_both_streams_has_every_byte_counted() {
    let sources = tempfile::tempdir().unwrap();
    let source = sources.path().join("floodpkg");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{EXAMPLES}/motd"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let config = std::fs::read_to_string(source.join("config.xml")).unwrap();
    std::fs::write(
        source.join("config.xml"),
        config.replace("<name>motd</name>", "<name>floodpkg</name>"),
    )
    .unwrap();
    // 300,000 bytes on each stream: more than the history keeps of them.
    std::fs::write(
        source.join("scripts/client-post-install"),
        "#!/bin/sh\nhead -c 300000 /dev/zero | tr '\\0' o\nhead -c 300000 /dev/zero | tr '\\0' e >&2\n",
    )
    .unwrap();
    let mut site = Site::with_sources(&[source]);
    site.add_node("n1");
    let server = site.start_server(0);
    site.start_agent("n1", server);
    site.ok(&["install", "floodpkg"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["n1"], &["floodpkg"], "finished");

    let attempts: Vec<Value> = site
        .history()
        .into_iter()
        .filter(|e| e["target"] == "n1" && e["package"] == "floodpkg" && e["event"] == "attempt")
        .collect();
    let mut flooded = 0;
    for attempt in &attempts {
        let id = attempt["id"].as_i64().unwrap().to_string();
        let logs: Value =
            serde_json::from_str(&site.ok(&["--json", "logs", "--attempt", &id])).unwrap();
        let steps = logs["steps"].as_array().unwrap();
        let mut counted = 0;
        for step in steps {
            let action = step["action"].as_str().unwrap();
            let printed = step["output_bytes"].as_u64().unwrap();
            if action == "run client-post-install" {
                assert_eq!(printed, 600_000, "{action}");
                flooded += 1;
            }
            counted += format!("== {action}\n").len() as u64 + printed;
        }
        assert_eq!(attempt["output_bytes"], counted, "attempt {id}");
    }
    assert_eq!(flooded, 1, "{attempts:#?}");
}

/// One raw HTTP/1.1 request; the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (and close) before an oversized body is all sent.
    let _ = stream.write_all(body);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn tokens_decide_who_sees_what_and_bad_bodies_get_400() {
    let mut site = Site::new();
    site.add_node("n1");
    site.add_node("n2");
    let admin = site.ok(&["admin", "token"]).trim().to_owned();
    let head = site.expect(&["node", "token", "head"], 2);
    assert!(
        String::from_utf8_lossy(&head.stderr).contains("head is the head node"),
        "{}",
        String::from_utf8_lossy(&head.stderr)
    );
    site.expect(&["node", "token", "ghost"], 2);
    let n1 = std::fs::read_to_string(site.path("n1/token"))
        .unwrap()
        .trim()
        .to_owned();
    let server = site.start_server(0);
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["head"], &["motd"], "finished");

    let poll = br#"{"agent":"test-1","node":"n1","wait_ms":0}"#;
    assert_eq!(http(server, "POST", "/v1/agent/poll", None, poll).0, 401);
    assert_eq!(
        http(server, "POST", "/v1/agent/poll", Some("bogus"), poll).0,
        401
    );
    assert_eq!(http(server, "GET", "/v1/status", Some(&n1), b"").0, 403);
    assert_eq!(
        http(server, "POST", "/v1/agent/poll", Some(&admin), poll).0,
        403
    );
    let (code, body) = http(server, "GET", "/v1/status", Some(&admin), b"");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"package\":\"motd\""), "{body}");

    // Node n1's token used for node n2's row.
    let n2_row = site.status()[&("n2".to_owned(), "motd".to_owned())].clone();
    assert_eq!(n2_row["requested"], "finished");
    let (code, batch) = http(server, "POST", "/v1/agent/poll", Some(&n1), poll);
    assert_eq!(code, 200, "{batch}");
    let batch: Value = serde_json::from_str(&batch).unwrap();
    let token = batch["token"].as_u64().unwrap();
    let n1_row = batch["items"][0]["row"].as_i64().unwrap();
    let others = (1..=20).filter(|id| *id != n1_row);
    let forbidden = others
        .map(|row| {
            let start = format!(r#"{{"row":{row},"stage":"should_be_installed","token":{token}}}"#);
            http(
                server,
                "POST",
                "/v1/agent/start",
                Some(&n1),
                start.as_bytes(),
            )
            .0
        })
        .filter(|code| *code == 403)
        .count();
    assert!(forbidden >= 2, "n1 reached other rows");

    // A replaced token stops working at once.
    let n1_new = site.ok(&["node", "token", "n1"]).trim().to_owned();
    assert_eq!(
        http(server, "POST", "/v1/agent/poll", Some(&n1), poll).0,
        401
    );
    assert_eq!(
        http(server, "POST", "/v1/agent/poll", Some(&n1_new), poll).0,
        200
    );

    for bad in [
        &b"{not json"[..],
        br#"{"agent":"x"}"#,
        br#"{"agent":"a b","node":"n1","wait_ms":0}"#,
        br#"{"agent":"x","node":"n1","wait_ms":0,"extra":1}"#,
    ] {
        let (code, body) = http(server, "POST", "/v1/agent/poll", Some(&n1_new), bad);
        assert_eq!(code, 400, "{}: {body}", String::from_utf8_lossy(bad));
        assert!(body.contains("\"error\""), "{body}");
    }
    let huge = format!(
        r#"{{"agent":"x","node":"n1","wait_ms":0,"pad":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    assert_eq!(
        http(
            server,
            "POST",
            "/v1/agent/poll",
            Some(&n1_new),
            huge.as_bytes()
        )
        .0,
        413
    );
    // Bodies stream through a connection's 8 KiB read buffer: a 200 KB
    // agent id is read whole and refused for what it is.
    let long = format!(
        r#"{{"agent":"{}","node":"n1","wait_ms":0}}"#,
        "a".repeat(200_000)
    );
    let (code, body) = http(
        server,
        "POST",
        "/v1/agent/poll",
        Some(&n1_new),
        long.as_bytes(),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("agent id must be"), "{body}");
    // A request head has to fit in it.
    let (code, _) = http(
        server,
        "POST",
        "/v1/agent/poll",
        Some(&"t".repeat(10_000)),
        poll,
    );
    assert_eq!(code, 431);
    let (code, body) = http(
        server,
        "PUT",
        "/v1/phase",
        Some(&admin),
        br#"{"phase":"nope"}"#,
    );
    assert_eq!(code, 400, "{body}");
}

#[test]
fn opm_run_on_a_node_is_one_round_of_its_agent() {
    let mut site = Site::new();
    site.add_node("n1");
    let server = site.start_server(0);
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["head"], &["motd"], "finished");
    let dir = site.path("n1");
    let run = |site: &Site| {
        let mut command = site.node_command("n1", server);
        // `opm run` takes the agent's settings from the environment.
        command.env("OPM_SPOOL", dir.join("spool.json"));
        let mut run = Command::new(env!("CARGO_BIN_EXE_opm"));
        run.arg("run")
            .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .current_dir(&dir);
        run.output().unwrap()
    };
    let output = run(&site);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("stage(s) passed, 0 failed"), "{stdout}");
    // Each stage the agent carries out is logged at info level.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|line| line.contains(" INFO ")
            && line.contains("motd")
            && line.ends_with(": passed")),
        "{stderr}"
    );
    site.wait_for(&["n1"], &["motd"], "finished");
    assert_eq!(installed(&site.path("n1/root")), ["opkg-motd-client"]);
    // Nothing left: the next round has nothing to do.
    let again = run(&site);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 stage(s) passed"));
    site.kill("server");
}

#[test]
fn a_stopping_server_answers_waiting_polls_at_once() {
    let mut site = Site::new();
    site.add_node("n1");
    let token = std::fs::read_to_string(site.path("n1/token"))
        .unwrap()
        .trim()
        .to_owned();
    let server = site.start_server(0);
    let poll = std::thread::spawn(move || {
        let body = br#"{"agent":"waiting","node":"n1","wait_ms":30000}"#;
        http(server, "POST", "/v1/agent/poll", Some(&token), body)
    });
    // Let the poll start waiting, then stop the server the way systemd does.
    std::thread::sleep(Duration::from_millis(500));
    let child = site.servers.last_mut().unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let stopped = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait();
    assert!(status.success(), "{status}");
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "took {:?}",
        stopped.elapsed()
    );
    let (code, body) = poll.join().unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""items":[]"#), "{body}");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let site = Site::new();
    let output = site.expect(&["server", "--listen", "0.0.0.0:7060"], 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve plain HTTP on 0.0.0.0:7060"),
        "{stderr}"
    );
}

/// A CA and a certificate it signed for 127.0.0.1, as PEM files in `dir`:
/// (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[test]
fn agents_reach_an_https_server_only_with_its_ca() {
    let mut site = Site::new();
    site.add_node("n1");
    let (ca, cert, key) = certificates(site.ctx.dir());
    let server = site.start_server_with(
        0,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let https = |command: &mut Command| {
        command.env("OPM_SERVER", format!("https://{server}"));
    };

    // The system's trust store, or a CA that did not sign the server's
    // certificate: the handshake fails, nothing is sent, and the agent
    // says why (api_faults.rs tries the other trust failures).
    let (other_ca, _, _) = certificates(&site.path("n1"));
    for ca_cert in [None, Some(&other_ca)] {
        let mut wrong = site.node_command("n1", server);
        https(&mut wrong);
        if let Some(ca_cert) = ca_cert {
            wrong.env("OPM_CA_CERT", ca_cert);
        }
        let output = wrong.arg("--once").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("signed by no CA this agent trusts"),
            "{stderr}"
        );
    }
    let mut garbage = site.node_command("n1", server);
    https(&mut garbage);
    let output = garbage
        .env("OPM_CA_CERT", &key)
        .arg("--once")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no certificate in the file"), "{stderr}");

    let mut agent = site.node_command("n1", server);
    https(&mut agent);
    agent.env("OPM_CA_CERT", &ca);
    site.spawn_agent("n1", agent);
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["head", "n1"], &["motd"], "finished");
    assert_eq!(installed(&site.path("n1/root")), ["opkg-motd-client"]);
    // The server saw the agent: which opm, and when (over HTTPS too).
    let listed: serde_json::Value =
        serde_json::from_str(&site.ok(&["--json", "node", "list"])).unwrap();
    let n1 = &listed.as_array().unwrap()[1];
    assert_eq!(n1["name"], "n1", "{listed:#}");
    assert_eq!(
        n1["agent"],
        concat!("opm/", env!("CARGO_PKG_VERSION")),
        "{listed:#}"
    );
    assert!(n1["last_seen_ms"].as_i64().unwrap() > 0, "{listed:#}");
}

/// No two attempts on one target overlap in time.
fn one_at_a_time(history: &[Value], target: &str) {
    let mut spans: Vec<(i64, i64)> = history
        .iter()
        .filter(|e| e["target"] == target && e["event"] == "attempt")
        .map(|e| {
            let started = e["started_ms"].as_i64().unwrap();
            (started, e["ended_ms"].as_i64().unwrap_or(started))
        })
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{target}: attempts overlap: {pair:?}"
        );
    }
}

#[test]
fn two_servers_on_one_postgresql_database_never_work_a_target_at_once() {
    let Some(mut site) = Site::on_postgres() else {
        return;
    };
    site.add_node("n1");
    site.add_node("n2");
    let first = site.start_server(0);
    let second = site.start_server(0);
    assert_ne!(first, second);
    site.start_agent("n1", first);
    site.start_agent("n2", second);
    site.ok(&["install", "clusterfs", "jobqueue", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["head", "n1", "n2"], &OPKGS, "finished");
    let history = site.history();
    for target in ["head", "n1", "n2"] {
        each_stage_passed_once(&history, target);
        one_at_a_time(&history, target);
    }
    for node in ["n1", "n2"] {
        assert_eq!(
            installed(&site.path(&format!("{node}/root"))),
            client_parts(&OPKGS)
        );
    }
}

/// Kills of the agent in [`an_agent_killed_at_random_moments_runs_no_completed_script_twice`].
const AGENT_KILLS: usize = 25;

/// An opkg source whose client scripts (install, and both sides of the
/// removal) append `start`/`end` lines to `record` around a 0.3 s sleep.
fn stepping_opkg(dir: &Path, name: &str, record: &Path) -> PathBuf {
    let source = dir.join(name);
    let record = record.display();
    let scripts: Vec<(&str, String)> = [
        "client-post-install",
        "client-pre-uninstall",
        "client-post-uninstall",
    ]
    .into_iter()
    .map(|hook| {
        let body = format!(
            "echo \"start {name} {hook}\" >> {record}\nsleep 0.3\necho \"end {name} {hook}\" >> {record}"
        );
        (hook, body)
    })
    .collect();
    opkg_source(
        &source,
        name,
        &format!("agent step test opkg {name}"),
        &scripts,
    );
    source
}

/// Kills node `n1`'s agent at seeded pseudo-random moments (at most
/// `budget` times) and starts it again at once, until every row of
/// `packages` on n1 is `current`; the kills made.
fn kill_agent_until(
    site: &mut Site,
    server: SocketAddr,
    packages: &[&str],
    current: &str,
    seed: &mut u64,
    budget: usize,
) -> usize {
    let done = |site: &Site| {
        let status = site.status();
        packages.iter().all(|package| {
            status
                .get(&("n1".to_owned(), (*package).to_owned()))
                .is_some_and(|row| row["current"] == current && row["status"] == "ok")
        })
    };
    let mut kills = 0;
    while kills < budget && !done(site) {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(200 + (*seed >> 33) % 1_200));
        site.kill("n1");
        site.start_agent("n1", server);
        kills += 1;
    }
    site.wait_for(&["n1"], packages, current);
    kills
}

#[test]
fn an_agent_killed_at_random_moments_runs_no_completed_script_twice() {
    let packages = ["agenta", "agentb", "agentc"];
    let mut seed = 0xa6e7_u64;
    let mut kills = 0;
    let mut twice = 0;
    let mut cut = 0;
    let mut sites = 0;
    while kills < AGENT_KILLS {
        let sources = tempfile::tempdir().unwrap();
        let record = sources.path().join("record");
        let opkgs: Vec<PathBuf> = packages
            .iter()
            .map(|name| stepping_opkg(sources.path(), name, &record))
            .collect();
        let mut site = Site::with_sources(&opkgs);
        sites += 1;
        site.add_node("n1");
        let server = site.start_server(0);
        site.start_agent("n1", server);
        let mut install = vec!["install"];
        install.extend(packages);
        site.ok(&install);
        site.ok(&["cluster", "phase", "complete"]);
        kills += kill_agent_until(
            &mut site,
            server,
            &packages,
            "finished",
            &mut seed,
            AGENT_KILLS - kills,
        );
        let mut remove = vec!["remove"];
        remove.extend(packages);
        site.ok(&remove);
        kills += kill_agent_until(
            &mut site,
            server,
            &packages,
            "should_not_be_installed",
            &mut seed,
            AGENT_KILLS - kills,
        );
        let text = std::fs::read_to_string(&record).unwrap();
        for package in packages {
            for hook in [
                "client-post-install",
                "client-pre-uninstall",
                "client-post-uninstall",
            ] {
                let line = format!("end {package} {hook}");
                let count = text.lines().filter(|l| *l == line).count();
                assert!(count >= 1, "{line} never happened:\n{text}");
                twice += count - 1;
                let begun = format!("start {package} {hook}");
                cut += text.lines().filter(|l| *l == begun).count() - count;
            }
        }
    }
    eprintln!(
        "{kills} kills of opm agent over {sites} sites: {cut} scripts cut short, {twice} completed scripts ran twice"
    );
    assert!(
        cut > 0,
        "no kill hit a running script; the test proves nothing"
    );
    assert!(
        twice <= 1,
        "{twice} completed scripts ran a second time after {kills} kills"
    );
}

/// Issue 24: an agent puts the client packages of the opkgs one poll hands
/// it into its root in one dpkg transaction, as the head node does.
#[test]
fn an_agent_installs_the_client_packages_of_one_poll_in_one_transaction() {
    let mut site = Site::new();
    site.add_node("n1");
    let server = site.start_server(0);
    site.start_agent("n1", server);
    site.ok(&["install", "clusterfs", "jobqueue", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_for(&["n1"], &OPKGS, "finished");

    let history = site.history();
    each_stage_passed_once(&history, "n1");
    let mut batched = 0;
    for attempt in history.iter().filter(|e| {
        e["target"] == "n1" && e["stage"] == "install-bin-pkgs" && e["event"] == "attempt"
    }) {
        let id = attempt["id"].as_i64().unwrap().to_string();
        if site
            .ok(&["logs", "--attempt", &id])
            .contains("installed with the other opkgs of this target in one transaction")
        {
            batched += 1;
        }
    }
    // What one poll hands out together shares a transaction (an opkg whose
    // dependency is not yet installed comes in a later poll, alone).
    assert!(batched >= 2, "{batched} batched: {history:#?}");
    assert_eq!(
        installed(&site.path("n1/root")),
        [
            "opkg-clusterfs-client",
            "opkg-jobqueue-client",
            "opkg-motd-client"
        ]
    );
}
