//! The site's script environment through the real binary: `opm settings`
//! shows what the settings file's `[script_env]` and `script_env_pass` and
//! the `--script-env`/`--script-env-pass` flags add up to, and every name
//! opm will not give scripts is refused with exit 2 before anything runs.

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;

/// `opm ARGS` with this settings file, nothing of the caller's OPM_*.
fn opm(settings: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::cargo_bin("opm").unwrap();
    command.env_clear().env("OPM_SETTINGS", settings);
    command.args(args).output().unwrap()
}

fn settings_file(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("opm.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const FILE: &str = "script_env_pass = [\"PERL5LIB\"]\n\n[script_env]\nOSCAR_HOME = \"/opt/oscar\"\nOSCAR_VERBOSE = \"1\"\n";

#[test]
fn settings_show_the_file_and_the_flags_layered() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), FILE);
    let flags = [
        "--script-env",
        "OSCAR_VERBOSE=5",
        "--script-env",
        "OSCAR_UI=a=b",
        "--script-env-pass",
        "PERL5LIB",
        "--script-env-pass",
        "OSCAR_PROFILE",
    ];
    let mut args = vec!["--json", "settings"];
    args.extend(flags);
    let out = opm(&settings, &args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["script_env"],
        serde_json::json!({"OSCAR_HOME": "/opt/oscar", "OSCAR_VERBOSE": "5", "OSCAR_UI": "a=b"})
    );
    assert_eq!(
        json["script_env_pass"],
        serde_json::json!(["PERL5LIB", "OSCAR_PROFILE"])
    );

    let mut args = vec!["settings"];
    args.extend(flags);
    let out = opm(&settings, &args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("script_env: OSCAR_HOME=/opt/oscar, OSCAR_UI=a=b, OSCAR_VERBOSE=5\n"),
        "{text}"
    );
    assert!(
        text.contains("script_env_pass: PERL5LIB, OSCAR_PROFILE\n"),
        "{text}"
    );
}

/// Exit 2 with one line on stderr containing `expected`, nothing on stdout.
fn assert_refused(out: &std::process::Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn opms_own_variables_are_refused_from_the_file_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let reserved = "is set by opm for every script (OPM_*, OSCAR_PACKAGE_HOME) and cannot be changed; pick another name";
    let settings = settings_file(dir.path(), "[script_env]\nOPM_STAGE = \"finished\"\n");
    assert_refused(
        &opm(&settings, &["settings"]),
        &format!("script environment variable 'OPM_STAGE' {reserved}"),
    );
    // Every command, not only those that run scripts: nothing starts.
    assert_refused(&opm(&settings, &["run"]), "'OPM_STAGE'");

    let settings = settings_file(dir.path(), "script_env_pass = [\"OSCAR_PACKAGE_HOME\"]\n");
    assert_refused(&opm(&settings, &["settings"]), "'OSCAR_PACKAGE_HOME'");

    let settings = settings_file(dir.path(), "");
    assert_refused(
        &opm(&settings, &["--script-env", "OPM_TARGET=n9", "settings"]),
        "'OPM_TARGET'",
    );
    assert_refused(
        &opm(
            &settings,
            &["--script-env-pass", "OPM_CONFIG_X", "settings"],
        ),
        "'OPM_CONFIG_X'",
    );
}

#[test]
fn bad_names_values_and_syntax_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), "");
    for (args, expected) in [
        (
            vec!["--script-env", "OSCAR_HOME", "settings"],
            "'OSCAR_HOME' is not NAME=VALUE; write e.g. --script-env OSCAR_HOME=/opt/oscar",
        ),
        (
            vec!["--script-env", "=x", "settings"],
            "'=x' is not NAME=VALUE",
        ),
        (
            vec!["--script-env", "9X=1", "settings"],
            "'9X' is not a variable name",
        ),
        (
            vec!["--script-env-pass", "A-B", "settings"],
            "'A-B' is not a variable name",
        ),
        (
            vec![
                "--script-env",
                "OSCAR_UI=cli",
                "--script-env-pass",
                "OSCAR_UI",
                "settings",
            ],
            "'OSCAR_UI' is both set and passed through; keep one of the two",
        ),
    ] {
        assert_refused(&opm(&settings, &args), expected);
    }
    // A value that is not a string is the settings file's error.
    let settings = settings_file(dir.path(), "[script_env]\nOSCAR_VERBOSE = 5\n");
    assert_refused(&opm(&settings, &["settings"]), "settings file ");
}
