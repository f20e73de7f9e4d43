//! The daemons' log lines, through the built binary: an `opm agent` whose
//! server is away warns about it on stderr (a real child process, a real
//! refused connection on loopback), and the line carries its level and a
//! timestamp, loses the timestamp under journald (`JOURNAL_STREAM`), is one
//! JSON object with `--log-format json`, and follows `OPM_LOG`/`RUST_LOG`,
//! with other crates' debug lines out unless asked for.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary as a real child process"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A compute node whose server is a closed loopback port.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(path.join("opm.conf"), "client\nn1\n").unwrap();
        std::fs::write(path.join("opm.toml"), "").unwrap();
        std::fs::write(path.join("token"), "abc123\n").unwrap();
        std::fs::set_permissions(path.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::fs::create_dir(path.join("root")).unwrap();
        Node { dir }
    }

    /// `opm agent` with `env` and `args`, until it has written `lines`
    /// lines on stderr or `patience` is over; the lines it wrote.
    fn agent_lines(&self, env: &[(&str, &str)], args: &[&str], patience: Duration) -> Vec<String> {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = self.dir.path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_opm"));
        command
            .env_remove("OPM_LOG")
            .env_remove("RUST_LOG")
            .env_remove("JOURNAL_STREAM")
            .env_remove("OPM_LOG_FORMAT")
            .env("OPM_CONF", path.join("opm.conf"))
            .env("OPM_ROOT", path.join("root"))
            .env("OPM_BACKEND", "dpkg")
            .env("OPM_SETTINGS", path.join("opm.toml"))
            .args(["agent", "--server", &format!("http://127.0.0.1:{port}")])
            .arg("--token-file")
            .arg(path.join("token"))
            .arg("--spool")
            .arg(path.join("spool.json"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut lines = Vec::new();
        // The agent retries after 1 s, 2 s, ...: two warnings come soon.
        while lines.len() < 2 {
            let left = patience.saturating_sub(started.elapsed());
            match receive.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        lines
    }
}

const PATIENCE: Duration = Duration::from_secs(10);

/// Whether `text` starts with an RFC 3339 UTC timestamp (`2026-12-03T...`).
fn stamped(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
}

#[test]
fn daemon_lines_carry_a_level_and_a_timestamp() {
    let node = Node::new();
    let lines = node.agent_lines(&[], &[], PATIENCE);
    let warning = lines
        .iter()
        .find(|line| line.contains("trying again in"))
        .unwrap_or_else(|| panic!("no retry warning in {lines:?}"));
    assert!(stamped(warning), "{warning}");
    assert!(warning.contains(" WARN "), "{warning}");
    // The HTTP library's own lines stay out by default.
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("hyper") && !line.contains("reqwest::")),
        "{lines:?}"
    );
}

#[test]
fn under_journald_the_lines_have_no_timestamp() {
    let node = Node::new();
    let lines = node.agent_lines(&[("JOURNAL_STREAM", "8:12345")], &[], PATIENCE);
    let warning = lines
        .iter()
        .find(|line| line.contains("trying again in"))
        .unwrap_or_else(|| panic!("no retry warning in {lines:?}"));
    assert!(warning.trim_start().starts_with("WARN "), "{warning}");
}

#[test]
fn log_format_json_writes_one_object_a_line() {
    let node = Node::new();
    for (env, args) in [
        (vec![], vec!["--log-format", "json"]),
        (vec![("OPM_LOG_FORMAT", "json")], vec![]),
    ] {
        let lines = node.agent_lines(&env, &args, PATIENCE);
        assert!(!lines.is_empty());
        for line in &lines {
            let object: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert_eq!(object["level"], "WARN", "{line}");
            assert_eq!(object["target"], "opm_api::agent", "{line}");
            assert!(stamped(object["timestamp"].as_str().unwrap()), "{line}");
            assert!(
                object["message"]
                    .as_str()
                    .unwrap()
                    .contains("trying again in"),
                "{line}"
            );
        }
    }
    let journald = node.agent_lines(
        &[("JOURNAL_STREAM", "8:12345")],
        &["--log-format", "json"],
        PATIENCE,
    );
    let object: serde_json::Value = serde_json::from_str(&journald[0]).unwrap();
    assert!(object.get("timestamp").is_none(), "{object}");
}

#[test]
fn opm_log_and_rust_log_choose_what_is_logged() {
    let node = Node::new();
    // Asked for: the HTTP library's debug lines come.
    let lines = node.agent_lines(&[("RUST_LOG", "debug")], &[], PATIENCE);
    assert!(lines.iter().any(|line| line.contains("DEBUG")), "{lines:?}");
    // OPM_LOG beats RUST_LOG: only errors, so the warnings are gone.
    let lines = node.agent_lines(
        &[("RUST_LOG", "debug"), ("OPM_LOG", "error")],
        &[],
        Duration::from_secs(3),
    );
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn a_log_filter_that_does_not_parse_is_said_and_the_default_used() {
    let node = Node::new();
    let lines = node.agent_lines(&[("OPM_LOG", "opm=loudest")], &[], PATIENCE);
    assert!(
        lines[0].starts_with("warning: ignoring the log filter 'opm=loudest'"),
        "{lines:?}"
    );
    assert!(
        lines[1..]
            .iter()
            .any(|line| line.contains(" WARN ") && line.contains("trying again in")),
        "{lines:?}"
    );
}
