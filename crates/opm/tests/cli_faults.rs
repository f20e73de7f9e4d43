//! Faults and hostile input of issue 16 through the real `opm` binary:
//! each refusal exits 2, says why, and leaves the database as it was.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opm_testkit::TestContext;
use opm_testkit::source::requires;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

#[test]
fn an_image_root_that_is_the_running_system_is_refused_however_spelled() {
    let site = TestContext::initialised(OPM);
    std::os::unix::fs::symlink("/", site.path("to-root")).unwrap();
    std::os::unix::fs::symlink("/etc", site.path("to-etc")).unwrap();
    let to_root = site.path("to-root").display().to_string();
    let to_root_dot = format!("{to_root}/.");
    let to_etc = site.path("to-etc").display().to_string();
    for (path, system) in [
        ("/", "/"),
        ("/./", "/"),
        ("//", "/"),
        ("/usr/..", "/"),
        (to_root.as_str(), "/"),
        (to_root_dot.as_str(), "/"),
        ("/etc", "/etc"),
        (to_etc.as_str(), "/etc"),
        ("/usr/", "/usr"),
        ("/var", "/var"),
        ("/boot/../boot", "/boot"),
    ] {
        if !std::path::Path::new(path).exists() {
            continue;
        }
        let stderr = site.refused(
            &["image", "add", "compute", "--path", path],
            &format!("image root {path} is this machine's {system} "),
        );
        assert!(stderr.contains("a directory of its own"), "{stderr}");
    }
    // The image's own directory is fine.
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
}

#[test]
fn settings_never_show_a_database_password() {
    let site = TestContext::new(OPM);
    for url in [
        "postgres://opm:s3cret@db.example/opm",
        "postgres://opm@db.example/opm?password=s3cret&sslmode=disable",
    ] {
        for json in [false, true] {
            let args: &[&str] = if json {
                &["--json", "settings"]
            } else {
                &["settings"]
            };
            let out = site.opm_db(url, args);
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
            assert!(out.stdout.contains("***"), "{}", out.stdout);
        }
    }
    // A URL of no known scheme is refused without its password.
    let out = site.opm_db("mysql://db/x?password=s3cret", &["status"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    assert!(out.stderr.contains("password=***"), "{}", out.stderr);
}

#[test]
fn a_dependency_cycle_is_refused_at_import_and_install_and_named_by_plan() {
    let site = TestContext::initialised(OPM);
    let aa = site.opkg("aa", &requires("opkg-bb"));
    let bb = site.opkg("bb", &requires("opkg-aa"));
    // Both at once, and one after the other: nothing imported.
    site.refused(&["opkg", "import", &aa, &bb], "cycle (aa -> bb -> aa)");
    site.ok(&["opkg", "import", &aa]);
    let stderr = site.refused(&["opkg", "import", &bb], "cycle (aa -> bb -> aa)");
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    // A database written before cycles were refused may hold one: the
    // install is refused and the rows that wait on it say why.
    let plain = site.opkg("bb", "");
    site.ok(&["opkg", "import", &plain]);
    site.ok(&["install", "bb", "aa"]);
    let Some(()) = sqlite(
        &site,
        "INSERT INTO opkg_relations (opkg_id, kind, other) \
         SELECT id, 'depends', 'aa' FROM opkgs WHERE name = 'bb'",
    ) else {
        return;
    };
    site.refused(
        &["install", "aa"],
        "cannot install aa: the opkgs' dependencies form a cycle (aa -> bb -> aa)",
    );
    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("head / aa: blocked: the opkgs' dependencies form a cycle (aa -> bb -> aa)"),
        "{plan}"
    );
    assert!(
        plan.contains("head / bb: blocked: the opkgs' dependencies form a cycle (bb -> aa -> bb)"),
        "{plan}"
    );
}

/// Runs `sql` on the site's database with the sqlite3 program; `None`
/// (after a loud SKIPPED line, which fails CI) when it is missing.
fn sqlite(site: &TestContext, sql: &str) -> Option<()> {
    match std::process::Command::new("sqlite3")
        .arg(site.db())
        .arg(sql)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(())
        }
        Err(error) => {
            eprintln!("SKIPPED: editing the database needs sqlite3 ({error})");
            None
        }
    }
}

#[test]
fn a_run_whose_opm_conf_names_an_unregistered_head_is_bad_input() {
    let site = TestContext::initialised(OPM);
    std::fs::write(site.path("opm.conf"), "server\nother\n").unwrap();
    let stderr = site.refused(&["run"], "unknown node 'other'");
    assert!(stderr.contains("opm.conf; fix it there"), "{stderr}");
}

#[test]
fn an_error_never_echoes_a_huge_argument_in_full() {
    let site = TestContext::initialised(OPM);
    let huge = "a".repeat(100_000);
    let path = format!("/tmp/{huge}");
    let commands: [&[&str]; 4] = [
        &["install", &huge],
        &["node", "add", &huge],
        &["request", "pkg", "--stage", &huge, "--server"],
        &["image", "add", "img", "--path", &path],
    ];
    for args in commands {
        let stderr = site.refused(args, "bytes cut ...]");
        assert!(stderr.len() < 1024, "{args:.40?}: {} bytes", stderr.len());
    }
}

#[test]
fn a_script_timeout_of_zero_is_refused_and_help_says_so() {
    let site = TestContext::initialised(OPM);
    for command in ["run", "agent"] {
        site.refused(
            &[command, "--script-timeout", "0"],
            "invalid value '0' for '--script-timeout <SECS>'",
        );
        let help = site.ok(&[command, "--help"]);
        let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains("at least 1 (0 is refused"), "{help}");
    }
    site.refused(
        &["run", "--lease-ttl", "0"],
        "invalid value '0' for '--lease-ttl <SECS>'",
    );
}

#[test]
fn the_database_is_readable_by_its_owner_alone() {
    use std::os::unix::fs::PermissionsExt;
    let site = TestContext::initialised(OPM);
    site.ok(&["node", "add", "n1"]);
    for file in ["opm.db", "opm.db-wal", "opm.db-shm"] {
        let path = site.path(file);
        if file == "opm.db" || path.exists() {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

/// SPEC §1.9: `opm upgrade` and `opm opkg pin` on what does not exist are
/// refused by name and change nothing.
#[test]
fn upgrades_and_pins_of_unknown_things_are_refused_and_change_nothing() {
    let site = TestContext::initialised(OPM);
    let pkg = site.opkg("pkg", "");
    site.ok(&["opkg", "import", &pkg]);
    site.ok(&["install", "pkg"]);
    site.refused(&["upgrade", "nosuch"], "unknown opkg 'nosuch'");
    site.refused(&["upgrade", "pkg", "--node", "n9"], "n9");
    site.refused(&["upgrade", "pkg", "--image", "img9"], "img9");
    site.refused(&["upgrade", "pkg", "--group", "g9"], "g9");
    site.refused(
        &["opkg", "pin", "pkg", "2.0-1"],
        "opkg 'pkg' has no imported version '2.0-1' (imported: 1.0-1)",
    );
    site.refused(&["opkg", "pin", "nosuch", "1.0-1"], "unknown opkg 'nosuch'");
    site.refused(
        &["upgrade", "pkg", "--node", "head", "--image", "img"],
        "cannot be used with",
    );
}
