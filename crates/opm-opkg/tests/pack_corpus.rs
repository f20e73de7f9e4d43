//! Every corpus opkg the default validation accepts packs as .deb and .rpm,
//! and the real dpkg-deb and rpm read every package back. Prints the sizes
//! and build times (run with `--nocapture`; figures only, never asserted).
//! The corpus is read in place from `../shared/corpus`.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use opm_opkg::pack::{
    PackError, PackageSpec, SourceFiles, Target, deb_bytes, deb_file_name, opkg_specs, rpm_bytes,
    rpm_file_name,
};
use opm_opkg::{Dist, Opkg, Rel};
use opm_testkit::tools::on_path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/opkgs");

/// `preferred`, or else the first dist and arch the opkg's own filters list.
fn target_for(opkg: &Opkg, preferred: &str) -> Target {
    let mut target = Target {
        dist: Some(Dist::parse(preferred)),
        arch: Some("x86_64".to_owned()),
        mtime: 1_700_000_000,
    };
    if !opkg.available_on(target.dist.as_ref(), target.arch.as_deref()) {
        if let Some(dist) = opkg.filters.dists.first() {
            target.dist = Some(Dist {
                name: dist.name.clone(),
                version: match &dist.constraint {
                    Some((Rel::Equal, version)) => Some(version.clone()),
                    _ => None,
                },
            });
        }
        if let Some(arch) = opkg.filters.arches.first() {
            target.arch = Some(arch.clone());
        }
    }
    target
}

fn build(
    specs: &[PackageSpec],
    write: fn(&PackageSpec) -> Result<Vec<u8>, PackError>,
) -> Vec<Vec<u8>> {
    specs.iter().map(|spec| write(spec).unwrap()).collect()
}

#[test]
fn accepted_corpus_opkgs_pack_in_both_formats() {
    let corpus = PathBuf::from(CORPUS);
    if !corpus.is_dir() {
        eprintln!("SKIPPED: ../shared not present (no corpus at {CORPUS})");
        return;
    }
    let (dpkg_deb, rpm) = (on_path("dpkg-deb"), on_path("rpm"));
    if !dpkg_deb || !rpm {
        eprintln!("SKIPPED in part: dpkg-deb or rpm missing, packages are built but not read back");
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("config.xml").is_file())
        .collect();
    dirs.sort();
    let scratch = tempfile::tempdir().unwrap();
    let mut packed = 0;
    let mut refused = Vec::new();
    let (mut deb_total, mut rpm_total) = (0, 0);
    let (mut deb_time, mut rpm_time) = (Duration::ZERO, Duration::ZERO);
    eprintln!(
        "{:<14} {:>22} {:>22} {:>9} {:>9}",
        "opkg", "deb api/server/client", "rpm api/server/client", "deb µs", "rpm µs"
    );
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(loaded) = Opkg::from_path(dir) else {
            refused.push(name);
            continue;
        };
        let files = SourceFiles::read(dir).unwrap();

        let started = Instant::now();
        let deb_specs =
            opkg_specs(&loaded.opkg, &files, &target_for(&loaded.opkg, "debian")).unwrap();
        let debs = build(&deb_specs, deb_bytes);
        let deb_elapsed = started.elapsed();

        let started = Instant::now();
        let rpm_specs =
            opkg_specs(&loaded.opkg, &files, &target_for(&loaded.opkg, "rhel-6")).unwrap();
        let rpms = build(&rpm_specs, rpm_bytes);
        let rpm_elapsed = started.elapsed();

        for (spec, bytes) in deb_specs.iter().zip(&debs) {
            let path = scratch.path().join(deb_file_name(spec));
            std::fs::write(&path, bytes).unwrap();
            if dpkg_deb {
                read_back("dpkg-deb", &["--info"], &path, &spec.name);
                read_back(
                    "dpkg-deb",
                    &["--contents"],
                    &path,
                    "./usr/lib/oscar/packages/",
                );
            }
        }
        for (spec, bytes) in rpm_specs.iter().zip(&rpms) {
            let path = scratch.path().join(rpm_file_name(spec));
            std::fs::write(&path, bytes).unwrap();
            if rpm {
                let db = format!("--dbpath={}", scratch.path().join("rpmdb").display());
                read_back("rpm", &[&db, "-qip"], &path, &spec.name);
            }
        }
        let sizes = |list: &[Vec<u8>]| {
            list.iter()
                .map(|b| b.len().to_string())
                .collect::<Vec<_>>()
                .join("/")
        };
        eprintln!(
            "{name:<14} {:>22} {:>22} {:>9} {:>9}",
            sizes(&debs),
            sizes(&rpms),
            deb_elapsed.as_micros(),
            rpm_elapsed.as_micros()
        );
        deb_total += debs.iter().map(Vec::len).sum::<usize>();
        rpm_total += rpms.iter().map(Vec::len).sum::<usize>();
        deb_time += deb_elapsed;
        rpm_time += rpm_elapsed;
        packed += 1;
    }
    eprintln!(
        "packed {packed} opkgs ({} packages per format); refused by validation: {refused:?}\n\
         deb: {deb_total} bytes in {} µs; rpm: {rpm_total} bytes in {} µs",
        packed * 3,
        deb_time.as_micros(),
        rpm_time.as_micros()
    );
    assert_eq!(
        refused,
        ["old-format"],
        "only the old format is refused by default"
    );
    assert_eq!(packed, dirs.len() - 1);
}

fn read_back(tool: &str, args: &[&str], path: &Path, expected: &str) {
    let out = Command::new(tool).args(args).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(expected),
        "{tool} {args:?} {}: {text}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
