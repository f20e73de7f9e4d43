//! Watching `opm server` from outside, across processes on loopback: the
//! open `/healthz` and `/readyz` probes (and `/readyz` failing when the
//! PostgreSQL database goes away), `/metrics` after real work checked by
//! Debian's `promtool` and scraped by a real Prometheus, and the shipped
//! Grafana dashboard naming only metrics a real scrape has.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::TestContext;
use opm_testkit::tools::have_tool;
use serde_json::{Value, json};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contrib/grafana/opm.json"
);
const OPKGS: [&str; 2] = ["clusterfs", "motd"];

/// The longest any wait of these tests lasts.
const PATIENCE: Duration = Duration::from_secs(60);

/// A head node on database `db` (a SQLite file of its own when `None`),
/// the example opkgs imported.
fn site(db: Option<String>) -> TestContext {
    let bin = env!("CARGO_BIN_EXE_opm");
    let site = match db {
        Some(db) => TestContext::with_database(bin, db),
        None => TestContext::new(bin),
    };
    let examples: Vec<String> = OPKGS.iter().map(|n| format!("{EXAMPLES}/{n}")).collect();
    let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
    site.pack_and_import(&examples);
    site
}

/// Does some work: the head node installs motd (the server's own
/// passes), and node n1's first motd stage passes through the agents'
/// API; waits until both are in the metrics.
fn work(site: &TestContext, server: SocketAddr) {
    let n1 = site.add_node("n1");
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    let poll = json!({"agent": "probe", "node": "n1", "wait_ms": 0});
    let batch = wait_for("n1's motd work", || {
        let (code, body) = http(server, "POST", "/v1/agent/poll", Some(&n1), &poll);
        assert_eq!(code, 200, "{body}");
        let batch: Value = serde_json::from_str(&body).unwrap();
        (!batch["items"].as_array().unwrap().is_empty()).then_some(batch)
    });
    let item = &batch["items"][0];
    let start = json!({"row": item["row"], "stage": item["stage"], "token": batch["token"]});
    let (code, started) = http(server, "POST", "/v1/agent/start", Some(&n1), &start);
    assert_eq!(code, 200, "{started}");
    let started: Value = serde_json::from_str(&started).unwrap();
    let finish = json!({
        "attempt": started["attempt"], "token": batch["token"], "passed": true,
        "exit_code": 0, "output": "", "message": null, "transient": false,
    });
    let (code, finished) = http(server, "POST", "/v1/agent/finish", Some(&n1), &finish);
    assert_eq!(code, 200, "{finished}");
    wait_for("both runners' attempts in /metrics", || {
        let text = get(server, "/metrics").1;
        (text.contains(r#"runner="head""#) && text.contains(r#"runner="agent""#)).then_some(())
    });
}

/// Asks `what` again every 200 ms until it gives something; fails after
/// [`PATIENCE`].
fn wait_for<T>(what: &str, mut ask: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = ask() {
            return found;
        }
        assert!(started.elapsed() < PATIENCE, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One raw HTTP/1.1 request, JSON body when given; the status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, String) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
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

/// `GET path` without a token.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, None, &Value::Null)
}

/// The metric family names of an exposition text.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A loopback port free now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn health_and_readiness_answer_without_a_token_and_readiness_fails_without_the_database() {
    let Some(postgres) = opm_testkit::postgres() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(postgres.fresh_database()).unwrap();
    let site = site(Some(url.clone()));
    let server_process = site.server(&[]);
    let server = server_process.addr();
    assert_eq!(get(server, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(server, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(get(server, "/metrics").0, 200);

    // The database goes away under the running server.
    let name = url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap();
    let dropped = Command::new("psql")
        .arg(postgres.admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("DROP DATABASE {name} WITH (FORCE)"))
        .output()
        .unwrap();
    assert!(
        dropped.status.success(),
        "{}",
        String::from_utf8_lossy(&dropped.stderr)
    );
    let (code, body) = wait_for("/readyz to fail", || {
        let answer = get(server, "/readyz");
        (answer.0 != 200).then_some(answer)
    });
    assert_eq!(code, 503, "{body}");
    assert_eq!(body, "not ready: the database does not answer\n");
    assert!(!body.contains(&url) && !body.contains(name), "{body}");
    // The process still lives; a scrape says the database is missing (once
    // the counts it may reuse, 2 s at most, are too old).
    assert_eq!(get(server, "/healthz"), (200, "ok\n".to_owned()));
    wait_for("/metrics to fail", || {
        (get(server, "/metrics").0 == 503).then_some(())
    });
}

#[test]
fn readiness_fails_while_the_schema_is_not_this_opms() {
    if !have_tool("sqlite3") {
        return;
    }
    let site = site(None);
    let server_process = site.server(&[]);
    let server = server_process.addr();
    assert_eq!(get(server, "/readyz"), (200, "ready\n".to_owned()));
    let db = site.path("opm.db");
    let sql = |statement: &str| {
        let output = Command::new("sqlite3")
            .arg(&db)
            .arg(statement)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let readyz = || {
        wait_for("/readyz to fail", || {
            let answer = get(server, "/readyz");
            (answer.0 != 200).then_some(answer)
        })
    };
    // A newer opm ran its migrations while this server runs.
    sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999, 'from the future', 1, x'00', 0)",
    );
    assert_eq!(
        readyz(),
        (
            503,
            "not ready: a newer opm migrated the database; upgrade this server\n".to_owned()
        )
    );
    // A migration of this opm is missing (the record of it, here).
    sql("DELETE FROM _sqlx_migrations WHERE version = 99999");
    assert_eq!(get(server, "/readyz").0, 200);
    sql("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)");
    assert_eq!(
        readyz(),
        (
            503,
            "not ready: the database lacks migrations of this opm; run 'opm init'\n".to_owned()
        )
    );
    assert_eq!(get(server, "/healthz"), (200, "ok\n".to_owned()));
}

#[test]
fn metrics_after_real_work_pass_promtool() {
    if !have_tool("promtool") {
        return;
    }
    let site = site(None);
    let server_process = site.server(&[]);
    let server = server_process.addr();
    work(&site, server);
    let (code, text) = get(server, "/metrics");
    assert_eq!(code, 200, "{text}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // Bounded labels: statuses, stages, and one series per node for contacts.
    assert!(text.contains(r#"opm_rows{status="ok"}"#), "{text}");
    assert!(
        text.contains(r#"opm_node_last_contact_age_seconds{node="n1"}"#),
        "{text}"
    );
    assert!(text.contains("opm_agents_connected 1"), "{text}");
    assert!(
        text.contains(&format!(
            r#"opm_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}

#[test]
fn a_restarted_server_reports_the_stored_agent_contacts_at_once() {
    let site = site(None);
    let server = site.server(&[]);
    work(&site, server.addr());
    drop(server);
    // The contacts' one record is the database's: a new server process
    // reports n1's agent as `opm node list` shows it, before any call.
    let server = site.server(&[]);
    let (code, text) = get(server.addr(), "/metrics");
    assert_eq!(code, 200, "{text}");
    let age = text
        .lines()
        .find_map(|line| line.strip_prefix(r#"opm_node_last_contact_age_seconds{node="n1"} "#))
        .unwrap_or_else(|| panic!("no contact of n1 in\n{text}"));
    assert!(age.parse::<f64>().unwrap() < 60.0, "{text}");
    assert!(text.contains("opm_agents_connected 1\n"), "{text}");
    let nodes: Vec<Value> = serde_json::from_str(&site.ok(&["--json", "node", "list"])).unwrap();
    let n1 = nodes.iter().find(|node| node["name"] == "n1").unwrap();
    assert!(n1["last_seen_ms"].is_i64(), "{n1}");
}

#[test]
fn the_grafana_dashboard_names_only_metrics_a_real_scrape_has() {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(!exprs.is_empty(), "the dashboard has no queries");
    let site = site(None);
    let server_process = site.server(&[]);
    let server = server_process.addr();
    work(&site, server);
    let known = families(&get(server, "/metrics").1);
    for expr in &exprs {
        for name in metric_names(expr) {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| known.contains(*base))
                .unwrap_or(&name);
            assert!(
                known.contains(family),
                "the dashboard's query {expr:?} names {name}, which /metrics does not have \
                 (it has {known:?})"
            );
        }
    }
}

/// Every `expr` string of the dashboard's panels' targets.
fn collect_exprs(value: &Value, exprs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("expr", Value::String(expr)) => exprs.push(expr.clone()),
                    _ => collect_exprs(inner, exprs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, exprs)),
        _ => {}
    }
}

/// The `opm_` names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("opm_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// A Prometheus server of its own, killed and its data removed at the end.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts `binary` scraping `target` every second.
    fn start(binary: &Path, target: SocketAddr) -> Prometheus {
        let data = tempfile::tempdir().unwrap();
        let config = data.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: opm\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                data.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            addr,
            _data: data,
        }
    }

    /// The result vector of an instant query, once the server answers.
    fn query(&self, query: &str) -> Option<Vec<Value>> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        // Not listening yet: ask again later.
        TcpStream::connect(self.addr).ok()?;
        let (code, body) = get(self.addr, &format!("/api/v1/query?query={encoded}"));
        if code != 200 {
            return None;
        }
        let answer: Value = serde_json::from_str(&body).ok()?;
        answer["data"]["result"].as_array().cloned()
    }
}

#[test]
fn a_real_prometheus_scrapes_the_server() {
    let binary = Path::new("/usr/bin/prometheus");
    if !binary.is_file() {
        eprintln!("SKIPPED: /usr/bin/prometheus is not installed (Debian's prometheus)");
        return;
    }
    let site = site(None);
    let server_process = site.server(&[]);
    let server = server_process.addr();
    work(&site, server);
    let prometheus = Prometheus::start(binary, server);
    // The rows as Prometheus saw them are the rows `opm status` lists.
    let rows = wait_for("Prometheus to scrape the rows", || {
        let result = prometheus.query("sum(opm_rows)")?;
        let value = result.first()?["value"][1].as_str()?.to_owned();
        Some(value)
    });
    let expected = site.ok(&["--json", "status"]);
    let expected: Vec<Value> = serde_json::from_str(&expected).unwrap();
    assert_eq!(rows, expected.len().to_string());
    let attempts = wait_for("Prometheus to have the agent's attempt", || {
        let result = prometheus
            .query(r#"sum(opm_stage_attempts_total{runner="agent",outcome="passed"})"#)?;
        Some(result.first()?["value"][1].as_str()?.to_owned())
    });
    assert_eq!(attempts, "1");
    let up = prometheus.query(r#"up{job="opm"}"#).unwrap();
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
}
