//! The outside programs a test drives (dpkg, rpm, gpg, chroot, …): whether
//! one is installed, and its output when it must succeed. A test that needs
//! a missing tool says `SKIPPED: …` on stderr and returns; CI installs every
//! tool (`.ci/run`) and `scripts/test` fails on any SKIPPED line, so such a
//! skip can only happen on a developer's machine.

use std::process::{Command, Output};

/// Whether `tool` is on `PATH`, quietly: for a test that goes on without it.
pub fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Whether `tool` is on `PATH`; when it is not, says
/// `SKIPPED: <tool> not installed` so the skip is seen.
pub fn have_tool(tool: &str) -> bool {
    let found = on_path(tool);
    if !found {
        eprintln!("SKIPPED: {tool} not installed (see .ci/run for the apt line)");
    }
    found
}

/// Runs `command` and gives its stdout; panics with the command and all it
/// printed when it cannot start, fails or prints other than UTF-8.
pub fn stdout_of(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        output_text(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap_or_else(|e| panic!("{command:?} printed other than UTF-8: {e}"))
}

/// What a finished command said, for an assertion's message: its exit code,
/// stdout and stderr, each named.
pub fn output_text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
