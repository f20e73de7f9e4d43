//! Faults and hostile input against the HTTP API and the agent, across
//! processes on loopback: the real `opm server`, the real `opm agent`, raw
//! HTTP/1.1 over TCP so what is checked is exactly what goes over the
//! wire. Each test is a case of docs/faults.md ("HTTP API and agents").

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use opm_testkit::TestContext;
use serde_json::{Value, json};

use opm_testkit::sandbox::installed;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const OPKGS: [&str; 4] = ["clusterfs", "jobqueue", "motd", "altqueue"];

/// A head node with a SQLite database and the example opkgs packed and
/// imported.
fn site() -> TestContext {
    let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    let examples: Vec<String> = OPKGS.iter().map(|n| format!("{EXAMPLES}/{n}")).collect();
    let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
    site.pack_and_import(&examples);
    site
}

/// `opm agent --once` as node `name`, talking to `server` (a URL).
fn agent(site: &TestContext, name: &str, server: &str) -> Command {
    let mut command = site.node_command(name, server);
    command
        .args(["agent", "--once", "--spool"])
        .arg(site.path(name).join("spool.json"));
    command
}

/// `opm status --json` row of (target, package).
fn status_row(site: &TestContext, target: &str, package: &str) -> Value {
    // Exit 1 says a row is in error; the rows are printed all the same.
    let output = site.opm(&["--json", "status"]);
    let rows: Vec<Value> = serde_json::from_str(&output.stdout).unwrap();
    rows.into_iter()
        .find(|row| row["target"] == target && row["package"] == package)
        .unwrap_or(Value::Null)
}

