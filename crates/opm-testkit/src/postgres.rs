//! A PostgreSQL server for tests. CI starts one and exports its admin URL in
//! `OPM_TEST_POSTGRES`; without it, the first test of a process runs
//! `initdb` and `pg_ctl start` on a throwaway data directory (as the
//! `postgres` user when run as root, since the server refuses root) and
//! leaves a watchdog that stops the cluster and removes the directory once
//! the test process has exited.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

use crate::error::TestkitError;

/// The environment variable holding a running server's admin URL.
pub const ENV: &str = "OPM_TEST_POSTGRES";

/// Where Debian installs the server binaries, one directory per version.
const DEBIAN_BINARIES: &str = "/usr/lib/postgresql";

/// A reachable PostgreSQL server tests may create databases on.
#[derive(Debug)]
pub struct TestPostgres {
    /// A URL naming the `postgres` database as a superuser.
    admin_url: String,
}

/// The process's server, found or started once; `Err` says why there is none.
static SERVER: OnceLock<Result<TestPostgres, String>> = OnceLock::new();

/// Numbers the databases this process creates.
static CREATED: AtomicU64 = AtomicU64::new(0);

/// The test server, or `None` after printing a loud SKIPPED line with the
/// reason, so a test without PostgreSQL returns instead of failing.
pub fn postgres() -> Option<&'static TestPostgres> {
    let server = SERVER.get_or_init(|| match std::env::var(ENV) {
        Ok(url) if !url.is_empty() => Ok(TestPostgres { admin_url: url }),
        _ => start_cluster().map_err(|error| error.to_string()),
    });
    match server {
        Ok(server) => Some(server),
        Err(reason) => {
            eprintln!("SKIPPED: PostgreSQL not available ({reason})");
            None
        }
    }
}

impl TestPostgres {
    /// The admin URL (the `postgres` database).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Creates an empty database of its own for one test; its URL.
    pub async fn fresh_database(&self) -> Result<String, TestkitError> {
        let name = format!(
            "opm_test_{}_{}_{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed),
            nanos() % 1_000_000
        );
        let mut conn = PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(with_database(&self.admin_url, &name))
    }
}

/// `url` naming database `name` instead, query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|at| at + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Nanoseconds of the clock, to tell runs apart.
fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

/// The newest Debian server binaries directory holding `initdb`.
fn binaries() -> Result<PathBuf, TestkitError> {
    let versions = std::fs::read_dir(DEBIAN_BINARIES)
        .map_err(|_| TestkitError::Missing("initdb (/usr/lib/postgresql/*/bin)"))?;
    versions
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
        .ok_or(TestkitError::Missing("initdb (/usr/lib/postgresql/*/bin)"))
}

/// Runs `command`; its stderr on failure.
fn run(command: &mut Command) -> Result<String, TestkitError> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| TestkitError::Command {
            command: shown.clone(),
            reason: error.to_string(),
        })?;
    if !output.status.success() {
        return Err(TestkitError::Command {
            command: shown,
            reason: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A shell line run as the cluster's owner: `postgres` when we are root.
fn as_owner(root: bool, line: &str) -> Command {
    let mut command = if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]);
        command
    } else {
        Command::new("env")
    };
    command.args(["sh", "-c", line]);
    command
}

/// Initialises and starts a cluster on a free port of 127.0.0.1.
fn start_cluster() -> Result<TestPostgres, TestkitError> {
    let bin = binaries()?;
    let root = run(Command::new("id").arg("-u"))?.trim() == "0";
    let dir = std::env::temp_dir().join(format!(
        "opm-test-pg-{}-{}",
        std::process::id(),
        nanos() % 1_000_000
    ));
    std::fs::create_dir(&dir).map_err(|source| TestkitError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    if root {
        run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
    }
    let port = free_port()?;
    let (initdb, pg_ctl, data) = (bin.join("initdb"), bin.join("pg_ctl"), dir.join("data"));
    run(&mut as_owner(
        root,
        &format!(
            "'{}' -D '{}' -A trust -U postgres -E UTF8 --no-sync >/dev/null",
            initdb.display(),
            data.display()
        ),
    ))?;
    run(&mut as_owner(
        root,
        &format!(
            "'{}' -D '{data}' -l '{data}/log' -w -o \"-k '{data}' -c listen_addresses=127.0.0.1 -p {port} -c fsync=off\" start >/dev/null",
            pg_ctl.display(),
            data = data.display()
        ),
    ))?;
    watch(root, &pg_ctl, &data, &dir)?;
    Ok(TestPostgres {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    })
}

/// Leaves a process that stops the cluster and removes `dir` once this
/// test process has exited; it runs in its own process group so a Ctrl-C
/// of the test run does not kill it before it has cleaned up.
fn watch(root: bool, pg_ctl: &Path, data: &Path, dir: &Path) -> Result<(), TestkitError> {
    let stop = if root {
        format!(
            "runuser -u postgres -- '{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "'{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    };
    let line = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &line])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|source| TestkitError::Io {
            what: "starting the cluster's watchdog".to_owned(),
            source,
        })
}

/// A TCP port nobody listens on right now.
fn free_port() -> Result<u16, TestkitError> {
    let io = |source| TestkitError::Io {
        what: "finding a free port".to_owned(),
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(listener.local_addr().map_err(io)?.port())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_swaps_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "t2"),
            "postgres://u@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "t3"),
            "postgres://u@h:1/t3"
        );
    }
}
