//! README.md's "A real cluster", run as written: `scripts/cluster-walkthrough`
//! takes the commands from the README (so the two cannot drift) and runs
//! them for a head node and two compute nodes, each a directory of its own
//! with a dpkg sandbox root, on loopback, with this build of `opm`; it
//! checks that every row finished and that both agents traded their
//! enrolment tokens.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: a fixed script.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_readmes_real_cluster_walkthrough_converges() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/cluster-walkthrough"
    );
    let output = Command::new("bash")
        .arg(script)
        .env("OPM_BIN", env!("CARGO_BIN_EXE_opm"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/cluster-walkthrough failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("cluster-walkthrough: head, n1 and n2 converged"),
        "{stdout}"
    );
    // Every command of the README's blocks ran, the enrolments among them.
    for command in [
        "[head] # opm server tls init",
        "[head] # opm node add n1 --enroll n1.enroll",
        "[n2] # opm agent enroll n2.enroll",
        "[head] # opm status --watch",
    ] {
        assert!(stdout.contains(command), "{command} did not run:\n{stdout}");
    }
}
