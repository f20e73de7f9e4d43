//! `opm server` on SQLite beside other SQLite clients (issue 16, HIGH 1):
//! an admin's `sqlite3` read while the server runs must not make the
//! server's later writes vanish. On Linux, closing any descriptor of a file
//! drops every POSIX lock the process holds on it; a server that looked at
//! its own database with plain file I/O after its connection was open lost
//! its WAL read lock, the outside client then checkpointed and unlinked
//! `-wal`/`-shm`, and the server wrote on into an unlinked log.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, the binary's own output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::process::Command;

use opm_testkit::TestContext;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

/// One raw HTTP/1.1 request with the admin token; the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: Bearer {token}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// Whether the sqlite3 program is there; CI installs it.
fn have_sqlite3() -> bool {
    let found = Command::new("sqlite3").arg("-version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: this test needs the sqlite3 program");
    }
    found
}

/// The POSIX locks process `pid` holds on the file with inode `inode`, as
/// `/proc/locks` lists them (`1: POSIX ADVISORY READ PID MAJ:MIN:INODE ...`).
fn locks_held(pid: u32, inode: u64) -> Vec<String> {
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&"POSIX")
                && fields.get(4) == Some(&pid.to_string().as_str())
                && fields
                    .get(5)
                    .and_then(|device| device.rsplit(':').next())
                    .is_some_and(|found| found == inode.to_string())
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_server_holds_its_locks_on_the_database_after_startup() {
    let site = TestContext::initialised(OPM);
    let server = site.server(&[]);
    let inode = std::fs::metadata(site.db()).unwrap().ino();
    // Startup is done once the server answers; its pass has read the rows.
    let token = site.ok(&["admin", "token"]).trim().to_owned();
    let (status, _) = http(server.addr(), "GET", "/v1/phase", &token, "");
    assert_eq!(status, 200);
    let held = locks_held(server.id(), inode);
    assert!(
        !held.is_empty(),
        "the server holds no lock on {}: another SQLite client could delete its write-ahead log\n{}",
        site.db().display(),
        std::fs::read_to_string("/proc/locks").unwrap()
    );
}

#[test]
fn a_sqlite3_read_beside_the_server_loses_none_of_its_writes() {
    if !have_sqlite3() {
        return;
    }
    let site = TestContext::initialised(OPM);
    let token = site.ok(&["admin", "token"]).trim().to_owned();
    let server = site.server(&[]);
    assert_eq!(site.ok(&["cluster", "phase"]).trim(), "setup_wizard");
    // An admin's read, as a monitoring probe or a backup would do it: the
    // last connection of its process to close, it checkpoints and deletes
    // the write-ahead log unless another process holds a lock.
    let read = Command::new("sqlite3")
        .arg(site.db())
        .arg("SELECT count(*) FROM nodes")
        .output()
        .unwrap();
    assert!(read.status.success(), "{read:?}");
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "1");
    let (status, body) = http(
        server.addr(),
        "PUT",
        "/v1/phase",
        &token,
        r#"{"phase":"complete"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        site.ok(&["cluster", "phase"]).trim(),
        "complete",
        "the CLI does not see the server's write"
    );
    drop(server);
    assert_eq!(
        site.ok(&["cluster", "phase"]).trim(),
        "complete",
        "the server's write is gone after kill -9"
    );
}
