//! `opm run` on the head node drives an image (SPEC §1.1, §9 trap 7): the
//! client packages go into the image root (both opkgs in one dpkg
//! transaction), `client-post-install` runs chrooted in the image, and the
//! server's `api-post-image` gets the image root as `$1` only after the
//! image rows passed `install-bin-pkgs`.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use opm_testkit::tools::{have_tool, output_text};

use opm_testkit::TestContext;
use opm_testkit::source::opkg_source;

fn opkg(dir: &Path, name: &str, host_record: &Path) {
    // Inside the chroot only busybox's sh builtins exist.
    let scripts = [
        (
            "client-post-install",
            format!("echo \"{name} client-post-install $OPM_TARGET $OPM_ROLE $(pwd)\" >> /record"),
        ),
        (
            "api-post-image",
            format!(
                "echo \"{name} api-post-image $1\" >> {}",
                host_record.display()
            ),
        ),
    ];
    opkg_source(dir, name, &format!("image test opkg {name}"), &scripts);
}

#[test]
fn the_head_node_installs_into_the_image_root_and_chroots_its_scripts() {
    if !have_tool("dpkg") || !have_tool("chroot") {
        return;
    }
    if !Path::new("/bin/busybox").exists() {
        eprintln!("SKIPPED: /bin/busybox not installed (busybox-static, see .ci/run)");
        return;
    }
    let site = TestContext::new(assert_cmd::cargo::cargo_bin("opm"));
    let path = |name: &str| -> PathBuf { site.path(name) };
    let image = path("image");
    std::fs::create_dir_all(image.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", image.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", image.join("bin/sh")).unwrap();
    let host_record = path("host-record");
    opkg(&path("src-imga"), "imga", &host_record);
    opkg(&path("src-imgb"), "imgb", &host_record);

    let repo = path("repo").display().to_string();
    let (a, b) = (
        path("src-imga").display().to_string(),
        path("src-imgb").display().to_string(),
    );
    site.ok(&["pack", "--format", "deb", "-o", &repo, &a, &b]);
    site.ok(&["init"]);
    site.ok(&["image", "add", "img", "--path", image.to_str().unwrap()]);
    site.ok(&["opkg", "import", &a, &b]);
    site.ok(&["install", "imga", "imgb"]);
    site.ok(&["cluster", "phase", "complete"]);
    let out = site.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    let status: Vec<serde_json::Value> = serde_json::from_value(site.json(&["status"])).unwrap();
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
            !site
                .root()
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
    let history: Vec<serde_json::Value> = serde_json::from_value(site.json(&["history"])).unwrap();
    let attempt = history
        .iter()
        .find(|entry| {
            entry["kind"] == "image"
                && entry["package"] == "imgb"
                && entry["stage"] == "install-bin-pkgs"
        })
        .unwrap_or_else(|| panic!("no install-bin-pkgs attempt of img / imgb: {history:?}"));
    let id = attempt["id"].to_string();
    let logs = site.ok(&["logs", "--attempt", &id]);
    assert!(logs.contains("in one transaction"), "{logs}");
}
