//! The demo's many machines: `opm server` for the head node and one
//! `opm agent` per compute node, each agent with its own opm.conf, token
//! and sandbox root, all on loopback; and waiting for them to settle while
//! showing each row's progress as it happens.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Say;

/// How long the rows must stay unchanged, none running, to count as settled.
const QUIET: Duration = Duration::from_millis(1200);
/// How often the rows are looked at.
const LOOK: Duration = Duration::from_millis(250);
/// The longest one settling may take.
const PATIENCE: Duration = Duration::from_secs(300);

/// The running server and agents; stopped (SIGTERM, then waited for) when
/// dropped.
pub struct Daemons {
    children: Vec<(String, Child)>,
    /// The server's URL.
    pub url: String,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        for (_, child) in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// A compute node of the demo: its directory holds opm.conf, the token,
/// the spool and its sandbox root.
pub fn node_dir(demo: &Path, node: &str) -> PathBuf {
    demo.join("nodes").join(node)
}

/// Starts the server on a free loopback port, then one agent per node of
/// `nodes` (whose tokens `token` makes). `environment` is the head node's.
pub fn start(
    opm: &Path,
    demo: &Path,
    environment: &[(&'static str, OsString)],
    nodes: &[String],
    say: Say<'_>,
) -> anyhow::Result<Daemons> {
    let mut server = Process::new(opm)
        .args(["server", "--listen", "127.0.0.1:0"])
        .envs(environment.iter().cloned())
        .current_dir(demo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {} server", opm.display()))?;
    let stderr = server.stderr.take().context("the server's stderr")?;
    let mut daemons = Daemons {
        children: vec![("server".to_owned(), server)],
        url: String::new(),
    };
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.context("reading the server's output")?;
        if let Some(url) = line.strip_prefix("opm server: listening on ") {
            daemons.url = url.to_owned();
            break;
        }
    }
    if daemons.url.is_empty() {
        bail!("opm server stopped before it listened; run it by hand to see why");
    }
    say(&format!("# opm server listens on {}", daemons.url));
    let log_path = demo.join("server.log");
    // The server's log lines go on to a file, so its pipe never fills.
    std::thread::spawn(move || {
        if let Ok(mut log) = std::fs::File::create(log_path) {
            for line in lines.map_while(Result::ok) {
                let _ = std::io::Write::write_all(&mut log, format!("{line}\n").as_bytes());
            }
        }
    });
    for node in nodes {
        let dir = node_dir(demo, node);
        std::fs::create_dir_all(dir.join("root"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("opm.conf"), format!("client\n{node}\n"))
            .with_context(|| format!("cannot write {}", dir.join("opm.conf").display()))?;
        let token = Process::new(opm)
            .args(["node", "token", node])
            .envs(environment.iter().cloned())
            .output()
            .context("opm node token")?;
        if !token.status.success() {
            bail!(
                "opm node token {node} failed: {}",
                String::from_utf8_lossy(&token.stderr)
            );
        }
        write_token(&dir.join("token"), &token.stdout)
            .with_context(|| format!("cannot write {}", dir.join("token").display()))?;
        let log = std::fs::File::create(dir.join("agent.log"))
            .with_context(|| format!("cannot create {}", dir.join("agent.log").display()))?;
        say(&format!(
            "$ opm agent   # on {node}: OPM_CONF=$DEMO/nodes/{node}/opm.conf OPM_ROOT=$DEMO/nodes/{node}/root"
        ));
        let agent = Process::new(opm)
            .args(["agent", "--poll-wait", "5", "--spool"])
            .arg(dir.join("spool.json"))
            .envs(environment.iter().cloned())
            .env("OPM_CONF", dir.join("opm.conf"))
            .env("OPM_ROOT", dir.join("root"))
            .env("OPM_SERVER", &daemons.url)
            .env("OPM_TOKEN_FILE", dir.join("token"))
            .env_remove("OPM_DB")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start the agent of {node}"))?;
        daemons.children.push((node.clone(), agent));
    }
    Ok(daemons)
}

/// One row as `opm status --json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
struct Shown {
    target: String,
    package: String,
    requested: String,
    current: Option<String>,
    status: String,
    message: String,
}

fn look(opm: &Path, environment: &[(&'static str, OsString)]) -> anyhow::Result<Vec<Shown>> {
    let output = Process::new(opm)
        .args(["--json", "status"])
        .envs(environment.iter().cloned())
        .output()
        .context("opm status")?;
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "opm status --json said: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The rows as last shown, so each settling prints only what moved.
#[derive(Debug, Default)]
pub struct Progress {
    seen: BTreeMap<(String, String), Shown>,
}

impl Progress {
    /// Waits until the server and agents have done what can be done now,
    /// printing each row's progress; the code `opm run` would have given:
    /// 0 all reached, 1 rows in error, 3 work held back.
    pub fn settle(
        &mut self,
        opm: &Path,
        environment: &[(&'static str, OsString)],
        say: Say<'_>,
    ) -> anyhow::Result<i32> {
        settle(&mut self.seen, opm, environment, say)
    }
}

fn settle(
    seen: &mut BTreeMap<(String, String), Shown>,
    opm: &Path,
    environment: &[(&'static str, OsString)],
    say: Say<'_>,
) -> anyhow::Result<i32> {
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    loop {
        let rows = look(opm, environment)?;
        let mut changed = false;
        for row in rows {
            let key = (row.target.clone(), row.package.clone());
            if seen.get(&key) == Some(&row) {
                continue;
            }
            changed = true;
            let before = seen.get(&key).and_then(|old| old.current.clone());
            if row.current != before && row.current.is_some() {
                say(&format!(
                    "  {} / {}: {}",
                    row.target,
                    row.package,
                    row.current.as_deref().unwrap_or("-")
                ));
            }
            if row.status == "error" && seen.get(&key).is_none_or(|old| old.status != "error") {
                let first = row.message.lines().next().unwrap_or_default();
                say(&format!(
                    "  {} / {}: error: {first}",
                    row.target, row.package
                ));
            }
            seen.insert(key, row);
        }
        let running = seen.values().any(|row| row.status == "running");
        if changed || running {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            break;
        }
        if started.elapsed() > PATIENCE {
            bail!(
                "the cluster did not settle in {PATIENCE:?}; see server.log and nodes/*/agent.log"
            );
        }
        std::thread::sleep(LOOK);
    }
    Ok(if seen.values().any(|row| row.status == "error") {
        1
    } else if seen
        .values()
        .any(|row| row.current.as_deref() != Some(row.requested.as_str()))
    {
        3
    } else {
        0
    })
}

/// Writes a node's token readable by its owner alone: anyone who reads it
/// can act as that node.
fn write_token(path: &std::path::Path, token: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(token)
}
