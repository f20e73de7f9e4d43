//! `opm conf check [PATH]` end to end, through the real binary: the good
//! case in text and JSON, how the file is chosen (argument, `--conf`,
//! `OPM_CONF`), and every kind of bad file: exit 2, exactly one clear line
//! on stderr naming the file (and line), nothing on stdout, no panic.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A sandbox: a temp dir and an empty settings file, so a settings file on
/// this machine (/etc/opm/opm.toml) or the caller's OPM_* environment
/// cannot change what the test sees.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("opm.toml"), "").unwrap();
        Sandbox { dir }
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn opm(&self) -> Command {
        let mut command = Command::cargo_bin("opm").unwrap();
        for var in [
            "OPM_DB",
            "OPM_CONF",
            "OPM_ROOT",
            "OPM_REPO",
            "OPM_BACKEND",
            "OPM_SETTINGS",
        ] {
            command.env_remove(var);
        }
        command.env("OPM_SETTINGS", self.dir.path().join("opm.toml"));
        command
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut command: Command) -> Outcome {
    let output = command.output().unwrap();
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn check(sandbox: &Sandbox, path: &Path) -> Outcome {
    let mut command = sandbox.opm();
    command.arg("conf").arg("check").arg(path);
    run(command)
}

/// Exit 2, nothing on stdout, and exactly this one line on stderr.
fn assert_refused(outcome: &Outcome, expected_line: &str) {
    assert_eq!(outcome.code, Some(2), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "", "nothing on stdout");
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr.lines().collect::<Vec<_>>(),
        [expected_line],
        "exactly one line on stderr"
    );
}

#[test]
fn a_good_file_prints_role_and_name() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("opm.conf", b"client\noscarnode1\n");
    let outcome = check(&sandbox, &path);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "role: client\nname: oscarnode1\n");
    assert_eq!(outcome.stderr, "");
}

#[test]
fn surrounding_whitespace_and_a_missing_final_newline_are_fine() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("opm.conf", b"  image\r\n\toscarimage  ");
    let outcome = check(&sandbox, &path);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "role: image\nname: oscarimage\n");
}

#[test]
fn json_output_is_role_and_name() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("opm.conf", b"server\nhead\n");
    let mut command = sandbox.opm();
    command.args(["--json", "conf", "check"]).arg(&path);
    let outcome = run(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(value, serde_json::json!({"role": "server", "name": "head"}));
    assert_eq!(outcome.stderr, "");
}

#[test]
fn without_a_path_the_conf_flag_is_read() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("flag.conf", b"client\nfrom-flag\n");
    let mut command = sandbox.opm();
    command.arg("--conf").arg(&path).args(["conf", "check"]);
    let outcome = run(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "role: client\nname: from-flag\n");
}

#[test]
fn without_a_path_opm_conf_is_read() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("env.conf", b"image\nfrom-env\n");
    let mut command = sandbox.opm();
    command.env("OPM_CONF", &path).args(["conf", "check"]);
    let outcome = run(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "role: image\nname: from-env\n");
}

#[test]
fn the_flag_beats_the_environment_and_the_argument_beats_both() {
    let sandbox = Sandbox::new();
    let from_env = sandbox.file("env.conf", b"image\nfrom-env\n");
    let from_flag = sandbox.file("flag.conf", b"client\nfrom-flag\n");
    let from_arg = sandbox.file("arg.conf", b"server\nfrom-arg\n");

    let mut command = sandbox.opm();
    command
        .env("OPM_CONF", &from_env)
        .arg("--conf")
        .arg(&from_flag)
        .args(["conf", "check"]);
    assert_eq!(run(command).stdout, "role: client\nname: from-flag\n");

    let mut command = sandbox.opm();
    command
        .env("OPM_CONF", &from_env)
        .arg("--conf")
        .arg(&from_flag)
        .args(["conf", "check"])
        .arg(&from_arg);
    assert_eq!(run(command).stdout, "role: server\nname: from-arg\n");
}

#[test]
fn the_settings_file_names_the_conf_when_nothing_else_does() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("file.conf", b"client\nfrom-settings\n");
    let settings = sandbox.file(
        "settings.toml",
        format!("conf = {:?}\n", path.display().to_string()).as_bytes(),
    );
    let mut command = sandbox.opm();
    command
        .env("OPM_SETTINGS", &settings)
        .args(["conf", "check"]);
    let outcome = run(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "role: client\nname: from-settings\n");
}

