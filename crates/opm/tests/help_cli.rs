//! Help that guides, through the built binary: `opm --help` groups the
//! subcommands under headings, the everyday commands end their help with
//! examples, `opm conf check --help` gives the opm.conf format (as the
//! README does), and `opm init --write-conf` writes the opm.conf it
//! describes.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary as a real child process"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// `opm` with `args`, no OPM_* variable from the test's environment, and
/// `env` on top.
fn opm(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opm"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OPM_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_groups_the_subcommands_under_headings() {
    let help = stdout(&opm(&["--help"], &[]));
    let headings = [
        "Setup:",
        "Day to day:",
        "Troubleshooting:",
        "Daemons:",
        "Developer:",
        "Options:",
    ];
    let at: Vec<usize> = headings
        .iter()
        .map(|heading| {
            help.find(&format!("\n{heading}\n"))
                .unwrap_or_else(|| panic!("no {heading} in\n{help}"))
        })
        .collect();
    assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "{help}");
    // A command sits under its heading: install is day to day, logs is
    // troubleshooting, agent a daemon.
    let under = |name: &str| {
        let line = help
            .find(&format!("\n  {name} "))
            .unwrap_or_else(|| panic!("{name} not listed in\n{help}"));
        at.iter()
            .rposition(|start| *start < line)
            .map(|i| headings[i])
    };
    assert_eq!(under("init"), Some("Setup:"));
    assert_eq!(under("install"), Some("Day to day:"));
    assert_eq!(under("logs"), Some("Troubleshooting:"));
    assert_eq!(under("agent"), Some("Daemons:"));
    assert_eq!(under("demo"), Some("Developer:"));
    // The short help has the same headings; the hidden man is in neither.
    let short = stdout(&opm(&["-h"], &[]));
    assert!(short.contains("\nTroubleshooting:\n"), "{short}");
    assert!(!help.contains("\n  man "), "{help}");
}

#[test]
fn everyday_commands_end_their_help_with_examples() {
    for (command, example) in [
        ("install", "opm install slurm c3"),
        ("request", "opm request slurm --stage finished --node n3"),
        ("retry", "opm retry slurm --node n3 --reason"),
        ("agent", "opm agent --server https://head:7060 --token-file"),
    ] {
        let help = stdout(&opm(&[command, "--help"], &[]));
        let examples = help
            .find("\nExamples:\n")
            .unwrap_or_else(|| panic!("no examples in opm {command} --help:\n{help}"));
        assert!(help[examples..].contains(example), "{help}");
    }
}

#[test]
fn conf_check_help_gives_the_format_and_the_readme_agrees() {
    let help = stdout(&opm(&["conf", "check", "--help"], &[]));
    let start = help
        .find("The opm.conf format")
        .unwrap_or_else(|| panic!("no format in\n{help}"));
    let format = help[start..].trim_end();
    assert!(format.contains("exactly two lines"), "{format}");
    assert!(format.contains("  server\n  head"), "{format}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    assert!(
        readme.contains(format),
        "README.md does not give the format as `opm conf check --help` does:\n{format}"
    );
}

#[test]
fn init_write_conf_writes_the_opm_conf_then_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("opm.conf");
    let db = dir.path().join("opm.db");
    let db_url = format!("sqlite:{}", db.display());
    let env = [
        ("OPM_CONF", conf.as_path()),
        ("OPM_DB", Path::new(&db_url)),
        ("OPM_SETTINGS", Path::new("/dev/null")),
    ];
    let init = |args: &[&str]| {
        let mut all = vec!["init", "--write-conf"];
        all.extend(args);
        opm(&all, &env)
    };
    let done = init(&["--role", "server", "--name", "head"]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "server\nhead\n");
    assert!(stdout(&done).contains("head node head"), "{done:?}");
    let checked = opm(&["conf", "check"], &env);
    assert_eq!(stdout(&checked), "role: server\nname: head\n");
    // Again with the same: nothing to change, still fine.
    assert_eq!(
        init(&["--role", "server", "--name", "head"]).status.code(),
        Some(0)
    );
    // A file that says otherwise is not overwritten.
    let other = init(&["--role", "server", "--name", "other"]);
    assert_eq!(other.status.code(), Some(2), "{other:?}");
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("exists and says server head"),
        "{other:?}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "server\nhead\n");
}

#[test]
fn init_write_conf_refuses_bad_names_and_writes_only_the_file_on_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("opm.conf");
    let db = dir.path().join("opm.db");
    let db_url = format!("sqlite:{}", db.display());
    let env = [
        ("OPM_CONF", conf.as_path()),
        ("OPM_DB", Path::new(&db_url)),
        ("OPM_SETTINGS", Path::new("/dev/null")),
    ];
    let bad = opm(
        &[
            "init",
            "--write-conf",
            "--role",
            "server",
            "--name",
            "../etc",
        ],
        &env,
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(!conf.exists() && !db.exists());
    let unknown = opm(
        &["init", "--write-conf", "--role", "king", "--name", "head"],
        &env,
    );
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let half = opm(&["init", "--write-conf", "--role", "server"], &env);
    assert_eq!(half.status.code(), Some(2), "{half:?}");
    assert!(!conf.exists() && !db.exists());
    let client = opm(
        &["init", "--write-conf", "--role", "client", "--name", "n3"],
        &env,
    );
    assert_eq!(client.status.code(), Some(0), "{client:?}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "client\nn3\n");
    assert!(!db.exists(), "a client has no database");
}
