//! Opkg sources the CLI's tests write: a valid config.xml (with the
//! opkg-level relations a test asks for), executable `/bin/sh` scripts,
//! and the relation elements config.xml keeps.

#![allow(
    clippy::unwrap_used,
    reason = "a test harness: a setup step that fails must fail the test that asked for it"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Writes opkg `name`'s source (version 1.0-1) into `dir`: a valid
/// config.xml saying `summary`, and each `(hook, body)` of `scripts` as an
/// executable `/bin/sh` script `scripts/<hook>`.
pub fn opkg_source(dir: &Path, name: &str, summary: &str, scripts: &[(&str, String)]) {
    opkg_source_at(dir, name, "1.0-1", summary, scripts);
}

/// [`opkg_source`] at `version`.
pub fn opkg_source_at(
    dir: &Path,
    name: &str,
    version: &str,
    summary: &str,
    scripts: &[(&str, String)],
) {
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>{summary}</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>opm</name><email>opm@example.invalid</email></author></authors>
  <changelog><versionEntry version="{version}"><changelogEntry authorName="opm" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry></versionEntry></changelog>
</oscar>
"#
        ),
    )
    .unwrap();
    for (hook, body) in scripts {
        script(&dir.join("scripts").join(hook), body);
    }
}

/// A valid config.xml for opkg `name` (version 1.0-1) with opkg-level
/// `relations`.
pub fn config_xml(name: &str, relations: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>The {name} test opkg</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors>
    <author cat="maintainer">
      <name>Max Maintainer</name>
      <email>max@example.org</email>
    </author>
  </authors>
{relations}
  <changelog>
    <versionEntry version="1.0-1">
      <changelogEntry authorName="Max Maintainer" date="2024-05-01T10:00:00">
        <item>Initial.</item>
      </changelogEntry>
    </versionEntry>
  </changelog>
</oscar>
"#
    )
}

/// `<requires>` naming `pkg`.
pub fn requires(pkg: &str) -> String {
    format!(
        "  <requires>
    <pkg>{pkg}</pkg>
  </requires>"
    )
}

/// `<conflicts>` naming `pkg`.
pub fn conflicts(pkg: &str) -> String {
    format!(
        "  <conflicts>
    <pkg>{pkg}</pkg>
  </conflicts>"
    )
}

/// `<provides>` naming `pkg`.
pub fn provides(pkg: &str) -> String {
    format!(
        "  <provides>
    <pkg>{pkg}</pkg>
  </provides>"
    )
}

/// Writes `body` as an executable `/bin/sh` script at `path`.
pub fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A seeded step of a small deterministic generator (no clock, no OS
/// randomness), so a failing schedule of a test can be run again.
pub fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}