/// Each bad file, and the message after `error: <path>: `.
const BAD_FILES: &[(&str, &[u8], &str)] = &[
    (
        "empty",
        b"",
        "line 1: expected the role (server, client or image), found nothing (the file ends)",
    ),
    (
        "blank",
        b" \n\n\t\n",
        "line 1: expected the role (server, client or image), found nothing (the file ends)",
    ),
    (
        "one-line",
        b"client\n",
        "line 2: expected the name of this node or image, found nothing (the file ends)",
    ),
    (
        "three-lines",
        b"client\nnode1\nnode2\n",
        "line 3: expected the end of the file after the name, found 'node2'",
    ),
    (
        "unknown-type",
        b"worker\nnode1\n",
        "line 1: expected the role (server, client or image), found 'worker'",
    ),
    (
        "capitalised-type",
        b"Client\nnode1\n",
        "line 1: expected the role (server, client or image), found 'Client'",
    ),
    (
        "empty-name",
        b"client\n\nnode1\n",
        "line 2: expected the name of this node or image, found an empty line",
    ),
    (
        "name-with-space",
        b"client\nnode 1\n",
        "line 2: node name 'node 1' contains a space at position 5; \
         only letters, digits, '.', '_' and '-' are allowed",
    ),
    (
        "name-with-slash",
        b"image\nimages/x\n",
        "line 2: image name 'images/x' contains a slash at position 7; \
         only letters, digits, '.', '_' and '-' are allowed",
    ),
    (
        "name-path-escape",
        b"client\n../etc\n",
        "line 2: node name '../etc' must start with a letter or digit",
    ),
    (
        "name-with-semicolon",
        b"server\nhead;rm -rf /\n",
        "line 2: node name 'head;rm -rf /' contains ';' at position 5; \
         only letters, digits, '.', '_' and '-' are allowed",
    ),
    (
        "name-with-control-character",
        b"client\nnode\x1b[31m\n",
        "line 2: node name 'node\\u{1b}[31m' contains the control character \\u{1b} \
         at position 5; only letters, digits, '.', '_' and '-' are allowed",
    ),
    (
        "binary-garbage",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe\n\x00",
        "line 1: expected text, found binary data",
    ),
    (
        "invalid-utf8-on-line-2",
        b"client\nn\xe9ud\n",
        "line 2: expected text, found binary data",
    ),
];

#[test]
fn every_bad_file_is_refused_with_one_line_naming_file_and_line() {
    let sandbox = Sandbox::new();
    for (name, contents, message) in BAD_FILES {
        let path = sandbox.file(name, contents);
        let outcome = check(&sandbox, &path);
        assert_refused(&outcome, &format!("error: {}: {message}", path.display()));
    }
}

#[test]
fn a_bad_file_named_by_the_flag_or_environment_is_refused_the_same_way() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("bad.conf", b"client\n");
    let expected = format!(
        "error: {}: line 2: expected the name of this node or image, found nothing (the file ends)",
        path.display()
    );
    let mut command = sandbox.opm();
    command.arg("--conf").arg(&path).args(["conf", "check"]);
    assert_refused(&run(command), &expected);
    let mut command = sandbox.opm();
    command.env("OPM_CONF", &path).args(["conf", "check"]);
    assert_refused(&run(command), &expected);
}

#[test]
fn a_missing_file_is_refused() {
    let sandbox = Sandbox::new();
    let path = sandbox.dir.path().join("missing.conf");
    let outcome = check(&sandbox, &path);
    assert_refused(
        &outcome,
        &format!(
            "error: cannot read {}: No such file or directory (os error 2)",
            path.display()
        ),
    );
}

#[test]
fn a_directory_is_refused() {
    let sandbox = Sandbox::new();
    let outcome = check(&sandbox, sandbox.dir.path());
    assert_refused(
        &outcome,
        &format!(
            "error: cannot read {}: Is a directory (os error 21)",
            sandbox.dir.path().display()
        ),
    );
}

#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let sandbox = Sandbox::new();
    let mut contents = b"client\nnode1\n".to_vec();
    contents.resize(1 << 20, b' ');
    let path = sandbox.file("huge.conf", &contents);
    let outcome = check(&sandbox, &path);
    assert_refused(
        &outcome,
        &format!(
            "error: {}: larger than 4096 bytes; an opm.conf is two short lines",
            path.display()
        ),
    );
}

#[test]
fn an_endless_file_is_refused_not_read_forever() {
    let endless = Path::new("/dev/zero");
    if !endless.exists() {
        eprintln!("SKIPPED: /dev/zero not present on this machine");
        return;
    }
    let sandbox = Sandbox::new();
    let outcome = check(&sandbox, endless);
    assert_refused(
        &outcome,
        "error: /dev/zero: larger than 4096 bytes; an opm.conf is two short lines",
    );
}

#[test]
fn the_default_path_is_etc_opm_conf() {
    // Never read the machine's /etc in a test: only check what would be read.
    let sandbox = Sandbox::new();
    let mut command = sandbox.opm();
    command.args(["--json", "settings"]);
    let outcome = run(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(value["conf"], "/etc/opm.conf");
}

#[test]
fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.dir.path().join("opm.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let db = format!("sqlite:{}", sandbox.dir.path().join("opm.db").display());
    // A database made with a real opm.conf first, so that `plan` gets as far
    // as reading the pipe instead of stopping at a missing database.
    let real = sandbox.dir.path().join("real.conf");
    std::fs::write(&real, "server\nhead\n").unwrap();
    let mut init = sandbox.opm();
    init.arg("--conf")
        .arg(&real)
        .arg("--db")
        .arg(&db)
        .arg("init");
    let outcome = run(init);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    // Every command that reads opm.conf: opening a pipe nobody writes to
    // would wait forever, so each gets a deadline.
    let commands: [&[&str]; 3] = [&["conf", "check"], &["init"], &["plan"]];
    for args in commands {
        let mut command = sandbox.opm();
        command
            .arg("--conf")
            .arg(&fifo)
            .arg("--db")
            .arg(&db)
            .args(args)
            .timeout(std::time::Duration::from_secs(20));
        let outcome = run(command);
        assert_eq!(outcome.code, Some(2), "{args:?} {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(&format!(
                "cannot read {}: it is a named pipe (FIFO), not a file",
                fifo.display()
            )),
            "{args:?} {}",
            outcome.stderr
        );
    }
}
