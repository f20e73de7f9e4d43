//! `opm run` on the head node drives an image (SPEC §1.1, §9 trap 7): the
//! client packages go into the image root (both opkgs in one dpkg
//! transaction), `client-post-install` runs chrooted in the image, and the
//! server's `api-post-image` gets the image root as `$1` only after the
//! image rows passed `install-bin-pkgs`.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn opkg(dir: &Path, name: &str, host_record: &Path) {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>image test opkg {name}</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>opm</name><email>opm@example.invalid</email></author></authors>
  <changelog><versionEntry version="1.0-1"><changelogEntry authorName="opm" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry></versionEntry></changelog>
</oscar>
"#
        ),
    )
    .unwrap();
    // Inside the chroot only busybox's sh builtins exist.
    script(
        &scripts.join("client-post-install"),
        &format!("echo \"{name} client-post-install $OPM_TARGET $OPM_ROLE $(pwd)\" >> /record"),
    );
    script(
        &scripts.join("api-post-image"),
        &format!(
            "echo \"{name} api-post-image $1\" >> {}",
            host_record.display()
        ),
    );
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_head_node_installs_into_the_image_root_and_chroots_its_scripts() {
    if !have("dpkg") || !Path::new("/bin/busybox").exists() || !have("chroot") {
        eprintln!("SKIPPED: dpkg, chroot or /bin/busybox (busybox-static) not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let image = path("image");
    std::fs::create_dir_all(image.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", image.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", image.join("bin/sh")).unwrap();
    for name in ["root", "repo"] {
        std::fs::create_dir_all(path(name)).unwrap();
    }
    std::fs::write(path("opm.conf"), "server\nhead\n").unwrap();
    let host_record = path("host-record");
    opkg(&path("src-imga"), "imga", &host_record);
    opkg(&path("src-imgb"), "imgb", &host_record);

    let opm = |args: &[&str]| -> Output {
        Command::new(assert_cmd::cargo::cargo_bin("opm"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OPM_DB", format!("sqlite:{}", path("db.sqlite").display()))
            .env("OPM_CONF", path("opm.conf"))
            .env("OPM_ROOT", path("root"))
            .env("OPM_REPO", path("repo"))
            .env("OPM_BACKEND", "dpkg")
            .args(args)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| -> String {
        let out = opm(args);
        assert!(out.status.success(), "opm {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let repo = path("repo").display().to_string();
    let (a, b) = (
        path("src-imga").display().to_string(),
        path("src-imgb").display().to_string(),
    );
    ok(&["pack", "--format", "deb", "-o", &repo, &a, &b]);
    ok(&["init"]);
    ok(&["image", "add", "img", "--path", image.to_str().unwrap()]);
    ok(&["opkg", "import", &a, &b]);
    ok(&["install", "imga", "imgb"]);
    ok(&["cluster", "phase", "complete"]);
    let out = opm(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let status: Vec<serde_json::Value> = serde_json::from_str(&ok(&["--json", "status"])).unwrap();
    assert_eq!(status.len(), 4, "{status:?}");
    for row in &status {
        assert_eq!(row["current"], "finished", "{row}");
    }
    // Chrooted in the image: / is the image root, cwd the package dir.
    let inside = std::fs::read_to_string(image.join("record")).unwrap();
    for name in ["imga", "imgb"] {
        assert!(
            inside.contains(&format!(
                "{name} client-post-install img image /usr/lib/oscar/packages/{name}\n"
            )),
            "{inside}"
        );
        assert!(
            image
                .join(format!("usr/lib/oscar/packages/{name}/client-post-install"))
                .exists()
        );
        // The client part never lands in the head node's own root.
        assert!(
            !path("root")
                .join(format!("usr/lib/oscar/packages/{name}/client-post-install"))
                .exists()
        );
    }
    let outside = std::fs::read_to_string(&host_record).unwrap();
    for name in ["imga", "imgb"] {
        assert!(
            outside.contains(&format!("{name} api-post-image {}\n", image.display())),
            "{outside}"
        );
    }
    // Both client packages went in with one dpkg transaction.
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&["--json", "history"])).unwrap();
    let attempt = history
        .iter()
        .find(|entry| {
            entry["kind"] == "image"
                && entry["package"] == "imgb"
                && entry["stage"] == "install-bin-pkgs"
        })
        .unwrap_or_else(|| panic!("no install-bin-pkgs attempt of img / imgb: {history:?}"));
    let id = attempt["id"].to_string();
    let logs = ok(&["logs", "--attempt", &id]);
    assert!(logs.contains("in one transaction"), "{logs}");
}