/// Waits until `done` holds.
fn wait_until(site: &TestContext, what: &str, done: impl Fn(&TestContext) -> bool) {
    let started = Instant::now();
    while !done(site) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One raw HTTP/1.1 request with `Authorization: SCHEME TOKEN` when a
/// token is given; the status and the body.
fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((scheme, token)) = auth {
        head.push_str(&format!("Authorization: {scheme} {token}\r\n"));
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

/// [`http_with`] with a `Bearer` token.
fn http(addr: SocketAddr, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    http_with(addr, method, path, Some(("Bearer", token)), body)
}

/// POSTs `body` as JSON; asserts the status; the answer as JSON.
fn post(addr: SocketAddr, path: &str, token: &str, body: &Value, code: u16) -> Value {
    let (status, answer) = http(addr, "POST", path, token, body.to_string().as_bytes());
    assert_eq!(status, code, "POST {path} {body}: {answer}");
    serde_json::from_str(&answer).unwrap_or(Value::Null)
}

/// A poll of node `node`'s work that does not wait.
fn poll(addr: SocketAddr, token: &str, node: &str) -> Value {
    let body = json!({"agent": "probe", "node": node, "wait_ms": 0});
    post(addr, "/v1/agent/poll", token, &body, 200)
}

/// The stage the batch hands out for `package`, and its row id.
fn handed_out(batch: &Value, package: &str) -> Option<(i64, String)> {
    batch["items"].as_array().unwrap().iter().find_map(|item| {
        (item["package"] == package).then(|| {
            (
                item["row"].as_i64().unwrap(),
                item["stage"].as_str().unwrap().to_owned(),
            )
        })
    })
}

/// Starts and passes `stage` of `row` under lease `token`.
fn pass(addr: SocketAddr, node_token: &str, row: i64, stage: &str, token: u64) {
    let start = json!({"row": row, "stage": stage, "token": token});
    let started = post(addr, "/v1/agent/start", node_token, &start, 200);
    let finish = json!({
        "attempt": started["attempt"], "token": token, "passed": true,
        "exit_code": null, "output": "", "message": null, "transient": false,
    });
    post(addr, "/v1/agent/finish", node_token, &finish, 200);
}

#[test]
fn agents_start_only_stages_handed_out_behind_an_open_gate() {
    let site = site();
    let n1 = site.add_node("n1");
    let server_process = site.server(&[]);
    let server = server_process.addr();
    site.ok(&["cluster", "phase", "setup_wizard"]);
    // jobqueue depends on clusterfs: only clusterfs's first stage is
    // handed out, jobqueue's waits.
    for package in ["motd", "clusterfs", "jobqueue"] {
        site.ok(&["request", package, "--stage", "finished", "--node", "n1"]);
    }
    let batch = poll(server, &n1, "n1");
    let token = batch["token"].as_u64().unwrap();
    assert!(handed_out(&batch, "clusterfs").is_some(), "{batch:#}");
    assert_eq!(handed_out(&batch, "jobqueue"), None, "{batch:#}");

    // jobqueue's row is n1's and its next step is should_be_installed, the
    // lease is current: still it was not handed out.
    let jobqueue = status_row(&site, "n1", "jobqueue");
    assert_eq!(jobqueue["current"], "should_not_be_installed");
    let rows: Vec<i64> = (1..=30).collect();
    let refused = rows
        .iter()
        .filter(|row| {
            !batch["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["row"] == **row)
        })
        .map(|row| {
            let start = json!({"row": row, "stage": "should_be_installed", "token": token});
            http(
                server,
                "POST",
                "/v1/agent/start",
                &n1,
                start.to_string().as_bytes(),
            )
        })
        .filter(|(code, body)| *code == 409 && body.contains("was not handed out"))
        .count();
    assert!(refused >= 1, "jobqueue's stage was not refused");
    assert_eq!(status_row(&site, "n1", "jobqueue")["status"], "ok");

    // motd walks the stages its gate opens, then the next poll hands out
    // nothing: install-bin-pkgs waits for build_image.
    let (motd, stage) = handed_out(&batch, "motd").unwrap();
    assert_eq!(stage, "should_be_installed");
    pass(server, &n1, motd, &stage, token);
    let batch = poll(server, &n1, "n1");
    let token = batch["token"].as_u64().unwrap();
    assert_eq!(
        handed_out(&batch, "motd"),
        Some((motd, "run-configurator".to_owned()))
    );
    pass(server, &n1, motd, "run-configurator", token);
    // The lease is current (clusterfs's stage is still handed out under
    // it), motd's next step is install-bin-pkgs, and its gate is closed.
    let batch = poll(server, &n1, "n1");
    let token = batch["token"].as_u64().unwrap();
    assert_ne!(token, 0, "{batch:#}");
    assert_eq!(handed_out(&batch, "motd"), None, "{batch:#}");
    let start = json!({"row": motd, "stage": "install-bin-pkgs", "token": token});
    let start = start.to_string();
    let (code, body) = http(server, "POST", "/v1/agent/start", &n1, start.as_bytes());
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("install-bin-pkgs of row"), "{body}");
    let row = status_row(&site, "n1", "motd");
    assert_eq!(row["current"], "run-configurator", "{row:#}");
    assert_eq!(row["status"], "ok", "{row:#}");

    // Handed out once the phase opens the gate, but the phase is set back
    // before the stage starts: refused, by the gate.
    site.ok(&["cluster", "phase", "build_image"]);
    let batch = poll(server, &n1, "n1");
    assert_eq!(
        handed_out(&batch, "motd"),
        Some((motd, "install-bin-pkgs".to_owned()))
    );
    let token = batch["token"].as_u64().unwrap();
    let start = json!({"row": motd, "stage": "install-bin-pkgs", "token": token});
    site.ok(&["cluster", "phase", "setup_wizard"]);
    let refused = post(server, "/v1/agent/start", &n1, &start, 409);
    assert!(
        refused["error"].as_str().unwrap().contains(
            "gate build_image of install-bin-pkgs is not open while the phase is setup_wizard"
        ),
        "{refused:#}"
    );
    let history: Vec<Value> = serde_json::from_str(&site.ok(&["--json", "history"])).unwrap();
    assert!(
        !history
            .iter()
            .any(|entry| entry["stage"] == "install-bin-pkgs" && entry["target"] == "n1"),
        "{history:#?}"
    );
    // With the gate open again it starts.
    site.ok(&["cluster", "phase", "build_image"]);
    post(server, "/v1/agent/start", &n1, &start, 200);
}

#[test]
fn an_agent_whose_opm_conf_names_another_node_is_refused() {
    let site = site();
    site.add_node("n1");
    let n4 = site.add_node("n4");
    let server_process = site.server(&[]);
    let server = server_process.addr();
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    wait_until(&site, "n4 / motd is requested", |site| {
        status_row(site, "n4", "motd")["requested"] == "finished"
    });
    // Node n4's rows now want motd; n1's agent is given n4's token.
    std::fs::write(site.path("n1/token"), &n4).unwrap();
    let output = agent(&site, "n1", &format!("http://{server}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("this token belongs to n4, but this agent's opm.conf says n1"),
        "{stderr}"
    );
    assert_eq!(installed(&site.path("n1/root")), Vec::<String>::new());
    let row = status_row(&site, "n4", "motd");
    assert_eq!(row["requested"], "finished", "{row:#}");
    assert_eq!(row["current"], "should_not_be_installed", "{row:#}");

    // A poll that does not say which node it speaks for, or names no
    // node, is bad input.
    for bad in [
        json!({"agent": "probe", "wait_ms": 0}),
        json!({"agent": "probe", "node": "not a name", "wait_ms": 0}),
    ] {
        post(server, "/v1/agent/poll", &n4, &bad, 400);
    }
    // Its own token works.
    let batch = poll(server, &n4, "n4");
    assert!(handed_out(&batch, "motd").is_some(), "{batch:#}");
}

#[test]
fn the_agent_warns_about_a_token_file_others_can_read() {
    let site = site();
    site.add_node("n1");
    // No server listens on port 1: the agent reads its token, then fails.
    for (mode, warned) in [(0o644, true), (0o640, true), (0o600, false)] {
        std::fs::set_permissions(site.path("n1/token"), std::fs::Permissions::from_mode(mode))
            .unwrap();
        let output = agent(&site, "n1", "http://127.0.0.1:1").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.contains("can be read by others than its owner"),
            warned,
            "mode {mode:o}: {stderr}"
        );
    }
}

/// A CA and a certificate it signed for `names`, as PEM files in `dir`:
/// (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let cert = rcgen::CertificateParams::new(names)
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
fn tls_trust_failures_say_which() {
    let site = site();
    site.add_node("n1");
    let (ca, cert, key) = certificates(&site.path("tls"), &["127.0.0.1"]);
    let (other_ca, _, _) = certificates(&site.path("other"), &["127.0.0.1"]);
    let tls_process = site.server(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let tls = tls_process.addr();
    let plain_process = site.server(&[]);
    let plain = plain_process.addr();
    let cases = [
        // A CA that did not sign the server's certificate.
        (
            format!("https://{tls}"),
            Some(&other_ca),
            "presented a certificate signed by no CA this agent trusts",
        ),
        // The system's trust store, which does not know the CA either.
        (
            format!("https://{tls}"),
            None,
            "presented a certificate signed by no CA this agent trusts",
        ),
        // The right CA, but the certificate names 127.0.0.1, not localhost.
        (
            format!("https://localhost:{}", tls.port()),
            Some(&ca),
            "presented a certificate made for another host name",
        ),
        // Plain HTTP to the HTTPS port, and HTTPS to a plain one.
        (
            format!("http://{tls}"),
            None,
            "does not answer in plain HTTP; if it serves HTTPS, use an https:// URL",
        ),
        (
            format!("https://{plain}"),
            Some(&ca),
            "does not answer in TLS; if it serves plain HTTP, use an http:// URL",
        ),
    ];
    for (url, ca_cert, says) in cases {
        let mut agent = agent(&site, "n1", &url);
        if let Some(ca_cert) = ca_cert {
            agent.env("OPM_CA_CERT", ca_cert);
        }
        let output = agent.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!stderr.contains("unreachable"), "{url}: {stderr}");
    }
    // The right CA and name: the agent gets through.
    let output = agent(&site, "n1", &format!("https://{tls}"))
        .env("OPM_CA_CERT", &ca)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Nobody listening is still "unreachable", and may pass.
    let output = agent(&site, "n1", "http://127.0.0.1:1").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is unreachable"));
}

/// Reads from `stream` until the server closes it; how long that took.
fn closed_after(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = Vec::new();
    // EOF (Ok) or a reset: closed. A read timeout means it stayed open.
    match stream.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(error) => assert!(
            !matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the server kept the connection open: {error}"
        ),
    }
    started.elapsed()
}

#[test]
fn idle_and_trickling_connections_are_closed_after_the_idle_timeout() {
    let site = site();
    let n1 = site.add_node("n1");
    let admin = site.ok(&["admin", "token"]).trim().to_owned();
    let server_process = site.server(&["--idle-timeout", "1"]);
    let server = server_process.addr();

    // Connected, never a byte sent.
    let silent = TcpStream::connect(server).unwrap();
    let took = closed_after(silent);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // Half a request head, then nothing.
    let mut trickle = TcpStream::connect(server).unwrap();
    trickle
        .write_all(b"GET /v1/phase HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let took = closed_after(trickle);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A keep-alive connection after its request is answered.
    let mut idle = TcpStream::connect(server).unwrap();
    idle.write_all(
        format!("GET /v1/phase HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let took = closed_after(idle);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A TLS handshake never begun (the acceptor's own bound is 10 s).
    let (_, cert, key) = certificates(&site.path("tls"), &["127.0.0.1"]);
    let tls_process = site.server(&[
        "--idle-timeout",
        "1",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let tls = tls_process.addr();
    let took = closed_after(TcpStream::connect(tls).unwrap());
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A long poll is a request under way, not idle: it gets its answer.
    let body = json!({"agent": "waiting", "node": "n1", "wait_ms": 2500});
    let asked = Instant::now();
    post(server, "/v1/agent/poll", &n1, &body, 200);
    assert!(asked.elapsed() >= Duration::from_secs(2));

    let output = site.expect(&["server", "--idle-timeout", "0"], 2);
    assert!(!output.stderr.is_empty());
}

#[test]
fn tools_routes_answer_client_mistakes_with_4xx() {
    let site = site();
    let n1 = site.add_node("n1");
    let admin = site.ok(&["admin", "token"]).trim().to_owned();
    let server_process = site.server(&[]);
    let server = server_process.addr();
    site.ok(&["cluster", "phase", "setup_wizard"]);

    // Every tools route: no token 401, a node's token 403.
    let routes = [
        ("GET", "/v1/status"),
        ("GET", "/v1/phase"),
        ("PUT", "/v1/phase"),
        ("POST", "/v1/request"),
        ("POST", "/v1/install"),
        ("POST", "/v1/remove"),
        ("GET", "/v1/plan"),
        ("POST", "/v1/retry"),
        ("POST", "/v1/rerun"),
        ("GET", "/v1/history"),
        ("GET", "/v1/logs"),
        ("GET", "/v1/nodes"),
        ("POST", "/v1/nodes"),
        ("DELETE", "/v1/nodes/n1"),
        ("GET", "/v1/images"),
        ("POST", "/v1/images"),
        ("DELETE", "/v1/images/img"),
        ("GET", "/v1/config"),
        ("PUT", "/v1/config"),
    ];
    for (method, path) in routes {
        assert_eq!(
            http_with(server, method, path, None, b"").0,
            401,
            "{method} {path}"
        );
        assert_eq!(
            http(server, method, path, &n1, b"").0,
            403,
            "{method} {path}"
        );
    }
    // The scheme's name is case-insensitive.
    for scheme in ["bearer", "BEARER"] {
        let (code, body) = http_with(server, "GET", "/v1/phase", Some((scheme, &admin)), b"");
        assert_eq!(code, 200, "{scheme}: {body}");
        assert_eq!(body, r#"{"phase":"setup_wizard"}"#);
    }

    // POST /v1/request: unknown names are 400, a conflict 409; none
    // changes anything.
    let request = |target: Value, package: &str| json!({"target": target, "package": package, "stage": "finished"});
    let node = |name: &str| json!({"kind": "node", "name": name});
    post(
        server,
        "/v1/request",
        &admin,
        &request(node("n1"), "nosuch"),
        400,
    );
    post(
        server,
        "/v1/request",
        &admin,
        &request(node("ghost"), "motd"),
        400,
    );
    post(
        server,
        "/v1/request",
        &admin,
        &request(json!({"kind": "image", "name": "ghost"}), "motd"),
        400,
    );
    post(server, "/v1/request", &admin, &json!({"target": "n1"}), 400);
    let row = post(
        server,
        "/v1/request",
        &admin,
        &request(node("n1"), "jobqueue"),
        200,
    );
    assert_eq!(row["changes"][0]["requested"], "finished", "{row:#}");
    post(
        server,
        "/v1/request",
        &admin,
        &request(node("n1"), "motd"),
        200,
    );
    let refused = post(
        server,
        "/v1/request",
        &admin,
        &request(node("n1"), "altqueue"),
        409,
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("altqueue conflicts with jobqueue"),
        "{refused:#}"
    );
    assert_eq!(status_row(&site, "n1", "altqueue"), Value::Null);

    // POST /v1/retry: a row that is not in error is the client's mistake
    // (409, not 500); one that does not exist is 400.
    let retry = |target: &str, package: &str| json!({"target": node(target), "package": package, "reason": "test"});
    let refused = post(server, "/v1/retry", &admin, &retry("n1", "jobqueue"), 409);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("is not in error"),
        "{refused:#}"
    );
    post(server, "/v1/retry", &admin, &retry("n1", "clusterfs"), 400);
    post(server, "/v1/retry", &admin, &retry("ghost", "motd"), 400);
    post(
        server,
        "/v1/retry",
        &admin,
        &json!({"target": node("n1")}),
        400,
    );
    // A row the agent failed is retried.
    let listed: Value = serde_json::from_str(&site.ok(&["--json", "node", "list"])).unwrap();
    assert_eq!(listed[1]["last_seen_ms"], Value::Null, "{listed:#}");
    let batch = poll(server, &n1, "n1");
    // The poll is the agent's contact: when, and from where.
    let listed: Value = serde_json::from_str(&site.ok(&["--json", "node", "list"])).unwrap();
    assert_eq!(listed[1]["name"], "n1", "{listed:#}");
    assert!(
        listed[1]["last_seen_ms"].as_i64().unwrap() > 0,
        "{listed:#}"
    );
    assert_eq!(listed[1]["address"], "127.0.0.1", "{listed:#}");
    let (row, stage) = handed_out(&batch, "motd").unwrap();
    let token = batch["token"].as_u64().unwrap();
    let start = json!({"row": row, "stage": stage, "token": token});
    let started = post(server, "/v1/agent/start", &n1, &start, 200);
    let finish = json!({
        "attempt": started["attempt"], "token": token, "passed": false,
        "exit_code": 1, "output": "boom", "message": "boom", "transient": false,
    });
    post(server, "/v1/agent/finish", &n1, &finish, 200);
    assert_eq!(status_row(&site, "n1", "motd")["status"], "error");
    // The report has no `output_bytes` (an agent older than the count):
    // accepted, its output is all there is to count.
    let history: Value =
        serde_json::from_str(&site.ok(&["--json", "history", "--node", "n1", "motd"])).unwrap();
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["result"].as_str(), last["output_bytes"].as_u64()),
        (Some("failed"), Some(4)),
        "{last:#}"
    );
    let row = post(server, "/v1/retry", &admin, &retry("n1", "motd"), 200);
    assert_eq!(row["status"], "ok", "{row:#}");

    // POST /v1/install and /v1/remove: unknown names 400, a conflict and
    // a removal with dependents 409.
    post(
        server,
        "/v1/install",
        &admin,
        &json!({"packages": ["nosuch"]}),
        400,
    );
    post(
        server,
        "/v1/install",
        &admin,
        &json!({"packages": ["motd"], "group": "nosuch"}),
        400,
    );
    post(
        server,
        "/v1/install",
        &admin,
        &json!({"packages": "motd"}),
        400,
    );
    post(
        server,
        "/v1/install",
        &admin,
        &json!({"packages": ["clusterfs", "jobqueue"]}),
        200,
    );
    post(
        server,
        "/v1/install",
        &admin,
        &json!({"packages": ["altqueue"]}),
        409,
    );
    post(
        server,
        "/v1/remove",
        &admin,
        &json!({"packages": ["nosuch"]}),
        400,
    );
    let refused = post(
        server,
        "/v1/remove",
        &admin,
        &json!({"packages": ["clusterfs"]}),
        409,
    );
    assert!(
        refused["error"].as_str().unwrap().contains("jobqueue"),
        "{refused:#}"
    );
    assert_eq!(
        status_row(&site, "head", "clusterfs")["requested"],
        "finished"
    );
    post(
        server,
        "/v1/remove",
        &admin,
        &json!({"packages": ["jobqueue"]}),
        200,
    );

    // GET /v1/plan: the head node's rows, with what they wait for.
    let (code, plan) = http(server, "GET", "/v1/plan", &admin, b"");
    assert_eq!(code, 200, "{plan}");
    assert!(plan.contains("clusterfs"), "{plan}");

    // GET /v1/history: a bad query is 400.
    for query in ["?limit=abc", "?limit=-1", "?nosuch=1"] {
        let (code, body) = http(server, "GET", &format!("/v1/history{query}"), &admin, b"");
        assert_eq!(code, 400, "{query}: {body}");
    }
    let (code, history) = http(server, "GET", "/v1/history?limit=5", &admin, b"");
    assert_eq!(code, 200, "{history}");
    let history: Vec<Value> = serde_json::from_str(&history).unwrap();
    assert!(!history.is_empty() && history.len() <= 5, "{history:#?}");

    // A body over the 2 MiB limit is 413, on a tools route and an agents'
    // one.
    let huge = format!(r#"{{"phase":"{}"}}"#, "x".repeat(3 << 20));
    for (method, path) in [("PUT", "/v1/phase"), ("POST", "/v1/agent/poll")] {
        let token = if path.starts_with("/v1/agent") {
            &n1
        } else {
            &admin
        };
        let (code, body) = http(server, method, path, token, huge.as_bytes());
        assert_eq!(code, 413, "{path}: {body}");
    }
}

/// SPEC §1.9 over the tools' API: `POST /v1/pin` and `POST /v1/upgrade`
/// need the admin token, refuse what names nothing (400) and change
/// nothing then; a good pin moves the wanted version.
#[test]
fn the_version_routes_pin_and_upgrade_with_the_admin_token() {
    let site = site();
    let n1 = site.add_node("n1");
    let admin = site.ok(&["admin", "token"]).trim().to_owned();
    let server_process = site.server(&[]);
    let server = server_process.addr();
    for path in ["/v1/upgrade", "/v1/pin"] {
        assert_eq!(
            http_with(server, "POST", path, None, b"{}").0,
            401,
            "{path}"
        );
        assert_eq!(http(server, "POST", path, &n1, b"{}").0, 403, "{path}");
    }
    let refused = post(
        server,
        "/v1/pin",
        &admin,
        &json!({"package": "motd", "version": "9.9-9"}),
        400,
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("opkg 'motd' has no imported version '9.9-9' (imported: 1:3.1-2)"),
        "{refused:#}"
    );
    let pinned = post(
        server,
        "/v1/pin",
        &admin,
        &json!({"package": "motd", "version": "1:3.1-2"}),
        200,
    );
    assert_eq!(pinned["wanted_version"], "1:3.1-2", "{pinned:#}");
    assert_eq!(pinned["pinned"], "1:3.1-2", "{pinned:#}");
    let unpinned = post(server, "/v1/pin", &admin, &json!({"package": "motd"}), 200);
    assert_eq!(unpinned["pinned"], Value::Null, "{unpinned:#}");

    // Nothing finished yet: nothing to start.
    let report = post(server, "/v1/upgrade", &admin, &json!({}), 200);
    assert_eq!(report["started"], 0, "{report:#}");
    assert_eq!(report["refused"], false, "{report:#}");
    post(
        server,
        "/v1/upgrade",
        &admin,
        &json!({"packages": ["ghost"]}),
        400,
    );
    post(
        server,
        "/v1/upgrade",
        &admin,
        &json!({"node": "n1", "group": "oscar_clients"}),
        400,
    );
    post(server, "/v1/upgrade", &admin, &json!({"node": "n9"}), 400);
}
