//! Node enrolment end to end, across real processes on loopback: the head
//! node writes enrolment files (`opm node add --enroll`, `opm node
//! enroll`), each node installs its own (`opm agent enroll`) into a
//! directory of its own (opm.conf, settings file, token, CA certificate,
//! sandbox root with dpkg), and real `opm agent` processes trade their
//! one-use tokens at first contact and converge. Also: `opm server tls
//! init` feeding a real HTTPS server, an enrolment used twice, one that
//! expired, a crash in the middle of the trade, and every bad file.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::{Agent, Server, TestContext};
use serde_json::Value;

const MOTD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs/motd");

/// A head node (a [`TestContext`] with motd imported) and the servers
/// and agents started for it, killed when it goes.
struct Site {
    // Before `context`: the processes end before their directory goes.
    servers: Vec<Server>,
    agents: Vec<Agent>,
    context: TestContext,
}

impl Site {
    /// A head node `head` with motd imported; `settings` is its settings
    /// file's text.
    fn new(settings: &str) -> Site {
        let context = TestContext::new(env!("CARGO_BIN_EXE_opm"));
        std::fs::write(context.path("opm.toml"), settings).unwrap();
        context.pack_and_import(&[MOTD]);
        Site {
            servers: Vec::new(),
            agents: Vec::new(),
            context,
        }
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.context.path(rest)
    }

    /// `opm` on machine `machine`: the head node's, or a node's with its
    /// own opm.conf, settings file and root and nothing else of the
    /// test's environment.
    fn on(&self, machine: &str) -> Command {
        if machine == "head" {
            self.context.command()
        } else {
            self.context.machine_command(machine)
        }
    }

    /// `opm ARGS` on `machine`, which must exit with `code`.
    fn expect_on(&self, machine: &str, args: &[&str], code: i32) -> Output {
        let output = self.on(machine).args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "opm {} on {machine}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// `opm ARGS` on the head node, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.expect_on("head", args, 0).stdout).unwrap()
    }

    /// `opm ARGS` on `machine`, which must fail with `code`; its stderr.
    fn refused(&self, machine: &str, args: &[&str], code: i32) -> String {
        String::from_utf8(self.expect_on(machine, args, code).stderr).unwrap()
    }

