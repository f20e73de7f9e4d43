//! A head node in a temporary directory, driven through the real `opm`
//! binary (issue 18 item 5): the harness the CLI's tests share instead of
//! each writing its own. It holds a sandbox root, a SQLite database, a
//! package repository and empty settings; writes opkg sources, packs and
//! imports them; runs `opm` and tells whether a refused command left the
//! database as it was; starts `opm run`, killed at a chosen moment, and
//! `opm server` on a free loopback port ([`Server`], killed when dropped);
//! and registers compute nodes with their own root, opm.conf and token for
//! `opm agent`. The binary is a parameter
//! (`TestContext::new(env!("CARGO_BIN_EXE_opm"))`), so the kit does not
//! depend on the `opm` crate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test harness: a setup step that fails must fail the test that asked for it, with its message"
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One machine that is both `server` and `head`: in its directory an
/// opm.conf, an empty opm.toml (named, so a /etc/opm/opm.toml on the
/// machine is never read), the sandbox root `head/`, the database `opm.db`
/// (or one named) and the repository `repo/`.
pub struct TestContext {
    dir: tempfile::TempDir,
    bin: PathBuf,
    db: String,
}

impl TestContext {
    /// A fresh head node run by the `opm` binary at `bin`: nothing packed,
    /// no database yet.
    pub fn new(bin: impl Into<PathBuf>) -> TestContext {
        TestContext::on(bin, None)
    }

    /// [`TestContext::new`] with its database created (`opm init`).
    pub fn initialised(bin: impl Into<PathBuf>) -> TestContext {
        let context = TestContext::new(bin);
        context.ok(&["init"]);
        context
    }

    /// [`TestContext::new`] on the database at `url` (a PostgreSQL one,
    /// say) instead of `opm.db`.
    pub fn with_database(bin: impl Into<PathBuf>, url: impl Into<String>) -> TestContext {
        TestContext::on(bin, Some(url.into()))
    }

