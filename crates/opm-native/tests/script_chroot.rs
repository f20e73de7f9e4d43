//! `client-post-install` for an image runs chrooted in the image root: a tiny
//! image made of Debian's static busybox (`busybox-static`), entered for real
//! through `chroot` (needs root; CI runs as root and installs busybox-static).

// Helpers outside #[test] functions set up fixed temp files and names;
// a failure there is a broken test machine, reported by the panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_model::{Name, NameKind, Role, Stage, Target};
use opm_native::script::{
    ExitStatusKind, RunnerConfig, ScriptContext, ScriptError, ScriptInvocation, ScriptRunner,
    SiteEnv,
};

const BUSYBOX: &str = "/bin/busybox";
const PKG: &str = "/usr/lib/oscar/packages/demo";

/// Why this machine cannot run the chroot tests, if it cannot.
fn missing_prerequisite() -> Option<&'static str> {
    // /proc/self belongs to the effective user.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        return Some("not running as root (chroot needs it)");
    }
    let static_busybox = std::fs::read(BUSYBOX).is_ok_and(|elf| is_static_elf(&elf));
    if !static_busybox {
        return Some("no static /bin/busybox (apt-get install busybox-static)");
    }
    if !Path::new(&RunnerConfig::default().chroot_program).exists() {
        return Some("no chroot program");
    }
    None
}

/// True for a 64-bit little-endian ELF without a `PT_INTERP` program header,
/// i.e. one that runs without a dynamic loader inside an empty image.
fn is_static_elf(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(at..at + len)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0, |acc, &b| acc << 8 | u64::from(b)),
        )
    };
    let header = || -> Option<bool> {
        if elf.get(..6)? != b"\x7fELF\x02\x01" {
            return Some(false);
        }
        let table = usize::try_from(read(0x20, 8)?).ok()?;
        let size = usize::try_from(read(0x36, 2)?).ok()?;
        let count = usize::try_from(read(0x38, 2)?).ok()?;
        for index in 0..count {
            if read(table + index * size, 4)? == u64::from(PT_INTERP) {
                return Some(false);
            }
        }
        Some(true)
    };
    header().unwrap_or(false)
}

macro_rules! require_chroot {
    () => {
        if let Some(reason) = missing_prerequisite() {
            eprintln!("SKIPPED: chroot script test: {reason}");
            return;
        }
    };
}

/// An image root with busybox as `/bin/sh` and an empty package dir.
fn image(with_shell: bool) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    if with_shell {
        std::fs::copy(BUSYBOX, root.path().join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.path().join("bin/sh")).unwrap();
    }
    let package_dir = root.path().join(PKG.trim_start_matches('/'));
    std::fs::create_dir_all(&package_dir).unwrap();
    (root, package_dir)
}

fn script(package_dir: &Path, body: &str) {
    let path = package_dir.join("client-post-install");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn invocation(root: &Path) -> ScriptInvocation {
    let context = ScriptContext {
        stage: Stage::InstallBinPkgs,
        target: Target::image(Name::new(NameKind::Image, "oscarimage").unwrap()),
        role: Role::Image,
        attempt: 1,
        upgrade: None,
    };
    ScriptInvocation::builder(PKG, "client-post-install", context)
        .chroot(root)
        .arg("first arg")
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test]
async fn image_script_runs_inside_the_image_in_its_package_dir() {
    require_chroot!();
    let (root, package_dir) = image(true);
    script(
        &package_dir,
        "#!/bin/sh\necho \"cwd=$(pwd)\"\necho \"home=$OSCAR_PACKAGE_HOME\"\necho \"arg=$1\"\n\
         mkdir -p /made-inside\necho \"$OPM_TARGET\" > /made-inside/target\n",
    );
    let outcome = ScriptRunner::default()
        .run(&invocation(root.path()))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(
        outcome.output.stdout.to_text(),
        format!("cwd={PKG}\nhome={PKG}\narg=first arg\n")
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("made-inside/target")).unwrap(),
        "oscarimage\n"
    );
    assert!(
        !Path::new("/made-inside").exists(),
        "wrote outside the image"
    );
}

#[tokio::test]
async fn image_scripts_get_the_sites_variables_too() {
    require_chroot!();
    let (root, package_dir) = image(true);
    script(
        &package_dir,
        "#!/bin/sh\necho \"$OSCAR_HOME|$OPM_TARGET\"\n",
    );
    let site = SiteEnv::new(
        &BTreeMap::from([("OSCAR_HOME".to_owned(), "/opt/oscar".to_owned())]),
        &[],
        |_| None,
    )
    .unwrap();
    let context = ScriptContext {
        stage: Stage::InstallBinPkgs,
        target: Target::image(Name::new(NameKind::Image, "oscarimage").unwrap()),
        role: Role::Image,
        attempt: 1,
        upgrade: None,
    };
    let invocation = ScriptInvocation::builder(PKG, "client-post-install", context)
        .chroot(root.path())
        .site_env(site)
        .build()
        .unwrap();
    let outcome = ScriptRunner::default()
        .run(&invocation)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(outcome.output.stdout.to_text(), "/opt/oscar|oscarimage\n");
}

#[tokio::test]
async fn image_script_failure_keeps_its_exit_code() {
    require_chroot!();
    let (root, package_dir) = image(true);
    script(&package_dir, "#!/bin/sh\necho 'no rpm db' >&2\nexit 4\n");
    let outcome = ScriptRunner::default()
        .run(&invocation(root.path()))
        .await
        .unwrap();
    assert_eq!(outcome.exit, ExitStatusKind::Code(4));
    let message = outcome.failure_message();
    assert!(
        message.starts_with(&format!(
            "script {PKG}/client-post-install failed with exit code 4"
        )),
        "{message}"
    );
    assert!(message.ends_with("last stderr:\nno rpm db"), "{message}");
}

#[tokio::test]
async fn image_without_a_shell_is_refused_before_starting() {
    require_chroot!();
    let (root, package_dir) = image(false);
    script(&package_dir, "#!/bin/sh\nexit 0\n");
    let error = ScriptRunner::default()
        .run(&invocation(root.path()))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "image root {} has no /bin/sh; opm needs it to enter the package dir inside the image",
            root.path().display()
        )
    );
}

#[tokio::test]
async fn interpreter_missing_inside_the_image_is_named() {
    require_chroot!();
    let (root, package_dir) = image(true);
    script(&package_dir, "#!/usr/bin/perl\nexit 0;\n");
    let error = ScriptRunner::default()
        .run(&invocation(root.path()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScriptError::BadInterpreter { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains(&format!(
            "names interpreter /usr/bin/perl on its #! line, which does not exist in image root {}",
            root.path().display()
        )),
        "{error}"
    );
}

#[tokio::test]
async fn missing_image_root_is_named() {
    // Needs neither root nor busybox: nothing is started.
    let root = tempfile::tempdir().unwrap();
    let gone = root.path().join("no-such-image");
    let error = ScriptRunner::default()
        .run(&invocation(&gone))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScriptError::ChrootRootMissing { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn missing_chroot_program_is_named() {
    // Nothing enters the image, so neither root nor busybox is needed.
    let (root, package_dir) = image(false);
    std::fs::write(root.path().join("bin/sh"), "stand-in").unwrap();
    script(&package_dir, "#!/bin/sh\nexit 0\n");
    let runner = ScriptRunner::new(RunnerConfig {
        chroot_program: PathBuf::from("/no/such/chroot"),
        ..RunnerConfig::default()
    });
    let error = runner.run(&invocation(root.path())).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("could not start /no/such/chroot: "),
        "{error}"
    );
}
