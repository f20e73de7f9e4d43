//! `opm server` and `opm agent` under a `Type=notify` unit: real daemons,
//! started as children with `NOTIFY_SOCKET` naming a real unix datagram
//! socket, send `READY=1` once listening (the server) or once the server
//! answered (the agent), and `STOPPING=1` on SIGTERM; an agent whose server
//! is away says nothing.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use opm_testkit::TestContext;

/// A head node's files, a notification socket, and the daemons started
/// (killed when it goes).
struct Site {
    ctx: TestContext,
    children: Vec<Child>,
}

impl Drop for Site {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Site {
    fn new() -> Site {
        let site = Site {
            ctx: TestContext::new(env!("CARGO_BIN_EXE_opm")),
            children: Vec::new(),
        };
        site.ok(&["init"]);
        site
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.ctx.path(rest)
    }

    /// `opm` as the head node's CLI, settings from the environment.
    fn command(&self) -> Command {
        let mut command = self.ctx.command();
        command.env_remove("NOTIFY_SOCKET");
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.ctx.run(self.command(), args, 0).stdout).unwrap()
    }

    /// A datagram socket bound in the site, as systemd binds its own.
    fn notify_socket(&self, name: &str) -> (UnixDatagram, PathBuf) {
        let path = self.path(name);
        (UnixDatagram::bind(&path).unwrap(), path)
    }

    /// Starts `opm server` on a free loopback port, telling `notify`.
    fn start_server(&mut self, notify: &Path) -> u32 {
        let child = self
            .command()
            .env("NOTIFY_SOCKET", notify)
            .args(["server", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.last().unwrap().id()
    }

    /// Registers node n1 and starts its agent against `server`, telling
    /// `notify`.
    fn start_agent(&mut self, server: &str, notify: &Path) -> u32 {
        self.ctx.add_node("n1");
        let node = self.path("n1");
        let child = self
            .command()
            .env("NOTIFY_SOCKET", notify)
            .env("OPM_CONF", node.join("opm.conf"))
            .env("OPM_ROOT", node.join("root"))
            .args(["agent", "--server", server, "--token-file"])
            .arg(node.join("token"))
            .arg("--spool")
            .arg(node.join("spool.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.last().unwrap().id()
    }

    /// Sends SIGTERM to child `pid` and waits for it; its exit code.
    fn terminate(&mut self, pid: u32) -> Option<i32> {
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGTERM).unwrap();
        let child = self.children.iter_mut().find(|c| c.id() == pid).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "pid {pid} ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The next notification on `socket`, waiting up to `within`.
fn next_message(socket: &UnixDatagram, within: Duration) -> Option<String> {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 4096];
    match socket.recv(&mut buffer) {
        Ok(length) => Some(String::from_utf8(buffer[..length].to_vec()).unwrap()),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(error) => panic!("recv: {error}"),
    }
}

/// The `STATUS=` line of a notification.
fn status(message: &str) -> &str {
    message
        .lines()
        .find_map(|line| line.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS= in {message:?}"))
}

#[test]
fn the_server_says_ready_once_listening_and_stopping_on_sigterm() {
    let mut site = Site::new();
    let (socket, path) = site.notify_socket("notify");
    let pid = site.start_server(&path);
    let ready = next_message(&socket, Duration::from_secs(60)).expect("no READY=1 from opm server");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    let addr: SocketAddr = status(&ready)
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{ready:?}"))
        .parse()
        .unwrap();
    // Ready means listening: a connection is taken at once.
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    assert_eq!(site.terminate(pid), Some(0));
    let stopping = next_message(&socket, Duration::from_secs(5)).expect("no STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(next_message(&socket, Duration::from_millis(200)), None);
}

#[test]
fn the_agent_says_ready_once_the_server_answers_and_stopping_on_sigterm() {
    let mut site = Site::new();
    let (server_socket, server_path) = site.notify_socket("server.notify");
    site.start_server(&server_path);
    let ready = next_message(&server_socket, Duration::from_secs(60)).unwrap();
    let url = status(&ready)
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let (socket, path) = site.notify_socket("agent.notify");
    let started = Instant::now();
    let pid = site.start_agent(&url, &path);
    let ready = next_message(&socket, Duration::from_secs(60)).expect("no READY=1 from opm agent");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert_eq!(status(&ready), format!("connected to {url}"));
    // The first poll does not wait out --poll-wait (30 s) for work.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(site.terminate(pid), Some(0));
    let stopping = next_message(&socket, Duration::from_secs(5)).expect("no STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
}

#[test]
fn an_agent_whose_server_is_away_is_not_ready() {
    let mut site = Site::new();
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (socket, path) = site.notify_socket("agent.notify");
    let pid = site.start_agent(&format!("http://127.0.0.1:{port}"), &path);
    assert_eq!(next_message(&socket, Duration::from_secs(3)), None);
    // Still trying, not dead: it stops when told, and says so.
    assert_eq!(site.terminate(pid), Some(0));
    let stopping = next_message(&socket, Duration::from_secs(5)).expect("no STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
}