    fn on(bin: impl Into<PathBuf>, db: Option<String>) -> TestContext {
        let dir = tempfile::tempdir().unwrap();
        let db = db.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("opm.db").display()));
        std::fs::write(dir.path().join("opm.conf"), "server\nhead\n").unwrap();
        std::fs::write(dir.path().join("opm.toml"), "").unwrap();
        std::fs::create_dir(dir.path().join("head")).unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        TestContext {
            dir,
            bin: bin.into(),
            db,
        }
    }

    /// The context's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `rest` in the context's directory.
    pub fn path(&self, rest: &str) -> PathBuf {
        self.dir.path().join(rest)
    }

    /// The SQLite database file (of a context not given another database).
    pub fn db(&self) -> PathBuf {
        self.path("opm.db")
    }

    /// `opm` as the head node's CLI: its database, opm.conf, root,
    /// repository, settings and dpkg, run in the context's directory; never
    /// a server's client, and run by nobody in particular (no
    /// `SUDO_USER`), whatever the test's own environment says.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        for var in [
            "OPM_REMOTE",
            "OPM_ADMIN_TOKEN_FILE",
            "OPM_SERVER",
            "OPM_TOKEN_FILE",
            "SUDO_USER",
        ] {
            command.env_remove(var);
        }
        command
            .env("OPM_DB", &self.db)
            .env("OPM_CONF", self.path("opm.conf"))
            .env("OPM_ROOT", self.path("head"))
            .env("OPM_REPO", self.path("repo"))
            .env("OPM_BACKEND", "dpkg")
            .env("OPM_SETTINGS", self.path("opm.toml"))
            .current_dir(self.dir.path());
        command
    }

    /// `opm ARGS` as the head node; its outcome, whatever the exit code.
    pub fn opm(&self, args: &[&str]) -> Outcome {
        self.command().args(args).output().unwrap().into()
    }

    /// `opm --db URL ARGS`: [`TestContext::opm`] on another database.
    pub fn opm_db(&self, url: &str, args: &[&str]) -> Outcome {
        self.command()
            .arg("--db")
            .arg(url)
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    /// `opm ARGS`, which must exit with `code`; its output.
    pub fn expect(&self, args: &[&str], code: i32) -> Output {
        self.run(self.command(), args, code)
    }

    /// `command ARGS` (an `opm` of this context's: the head node's or a
    /// node's), which must exit with `code`; its output.
    pub fn run(&self, mut command: Command, args: &[&str], code: i32) -> Output {
        let output = command.args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "opm {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// `opm ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.expect(args, 0).stdout).unwrap()
    }

    /// `opm --json ARGS`, which must succeed, read.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// The database's content as `sqlite3 .dump` prints it: equal before
    /// and after means nothing was changed, whether or not SQLite had
    /// checkpointed its write-ahead log in between; a file that is no
    /// database is compared by its bytes. `None` (after a loud SKIPPED
    /// line) when the sqlite3 program is missing; CI installs it.
    pub fn dump(&self) -> Option<String> {
        if !self.db().exists() {
            return Some(String::new());
        }
        match Command::new("sqlite3").arg(self.db()).arg(".dump").output() {
            Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
            // Not a database at all: compare what the file holds.
            Ok(_) => Some(String::from_utf8_lossy(&std::fs::read(self.db()).unwrap()).into_owned()),
            Err(error) => {
                eprintln!("SKIPPED: the database comparison needs sqlite3 ({error})");
                None
            }
        }
    }

    /// `opm ARGS`, which must exit 2 with `needle` in its error and the
    /// database's content unchanged; its stderr.
    pub fn refused(&self, args: &[&str], needle: &str) -> String {
        let before = self.dump();
        let out = self.opm(args);
        assert_eq!(
            out.code,
            Some(2),
            "opm {args:?} should be refused\n{}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains(needle),
            "opm {args:?}: expected {needle:?} in\n{}",
            out.stderr
        );
        if let (Some(before), Some(after)) = (before, self.dump()) {
            assert!(
                before == after,
                "opm {args:?} changed the database although it was refused"
            );
        }
        out.stderr
    }

    /// Writes an opkg source `name` (version 1.0-1) under `opkgs/`, with
    /// `relations` placed where config.xml keeps opkg-level relations
    /// ([`crate::source::requires`] and the like); its directory relative
    /// to the context's.
    pub fn opkg(&self, name: &str, relations: &str) -> String {
        let dir = self.path("opkgs").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.xml"),
            crate::source::config_xml(name, relations),
        )
        .unwrap();
        format!("opkgs/{name}")
    }

    /// Writes `text` into `file` of the opkg source `name` (see
    /// [`TestContext::opkg`]).
    pub fn opkg_file(&self, name: &str, file: &str, text: &str) {
        std::fs::write(self.path("opkgs").join(name).join(file), text).unwrap();
    }

    /// `text` with the context's directory written `[SITE]`, for snapshots.
    pub fn filter(&self, text: &str) -> String {
        let canonical = std::fs::canonicalize(self.dir.path()).unwrap();
        text.replace(&canonical.display().to_string(), "[SITE]")
            .replace(&self.dir.path().display().to_string(), "[SITE]")
    }

    /// The head node's sandbox root (`head/`), where `dpkg --root` installs.
    pub fn root(&self) -> PathBuf {
        self.path("head")
    }

    /// Packs the opkg `sources` and imports them
    /// ([`TestContext::pack_and_import`]), asks for `packages` and
    /// completes the phase: the next `opm run` has work.
    pub fn install(&self, sources: &[PathBuf], packages: &[&str]) {
        let sources: Vec<&str> = sources.iter().map(|s| s.to_str().unwrap()).collect();
        self.pack_and_import(&sources);
        let mut install = vec!["install"];
        install.extend(packages);
        self.ok(&install);
        self.ok(&["cluster", "phase", "complete"]);
    }

    /// `opm run` with its output dropped, started and left running.
    pub fn spawn_run(&self) -> Child {
        self.command()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `opm run` killed with SIGKILL once `delay` has passed: `None`, or
    /// its exit status when it ended before that.
    pub fn run_killed_after(&self, delay: Duration) -> Option<ExitStatus> {
        let mut child = self.spawn_run();
        let begun = Instant::now();
        while begun.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        None
    }

    /// Packs the opkg `sources` as Debian debs into the repository, creates
    /// the database and imports them.
    pub fn pack_and_import(&self, sources: &[&str]) {
        let repo = self.path("repo");
        let mut pack = vec!["pack", "--format", "deb", "--dist", "debian", "-o"];
        pack.push(repo.to_str().unwrap());
        pack.extend(sources);
        self.ok(&pack);
        self.ok(&["init"]);
        let mut import = vec!["opkg", "import"];
        import.extend(sources);
        self.ok(&import);
    }

    /// Starts `opm server --listen 127.0.0.1:0` with `extra` arguments and
    /// waits for the address it bound; its stderr goes on to `server.log`.
    pub fn server(&self, extra: &[&str]) -> Server {
        self.server_on(0, extra)
    }

    /// [`TestContext::server`] on loopback port `port` (0: any), so a
    /// server can be started again where agents look for it; the log of
    /// every server started is kept in `server.log`.
    pub fn server_on(&self, port: u16, extra: &[&str]) -> Server {
        let mut child = self
            .command()
            .args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            let rest = line
                .strip_prefix("opm server: listening on http://")
                .or_else(|| line.strip_prefix("opm server: listening on https://"));
            if let Some(rest) = rest {
                addr = Some(rest.parse().unwrap());
                break;
            }
        }
        // Keep draining the server's stderr, so it never blocks on a full
        // pipe, into a file a failing test can show.
        let log = self.path("server.log");
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
            }
        });
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("opm server ended before it printed its address");
        };
        Server { child, addr }
    }

    /// Mints the admin token (`opm admin token`) into `admin.token`,
    /// mode 0600, for [`TestContext::remote_command`]; its path.
    pub fn admin_token_file(&self) -> PathBuf {
        let token = self.ok(&["admin", "token"]);
        let file = self.path("admin.token");
        std::fs::write(&file, token.trim()).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }

    /// `opm` as an admin elsewhere: no database, opm.conf or root, only
    /// the server at `url` and the admin token of
    /// [`TestContext::admin_token_file`] (`--remote URL
    /// --admin-token-file F`).
    pub fn remote_command(&self, url: &str) -> Command {
        let mut command = Command::new(&self.bin);
        for var in [
            "OPM_CONF",
            "OPM_ROOT",
            "OPM_REPO",
            "OPM_BACKEND",
            "SUDO_USER",
        ] {
            command.env_remove(var);
        }
        command
            .env("OPM_DB", "sqlite:/nonexistent/opm.db")
            .env("OPM_SETTINGS", self.path("opm.toml"))
            .args(["--remote", url, "--admin-token-file"])
            .arg(self.path("admin.token"))
            .current_dir(self.dir.path());
        command
    }

    /// Registers compute node `name` with a token (mode 0600, in
    /// `name/token`), a root (`name/root`) and an opm.conf; the token.
    pub fn add_node(&self, name: &str) -> String {
        self.ok(&["node", "add", name]);
        let token = self.ok(&["node", "token", name]).trim().to_owned();
        let dir = self.path(name);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("opm.conf"), format!("client\n{name}\n")).unwrap();
        std::fs::write(dir.join("token"), &token).unwrap();
        std::fs::set_permissions(dir.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        token
    }

    /// `opm` as node `name`'s CLI (its root, opm.conf, token and spool),
    /// talking to the server at `url`, run in the node's directory.
    pub fn node_command(&self, name: &str, url: &str) -> Command {
        let dir = self.path(name);
        let mut command = Command::new(&self.bin);
        command
            .env("OPM_CONF", dir.join("opm.conf"))
            .env("OPM_ROOT", dir.join("root"))
            .env("OPM_REPO", self.path("repo"))
            .env("OPM_BACKEND", "dpkg")
            .env("OPM_SETTINGS", self.path("opm.toml"))
            .env("OPM_SERVER", url)
            .env("OPM_TOKEN_FILE", dir.join("token"))
            .env("OPM_SPOOL", dir.join("spool.json"))
            .current_dir(&dir);
        command
    }

    /// `opm` on machine `name` as its own files say (`name/opm.conf`,
    /// `name/opm.toml`, the root `name/root`), with the shared repository
    /// and dpkg and nothing else of the test's environment: a node set up
    /// by `opm agent enroll` rather than by [`TestContext::add_node`].
    pub fn machine_command(&self, name: &str) -> Command {
        let dir = self.path(name);
        let mut command = Command::new(&self.bin);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OPM_CONF", dir.join("opm.conf"))
            .env("OPM_SETTINGS", dir.join("opm.toml"))
            .env("OPM_ROOT", dir.join("root"))
            .env("OPM_REPO", self.path("repo"))
            .env("OPM_BACKEND", "dpkg")
            .current_dir(&dir);
        command
    }

    /// Starts `opm agent EXTRA` as node `name` (see [`TestContext::add_node`]),
    /// talking to the server at `url`; its stderr goes to `name/agent.log`.
    pub fn agent(&self, name: &str, url: &str, extra: &[&str]) -> Agent {
        self.spawn_agent(name, self.node_command(name, url), extra)
    }

    /// Starts `command agent EXTRA` as node `name`: [`TestContext::agent`]
    /// with a [`TestContext::node_command`] the test changed (another
    /// backend or repository, say).
    pub fn spawn_agent(&self, name: &str, mut command: Command, extra: &[&str]) -> Agent {
        let log = std::fs::File::create(self.path(name).join("agent.log")).unwrap();
        let child = command
            .arg("agent")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Agent { child }
    }
}

/// What one `opm` run gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Outcome {
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// A running `opm agent`, killed when dropped.
pub struct Agent {
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `opm server`, killed when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id (to signal it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to end (after a signal); how it ended.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows `opm --json status` printed (`stdout`), keyed by (target,
/// package).
pub fn status_rows(stdout: &[u8]) -> BTreeMap<(String, String), Value> {
    let rows: Vec<Value> = serde_json::from_slice(stdout).unwrap();
    rows.into_iter()
        .map(|row| {
            let key = (
                row["target"].as_str().unwrap().to_owned(),
                row["package"].as_str().unwrap().to_owned(),
            );
            (key, row)
        })
        .collect()
}