    /// A compute node's machine: an empty root, and a settings file that
    /// points the agent's token (and with `tls` its CA certificate) into
    /// its directory.
    fn machine(&self, name: &str, tls: bool) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        let mut settings = format!(
            "# the agent's files\ntoken_file = \"{dir}/agent.token\"\nspool = \"{dir}/spool.json\"\n",
            dir = dir.display()
        );
        if tls {
            settings.push_str(&format!("ca_cert = \"{}/ca.pem\"\n", dir.display()));
        }
        std::fs::write(dir.join("opm.toml"), settings).unwrap();
        dir
    }

    /// Starts `opm server` on the head node with `extra` arguments; the
    /// port it listens on.
    fn start_server(&mut self, extra: &[&str]) -> u16 {
        let server = self.context.server(extra);
        let port = server.addr().port();
        self.servers.push(server);
        port
    }

    /// Starts `opm agent` on node `name`, with nothing but its machine's
    /// files to go by.
    fn start_agent(&mut self, name: &str) {
        let command = self.context.machine_command(name);
        let agent = self
            .context
            .spawn_agent(name, command, &["--poll-wait", "2"]);
        self.agents.push(agent);
    }

    /// Waits until every row of `targets` for motd is finished and ok.
    fn wait_finished(&self, targets: &[&str]) {
        let started = Instant::now();
        loop {
            let rows: Vec<Value> = serde_json::from_str(&self.ok(&["--json", "status"])).unwrap();
            let finished: BTreeMap<String, bool> = rows
                .iter()
                .map(|row| {
                    (
                        row["target"].as_str().unwrap().to_owned(),
                        row["current"] == "finished" && row["status"] == "ok",
                    )
                })
                .collect();
            if targets.iter().all(|t| finished.get(*t) == Some(&true)) {
                return;
            }
            let logs: String = targets
                .iter()
                .map(|t| {
                    let log = std::fs::read_to_string(self.path(&format!("{t}/agent.log")));
                    format!("{t}: {}\n", log.unwrap_or_default())
                })
                .collect();
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "rows never finished: {rows:#?}\n{logs}server:\n{}",
                std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn two_agents_enrolled_from_files_converge_over_https_from_tls_init() {
    let mut site = Site::new("");
    // The head node's own CA and certificate, for the names the nodes use.
    let tls = site.path("tls");
    let lines = site.ok(&[
        "server",
        "tls",
        "init",
        "--names",
        "localhost,127.0.0.1",
        "--dir",
        tls.to_str().unwrap(),
    ]);
    for (file, want) in [
        ("ca.key", 0o600),
        ("server.key", 0o600),
        ("ca.pem", 0o644),
        ("server.pem", 0o644),
    ] {
        assert_eq!(mode(&tls.join(file)), want, "{file}");
    }
    // The lines it prints are the settings that use them.
    assert!(
        lines.contains(&format!(
            "tls_cert = \"{}\"",
            tls.join("server.pem").display()
        )),
        "{lines}"
    );
    assert!(
        lines.contains(&format!("ca_cert = \"{}\"", tls.join("ca.pem").display())),
        "{lines}"
    );
    let settings: String = lines
        .lines()
        .filter(|line| !line.starts_with("listen") && !line.starts_with("server_url"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(site.path("opm.toml"), settings).unwrap();
    let port = site.start_server(&[]);
    let url = format!("https://localhost:{port}");

    site.ok(&[
        "node",
        "add",
        "n1",
        "--enroll",
        "n1.enroll",
        "--server-url",
        &url,
    ]);
    site.ok(&["node", "add", "n2"]);
    site.ok(&[
        "node",
        "enroll",
        "n2",
        "--out",
        "n2.enroll",
        "--server-url",
        &url,
    ]);
    for node in ["n1", "n2"] {
        let file = site.path(&format!("{node}.enroll"));
        assert_eq!(mode(&file), 0o600);
        let text = read(&file);
        assert!(text.contains("-----BEGIN CERTIFICATE-----"), "{text}");
        assert!(text.contains(&format!("server: {url}")), "{text}");

        // Copied to the node, which installs it.
        let dir = site.machine(node, true);
        std::fs::copy(&file, dir.join("node.enroll")).unwrap();
        let out = site.expect_on(node, &["agent", "enroll", "node.enroll"], 0);
        let said = String::from_utf8(out.stdout).unwrap();
        assert!(said.contains("systemctl enable --now opm-agent"), "{said}");
        assert_eq!(read(&dir.join("opm.conf")), format!("client\n{node}\n"));
        assert_eq!(mode(&dir.join("agent.token")), 0o600);
        assert!(read(&dir.join("agent.token")).starts_with("enroll-"));
        assert_eq!(read(&dir.join("ca.pem")), read(&tls.join("ca.pem")));
        let settings = read(&dir.join("opm.toml"));
        assert!(settings.starts_with("# the agent's files\n"), "{settings}");
        assert!(
            settings.contains(&format!("server = \"{url}\"")),
            "{settings}"
        );
        site.start_agent(node);
    }

    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.wait_finished(&["head", "n1", "n2"]);
    // Each agent traded the enrolment's token for its own.
    for node in ["n1", "n2"] {
        let dir = site.path(node);
        let token = read(&dir.join("agent.token"));
        assert!(
            !token.starts_with("enroll-") && token.trim().len() == 64,
            "{token}"
        );
        assert_eq!(mode(&dir.join("agent.token")), 0o600);
        assert!(!dir.join("agent.token.next").exists());
    }
}

/// A head node serving plain HTTP on loopback with node `n1` added; the
/// server's URL.
fn plain_site() -> (Site, String) {
    let mut site = Site::new("");
    let port = site.start_server(&[]);
    site.ok(&["node", "add", "n1"]);
    (site, format!("http://127.0.0.1:{port}"))
}

#[test]
fn an_enrolment_file_works_once() {
    let (site, url) = plain_site();
    site.ok(&[
        "node",
        "enroll",
        "n1",
        "--out",
        "n1.enroll",
        "--server-url",
        &url,
    ]);
    let file = site.path("n1.enroll");
    for machine in ["n1", "n1-copy"] {
        site.machine(machine, false);
        let mut enroll = site.on(machine);
        let out = enroll
            .args(["agent", "enroll"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    site.expect_on("n1", &["agent", "--once"], 0);
    // The same file on another machine: the server says it was used.
    let stderr = site.refused("n1-copy", &["agent", "--once"], 2);
    assert!(
        stderr.contains("the enrolment of node n1 was already used"),
        "{stderr}"
    );
    assert!(stderr.contains("opm node enroll n1 --out FILE"), "{stderr}");
    assert!(read(&site.path("n1-copy/agent.token")).starts_with("enroll-"));
    // The node that used it keeps working with its own token.
    site.expect_on("n1", &["agent", "--once"], 0);
    // Enrolling it again on the same machine over its own token needs --force.
    let stderr = site.refused("n1", &["agent", "enroll", file.to_str().unwrap()], 2);
    assert!(
        stderr.contains("holds another token (this machine is enrolled already)"),
        "{stderr}"
    );
}

#[test]
fn an_enrolment_expires() {
    let (site, url) = plain_site();
    site.machine("n1", false);
    let file = site.path("n1.enroll");
    let args = [
        "node",
        "enroll",
        "n1",
        "--out",
        "n1.enroll",
        "--server-url",
        &url,
    ];

    // Expired before the node installed it: refused there.
    site.ok(&[&args[..], &["--expires", "1s"]].concat());
    std::thread::sleep(Duration::from_millis(1100));
    let stderr = site.refused("n1", &["agent", "enroll", file.to_str().unwrap()], 2);
    assert!(
        stderr.contains("the enrolment of node n1 expired at"),
        "{stderr}"
    );
    assert!(!site.path("n1/opm.conf").exists());

    // Installed in time, expired before first contact: refused by the server.
    site.ok(&[&args[..], &["--expires", "2s", "--overwrite"]].concat());
    site.expect_on("n1", &["agent", "enroll", file.to_str().unwrap()], 0);
    std::thread::sleep(Duration::from_millis(2100));
    let stderr = site.refused("n1", &["agent", "--once"], 2);
    assert!(
        stderr.contains("the enrolment of node n1 expired at"),
        "{stderr}"
    );

    // The default is a day, and a new file replaces the old.
    site.ok(&[&args[..], &["--overwrite"]].concat());
    let text = read(&file);
    let expires = text
        .lines()
        .find_map(|l| l.strip_prefix("expires: "))
        .unwrap();
    let in_a_day = opm_model::format_utc(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
            + 24 * 3600 * 1000,
    );
    assert_eq!(&expires[..13], &in_a_day[..13], "{text}");
    site.expect_on("n1", &["agent", "enroll", file.to_str().unwrap()], 0);
    site.expect_on("n1", &["agent", "--once"], 0);
}

/// Trades an enrolment token as an agent would, without keeping the
/// answer: the server has taken `own` as node `node`'s token.
fn trade(url: &str, enrolment_token: &str, node: &str, own: &str) {
    let client = opm_api::client::ApiClient::new(url, enrolment_token, None).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.enroll(&opm_model::api::EnrollRequest {
            node: node.to_owned(),
            token_hash: opm_api::auth::token_hash(own),
        }))
        .unwrap();
}

#[test]
fn a_crash_during_the_first_contact_never_locks_the_node_out() {
    let (site, url) = plain_site();
    site.ok(&["node", "add", "n2"]);
    for node in ["n1", "n2"] {
        site.ok(&[
            "node",
            "enroll",
            node,
            "--out",
            &format!("{node}.enroll"),
            "--server-url",
            &url,
        ]);
        let dir = site.machine(node, false);
        let file = site.path(&format!("{node}.enroll"));
        site.expect_on(node, &["agent", "enroll", file.to_str().unwrap()], 0);
        assert!(read(&dir.join("agent.token")).starts_with("enroll-"));
    }
    let own = "0123456789abcdef".repeat(4);

    // n1's agent died after keeping its new token beside the token file,
    // before the server heard of it: the next start trades with it.
    std::fs::write(site.path("n1/agent.token.next"), format!("{own}\n")).unwrap();
    site.expect_on("n1", &["agent", "--once"], 0);
    assert_eq!(read(&site.path("n1/agent.token")).trim(), own);
    assert!(!site.path("n1/agent.token.next").exists());

    // n2's agent died after the server took its new token, before it moved
    // the token into place: the server recognises the same trade.
    let other = "fedcba9876543210".repeat(4);
    let enrolment = read(&site.path("n2/agent.token"));
    trade(&url, enrolment.trim(), "n2", &other);
    std::fs::write(site.path("n2/agent.token.next"), format!("{other}\n")).unwrap();
    site.expect_on("n2", &["agent", "--once"], 0);
    assert_eq!(read(&site.path("n2/agent.token")).trim(), other);
    site.expect_on("n2", &["agent", "--once"], 0);

    // Two processes of one node making the first contact at once (the
    // daemon and an `opm run`): both end with the node's token, and the
    // token file holds it.
    site.ok(&["node", "add", "n3"]);
    site.ok(&[
        "node",
        "enroll",
        "n3",
        "--out",
        "n3.enroll",
        "--server-url",
        &url,
    ]);
    site.machine("n3", false);
    let file = site.path("n3.enroll");
    site.expect_on("n3", &["agent", "enroll", file.to_str().unwrap()], 0);
    // (Each with a spool of its own: a node's spool takes one agent.)
    let both: Vec<Child> = (0..2)
        .map(|process| {
            site.on("n3")
                .env("OPM_SPOOL", site.path(&format!("n3/spool-{process}.json")))
                .args(["agent", "--once"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in both {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(!read(&site.path("n3/agent.token")).starts_with("enroll-"));
    site.expect_on("n3", &["agent", "--once"], 0);
}

#[test]
fn bad_enrolments_are_refused_with_the_reason_and_change_nothing() {
    let (site, url) = plain_site();
    site.machine("n1", false);
    let head_file = site.path("n1.enroll");

    // The head node: no URL, an unknown node, the head node itself, a file
    // in the way.
    let stderr = site.refused("head", &["node", "enroll", "n1", "--out", "n1.enroll"], 2);
    assert!(stderr.contains("--server-url"), "{stderr}");
    assert!(!head_file.exists());
    let stderr = site.refused(
        "head",
        &[
            "node",
            "enroll",
            "ghost",
            "--out",
            "g.enroll",
            "--server-url",
            &url,
        ],
        2,
    );
    assert!(stderr.contains("ghost"), "{stderr}");
    assert!(!site.path("g.enroll").exists());
    let stderr = site.refused(
        "head",
        &[
            "node",
            "enroll",
            "head",
            "--out",
            "h.enroll",
            "--server-url",
            &url,
        ],
        2,
    );
    assert!(stderr.contains("head is the head node"), "{stderr}");
    std::fs::write(&head_file, "keep me").unwrap();
    let stderr = site.refused(
        "head",
        &[
            "node",
            "enroll",
            "n1",
            "--out",
            "n1.enroll",
            "--server-url",
            &url,
        ],
        2,
    );
    assert!(
        stderr.contains("n1.enroll exists; pass --overwrite"),
        "{stderr}"
    );
    let stderr = site.refused(
        "head",
        &[
            "node",
            "add",
            "n3",
            "--enroll",
            "n1.enroll",
            "--server-url",
            &url,
        ],
        2,
    );
    assert!(stderr.contains("n1.enroll exists"), "{stderr}");
    assert_eq!(read(&head_file), "keep me");
    let stderr = site.refused("head", &["node", "add", "n3", "--expires", "1h"], 2);
    assert!(stderr.contains("pass --enroll FILE too"), "{stderr}");
    let nodes = site.ok(&["node", "list"]);
    assert!(
        !nodes.contains("n3"),
        "a refused add --enroll added the node: {nodes}"
    );
    site.ok(&[
        "node",
        "enroll",
        "n1",
        "--out",
        "n1.enroll",
        "--server-url",
        &url,
        "--overwrite",
    ]);

    // The node: unreadable, malformed, another machine's.
    let stderr = site.refused("n1", &["agent", "enroll", "missing.enroll"], 2);
    assert!(stderr.contains("cannot read missing.enroll"), "{stderr}");
    std::fs::write(site.path("n1/junk.enroll"), "client\nn1\n").unwrap();
    let stderr = site.refused("n1", &["agent", "enroll", "junk.enroll"], 2);
    assert!(
        stderr.contains("junk.enroll: line 1: expected 'opm-enrolment: 1'"),
        "{stderr}"
    );
    let cut: String = read(&head_file)
        .lines()
        .take(6)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(site.path("n1/cut.enroll"), cut).unwrap();
    let stderr = site.refused("n1", &["agent", "enroll", "cut.enroll"], 2);
    assert!(stderr.contains("expected 'expires: ...'"), "{stderr}");
    std::fs::write(site.path("n1/opm.conf"), "client\nn2\n").unwrap();
    let stderr = site.refused("n1", &["agent", "enroll", head_file.to_str().unwrap()], 2);
    assert!(
        stderr.contains("says this machine is client n2; pass --force"),
        "{stderr}"
    );
    assert_eq!(read(&site.path("n1/opm.conf")), "client\nn2\n");
    assert!(!site.path("n1/agent.token").exists());

    // Installed, then opm.conf changed to another node: the server refuses
    // to make n1's token the other node's.
    site.ok(&["node", "add", "n2"]);
    site.expect_on(
        "n1",
        &["agent", "enroll", "--force", head_file.to_str().unwrap()],
        0,
    );
    std::fs::write(site.path("n1/opm.conf"), "client\nn2\n").unwrap();
    let stderr = site.refused("n1", &["agent", "--once"], 2);
    assert!(
        stderr.contains("the enrolment file is node n1's, and this agent is node n2"),
        "{stderr}"
    );

    // tls init never writes over its files.
    let tls = site.path("tls");
    site.ok(&[
        "server",
        "tls",
        "init",
        "--names",
        "head",
        "--dir",
        tls.to_str().unwrap(),
    ]);
    let before = read(&tls.join("server.key"));
    let stderr = site.refused(
        "head",
        &[
            "server",
            "tls",
            "init",
            "--names",
            "head",
            "--dir",
            tls.to_str().unwrap(),
        ],
        2,
    );
    assert!(stderr.contains("ca.pem exists"), "{stderr}");
    assert_eq!(read(&tls.join("server.key")), before);
    let stderr = site.refused(
        "head",
        &[
            "server",
            "tls",
            "init",
            "--names",
            "head_1",
            "--dir",
            "elsewhere",
        ],
        2,
    );
    assert!(stderr.contains("'head_1' is not a host name"), "{stderr}");
}
