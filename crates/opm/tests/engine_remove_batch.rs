//! `opm run` removes the client packages of several opkgs leaving one
//! image in one dpkg transaction (issue 24), and when that transaction
//! fails because of one package, exactly that opkg's row ends in error:
//! the others finish, and the image's package database agrees.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the test builds and installs a package behind opm's back and reads the image's dpkg database with the real tools"
)]

use std::path::Path;
use std::process::Command;

use opm_testkit::tools::{have_tool, output_text};

use opm_testkit::TestContext;
use opm_testkit::source::opkg_source;

/// Installs into `root` a package outside opm's knowledge that depends on
/// `needed`, so dpkg refuses to remove `needed`.
fn install_dependent(site: &TestContext, root: &Path, needed: &str) {
    let dir = site.path("holder");
    std::fs::create_dir_all(dir.join("DEBIAN")).unwrap();
    std::fs::write(
        dir.join("DEBIAN/control"),
        format!(
            "Package: holder\nVersion: 1.0\nArchitecture: all\nMaintainer: opm <opm@example.invalid>\nDepends: {needed}\nDescription: keeps {needed} in\n"
        ),
    )
    .unwrap();
    let deb = site.path("holder.deb");
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&dir)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", output_text(&built));
    let installed = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-not-root", "--force-script-chrootless", "--install"])
        .arg(&deb)
        .output()
        .unwrap();
    assert!(installed.status.success(), "{}", output_text(&installed));
}

/// The names `dpkg-query` lists as installed in `root`.
fn installed_in(root: &Path) -> Vec<String> {
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["--show", "--showformat=${Package} ${db:Status-Status}\n"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(" installed"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_removal_batch_with_one_failing_package_puts_exactly_that_row_in_error() {
    if !have_tool("dpkg") || !have_tool("dpkg-deb") {
        return;
    }
    let site = TestContext::new(assert_cmd::cargo::cargo_bin("opm"));
    let image = site.path("image");
    std::fs::create_dir_all(&image).unwrap();
    let names = ["rma", "rmb", "rmc", "rmd"];
    let sources: Vec<String> = names
        .iter()
        .map(|name| {
            let dir = site.path(&format!("src-{name}"));
            opkg_source(&dir, name, &format!("removal batch opkg {name}"), &[]);
            dir.display().to_string()
        })
        .collect();
    let repo = site.path("repo").display().to_string();
    let mut pack = vec!["pack", "--format", "deb", "-o", &repo];
    pack.extend(sources.iter().map(String::as_str));
    site.ok(&pack);
    site.ok(&["init"]);
    site.ok(&["image", "add", "img", "--path", image.to_str().unwrap()]);
    let mut import = vec!["opkg", "import"];
    import.extend(sources.iter().map(String::as_str));
    site.ok(&import);
    site.ok(&["install", "rma", "rmb", "rmc", "rmd"]);
    site.ok(&["cluster", "phase", "complete"]);
    let out = site.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for name in names {
        assert!(installed_in(&image).contains(&format!("opkg-{name}-client")));
    }

    // Two removals that both work: one dpkg transaction.
    site.ok(&["remove", "rmc", "rmd"]);
    let out = site.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let left = installed_in(&image);
    assert!(!left.contains(&"opkg-rmc-client".to_owned()), "{left:?}");
    assert!(!left.contains(&"opkg-rmd-client".to_owned()), "{left:?}");
    let history: Vec<serde_json::Value> = serde_json::from_value(site.json(&["history"])).unwrap();
    let attempt = history
        .iter()
        .find(|entry| {
            entry["kind"] == "image"
                && entry["package"] == "rmd"
                && entry["stage"] == "should_not_be_installed"
        })
        .unwrap_or_else(|| panic!("no uninstall attempt of img / rmd: {history:?}"));
    let logs = site.ok(&["logs", "--attempt", &attempt["id"].to_string()]);
    assert!(logs.contains("removed with the other opkgs"), "{logs}");

    // A batch dpkg refuses because of one package: each removal again on
    // its own, and only that package's row in error.
    install_dependent(&site, &image, "opkg-rmb-client");
    site.ok(&["remove", "rma", "rmb"]);
    let out = site.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));

    let out = site.command().args(["--json", "status"]).output().unwrap();
    let status: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let image_rows: Vec<&serde_json::Value> =
        status.iter().filter(|row| row["kind"] == "image").collect();
    assert_eq!(image_rows.len(), 4, "{status:?}");
    for row in image_rows {
        if row["package"] == "rmb" {
            // The removal never completed: the row stays where it was.
            assert_eq!(row["current"], "finished", "{row}");
            assert_eq!(row["status"], "error", "{row}");
            let message = row["message"].as_str().unwrap();
            assert!(
                message.contains("holder depends on opkg-rmb-client"),
                "{row}"
            );
        } else {
            assert_eq!(row["current"], "should_not_be_installed", "{row}");
            assert_eq!(row["status"], "ok", "{row}");
        }
    }
    let left = installed_in(&image);
    assert!(left.contains(&"opkg-rmb-client".to_owned()), "{left:?}");
    assert!(!left.contains(&"opkg-rma-client".to_owned()), "{left:?}");
}
