//! The conformance suite: every function takes the backend and is
//! instantiated once per backend in `main.rs`, so all four pass the same
//! story against the real tools, in sandbox roots only.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use opm_model::Presence;
use opm_native::command::Invocation;
use opm_native::lock::RootLock;
use opm_native::{Backend, Cause, NativeError, Options, Repo, apt, dnf, dpkg, rpm};
use opm_opkg::Rel;

use crate::fixtures::{
    available, big_package, installed, is_deb, manager, names, package, repo, resolves, sandbox,
    write,
};

const A: &str = "opm-test-a";
const B: &str = "opm-test-b";
const C: &str = "opm-test-c";

/// B needs A at 1.0 or later; both in the repository.
fn a_and_b() -> Vec<opm_opkg::pack::PackageSpec> {
    vec![
        package(A, "1.0-1", &[]),
        package(B, "1.0-1", &[(A, Rel::GreaterOrEqual, "1.0")]),
    ]
}

fn tool_cause(error: &NativeError) -> &Cause {
    match error.tool_failure() {
        Some(failure) => &failure.cause,
        None => panic!("expected a tool failure, got: {error}"),
    }
}

/// The story: install B into an empty root (A comes along where the backend
/// resolves, must be named where it does not), query, reinstall, remove.
pub fn installs_a_dependent_then_queries_and_removes(backend: Backend) {
    if !available(backend, "installs_a_dependent_then_queries_and_removes") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    assert_eq!(manager.backend(), backend);
    assert!(installed(&*manager, &root, &[A, B]).is_empty());

    if resolves(backend) {
        manager.install(&root, &names(&[B])).unwrap();
    } else {
        let error = manager.install(&root, &names(&[B])).unwrap_err();
        let Cause::MissingDependency(pairs) = tool_cause(&error) else {
            panic!("expected a missing dependency: {error}");
        };
        assert!(pairs[0].0.starts_with(B), "{pairs:?}");
        assert!(pairs[0].1.starts_with(A), "{pairs:?}");
        let text = error.to_string();
        assert!(text.contains(B) && text.contains(root.as_str()), "{text}");
        assert!(
            installed(&*manager, &root, &[A, B]).is_empty(),
            "a failed transaction must leave nothing behind"
        );
        // A name given twice is one package in the transaction.
        manager.install(&root, &names(&[B, A, B])).unwrap();
    }

    let packages = manager.query(&root, &names(&[A, B])).unwrap();
    assert_eq!(packages.len(), 2, "{packages:?}");
    let a = packages.iter().find(|package| package.name == A).unwrap();
    assert_eq!(a.version, "1.0-1");
    assert_eq!(a.arch, if is_deb(backend) { "all" } else { "noarch" });
    assert_eq!(
        std::fs::read_to_string(root.join(&format!("usr/share/{B}/README"))).unwrap(),
        B
    );

    // Installing what is there already changes nothing and is no error.
    manager.install(&root, &names(&[A])).unwrap();
    assert_eq!(installed(&*manager, &root, &[A, B]), [A, B]);

    manager.remove(&root, &names(&[B, A])).unwrap();
    assert!(installed(&*manager, &root, &[A, B]).is_empty());
    assert!(!root.join(&format!("usr/share/{B}/README")).exists());
    // Removing what is gone is no error either.
    manager.remove(&root, &names(&[B, A])).unwrap();
}

/// The engine's removal batch (issue 24): C and A in one call while the
/// installed B needs A. Where the call fails, removing each name on its own
/// (as the engine then does) must fail for A alone and leave the package
/// database with A and B; where the backend resolves, it takes the
/// dependent B along instead, and says so by succeeding.
pub fn removes_a_batch_with_one_package_another_needs(backend: Backend) {
    if !available(backend, "removes_a_batch_with_one_package_another_needs") {
        return;
    }
    let mut specs = a_and_b();
    specs.push(package(C, "1.0-1", &[]));
    let repo = repo(backend, &specs);
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    manager.install(&root, &names(&[A, B, C])).unwrap();
    assert_eq!(installed(&*manager, &root, &[A, B, C]), [A, B, C]);

    let batch = manager.remove(&root, &names(&[C, A]));
    if resolves(backend) {
        batch.unwrap();
        assert!(installed(&*manager, &root, &[A, B, C]).is_empty());
        return;
    }
    let error = batch.unwrap_err();
    assert!(error.to_string().contains(A), "{error}");
    let failed: Vec<&str> = [C, A]
        .into_iter()
        .filter(|name| manager.remove(&root, &names(&[name])).is_err())
        .collect();
    assert_eq!(failed, [A]);
    assert_eq!(installed(&*manager, &root, &[A, B, C]), [A, B]);
}

/// An empty directory gets an empty package database the real tool reads;
/// doing it again changes nothing.
pub fn prepares_an_empty_root(backend: Backend) {
    if !available(backend, "prepares_an_empty_root") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    manager.prepare(&root).unwrap();
    let database = if is_deb(backend) {
        "var/lib/dpkg/status"
    } else {
        "var/lib/rpm/rpmdb.sqlite"
    };
    assert!(root.join(database).exists(), "{database} missing");
    manager.prepare(&root).unwrap();
    let query = if is_deb(backend) {
        dpkg::query_command(&root, &[])
    } else {
        rpm::query_command(&root, &[]).args(["--all"])
    };
    let ran = query.run().unwrap();
    assert!(ran.success(), "{}", ran.combined());
    assert_eq!(ran.stdout, "", "an empty database lists nothing");
}

/// B's repository is a `file://` URL, A's a directory: both are read
/// (SPEC §9 trap 11: a second repository must not replace the first).
pub fn reads_every_repository(backend: Backend) {
    if !available(backend, "reads_every_repository") {
        return;
    }
    let [a, b] = <[_; 2]>::try_from(a_and_b()).unwrap();
    let repo_a = repo(backend, &[a]);
    let repo_b = repo(backend, &[b]);
    let (_dir, root) = sandbox();
    let manager = backend.manager(Options::new(vec![
        Repo::Dir(repo_a.path().to_owned()),
        Repo::parse(&format!("file://{}", repo_b.path().display())).unwrap(),
    ]));
    let wanted = if resolves(backend) {
        vec![B]
    } else {
        vec![A, B]
    };
    manager.install(&root, &names(&wanted)).unwrap();
    assert_eq!(installed(&*manager, &root, &[A, B]), [A, B]);
}

/// An image root with its own `/bin/sh` (busybox): the tools run package
/// scripts chrooted there instead of on the host, and install as usual.
pub fn installs_into_an_image_root_with_a_shell(backend: Backend) {
    if !available(backend, "installs_into_an_image_root_with_a_shell") {
        return;
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        eprintln!(
            "SKIPPED: installs_into_an_image_root_with_a_shell ({backend}): apt-get install busybox-static"
        );
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (dir, root) = sandbox();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::copy(busybox, dir.path().join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", dir.path().join("bin/sh")).unwrap();
    assert!(root.has_shell());
    let manager = manager(backend, repo.path());
    let wanted = if resolves(backend) {
        vec![B]
    } else {
        vec![A, B]
    };
    manager.install(&root, &names(&wanted)).unwrap();
    assert_eq!(installed(&*manager, &root, &[A, B]), [A, B]);
    manager.remove(&root, &names(&[B, A])).unwrap();
    assert!(installed(&*manager, &root, &[A, B]).is_empty());
}

/// A package none of the repositories has: named, and nothing changes.
pub fn refuses_a_package_missing_from_the_repo(backend: Backend) {
    if !available(backend, "refuses_a_package_missing_from_the_repo") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    let error = manager
        .install(&root, &names(&[A, "opm-test-none"]))
        .unwrap_err();
    match &error {
        NativeError::NotInRepo { packages, .. } => assert_eq!(packages, &["opm-test-none"]),
        other => assert_eq!(
            tool_cause(other),
            &Cause::NotFound(names(&["opm-test-none"]))
        ),
    }
    let text = error.to_string();
    assert!(
        text.contains("opm-test-none") && text.contains(root.as_str()),
        "{text}"
    );
    assert!(installed(&*manager, &root, &[A]).is_empty());
}

/// A damaged package file: a clear failure with the tool's output.
pub fn refuses_a_damaged_package_file(backend: Backend) {
    if !available(backend, "refuses_a_damaged_package_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write(backend, dir.path(), &[package(C, "1.0-1", &[])]);
    crate::fixtures::index(backend, dir.path());
    // Same size, wrong bytes: indexes still list it, the contents are garbage.
    let size = std::fs::metadata(&files[0]).unwrap().len();
    let garbage = vec![b'#'; usize::try_from(size).unwrap()];
    std::fs::write(&files[0], garbage).unwrap();
    let (_dir, root) = sandbox();
    let manager = manager(backend, dir.path());
    let error = manager.install(&root, &names(&[C])).unwrap_err();
    let failure = error.tool_failure().unwrap();
    assert_eq!(failure.packages, [C]);
    assert!(!failure.output.is_empty());
    assert!(
        matches!(failure.cause, Cause::BadPackage(_)),
        "expected a damaged package: {error}"
    );
    assert!(installed(&*manager, &root, &[C]).is_empty());
}

/// C needs A 2.0 but the repository has A 1.0.
pub fn refuses_an_unsatisfiable_dependency(backend: Backend) {
    if !available(backend, "refuses_an_unsatisfiable_dependency") {
        return;
    }
    let repo = repo(
        backend,
        &[
            package(A, "1.0-1", &[]),
            package(C, "1.0-1", &[(A, Rel::GreaterOrEqual, "2.0")]),
        ],
    );
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    let error = manager.install(&root, &names(&[A, C])).unwrap_err();
    let cause = tool_cause(&error);
    if resolves(backend) {
        assert_eq!(cause, &Cause::Unsatisfiable, "{error}");
    } else {
        let Cause::MissingDependency(pairs) = cause else {
            panic!("expected a missing dependency: {error}");
        };
        assert!(
            pairs[0].0.starts_with(C) && pairs[0].1.contains("2.0"),
            "{pairs:?}"
        );
    }
    assert!(
        installed(&*manager, &root, &[A, C]).is_empty(),
        "the transaction is all or nothing"
    );
}

/// A root that is gone, and one whose path is a file.
pub fn refuses_a_missing_root(backend: Backend) {
    if !available(backend, "refuses_a_missing_root") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let manager = manager(backend, repo.path());
    let (dir, root) = sandbox();
    drop(dir);
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    assert!(matches!(error, NativeError::RootMissing(_)), "{error}");
    assert!(error.to_string().contains(root.as_str()), "{error}");
}

/// Runs `chattr` and says whether it worked.
fn chattr(flag: &str, path: &Path) -> bool {
    std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Takes the immutable flag off again, whatever the test did.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        chattr("-i", self.0);
    }
}

/// A root nobody can write, root included (`chattr +i`), and a root whose
/// `var` is a file: named, nothing half-done.
pub fn refuses_an_unwritable_root(backend: Backend) {
    if !available(backend, "refuses_an_unwritable_root") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let manager = manager(backend, repo.path());

    let (dir, root) = sandbox();
    std::fs::write(dir.path().join("var"), "a file where a directory belongs").unwrap();
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    let NativeError::RootNotWritable { path, .. } = &error else {
        panic!("expected an unwritable root: {error}");
    };
    assert!(path.starts_with(dir.path().join("var")), "{error}");

    let (dir, root) = sandbox();
    if !chattr("+i", dir.path()) {
        eprintln!(
            "SKIPPED: refuses_an_unwritable_root ({backend}) chattr +i: needs chattr and root"
        );
        return;
    }
    let _guard = Immutable(dir.path());
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    assert!(
        matches!(error, NativeError::RootNotWritable { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("root {} is not writable", root.as_str())),
        "{error}"
    );
    // A query never writes, so it still answers.
    assert!(installed(&*manager, &root, &[A]).is_empty());
}

/// While another process holds the root's lock, a run waits, then says who.
pub fn waits_for_the_root_lock(backend: Backend) {
    if !available(backend, "waits_for_the_root_lock") {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (_dir, root) = sandbox();
    let mut options = Options::new(vec![Repo::Dir(repo.path().to_owned())]);
    options.lock_timeout = Duration::from_millis(300);
    let manager = backend.manager(options);
    let holder = RootLock::acquire(&root, "a test holding the root", Duration::ZERO).unwrap();
    let error = manager.install(&root, &names(&[A])).unwrap_err();
    let NativeError::Busy { holder: text, .. } = &error else {
        panic!("expected a busy root: {error}");
    };
    assert!(text.contains("a test holding the root"), "{text}");
    drop(holder);
    manager.install(&root, &names(&[A])).unwrap();
    assert_eq!(installed(&*manager, &root, &[A]), [A]);
}

/// The tool is killed in the middle of a big install (as if opm died): the
/// root's database still answers, and the next install completes.
pub fn survives_a_run_killed_halfway(backend: Backend) {
    if !available(backend, "survives_a_run_killed_halfway") {
        return;
    }
    const BIG: &str = "opm-test-big";
    let dir = tempfile::tempdir().unwrap();
    let files = write(backend, dir.path(), &[big_package(BIG, 1000)]);
    crate::fixtures::index(backend, dir.path());
    let (_root_dir, root) = sandbox();
    let manager = manager(backend, dir.path());
    manager.prepare(&root).unwrap();
    let file = files[0].display().to_string();
    let command = match backend {
        Backend::Apt => {
            assert!(apt::update_command(&root).run().unwrap().success());
            apt::install_command(&root, &names(&[BIG]))
        }
        Backend::Dpkg => dpkg::install_command(&root, &[file]),
        Backend::Dnf => {
            let repos = [Repo::Dir(dir.path().to_owned())];
            dnf::install_command(&root, &repos, &names(&[BIG])).unwrap()
        }
        Backend::Rpm => {
            let help = std::process::Command::new("rpm")
                .arg("--help")
                .output()
                .unwrap();
            let force_debian = rpm::help_has_force_debian(&String::from_utf8_lossy(&help.stdout));
            rpm::install_command(&root, force_debian, &[file])
        }
    };
    let mut child = {
        use std::os::unix::process::CommandExt;
        command
            .to_command()
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Wait until unpacking is under way, then kill the whole process group
    // (apt and dnf run dpkg and rpm work as children or threads).
    let marker = root.join(&format!("usr/share/{BIG}/d1"));
    let started = Instant::now();
    while !marker.exists()
        && child.try_wait().unwrap().is_none()
        && started.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let killed = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).is_ok();
    let status = child.wait().unwrap();
    eprintln!(
        "{backend}: killed halfway: {killed}, status {status}, marker seen: {}",
        marker.exists()
    );
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the run ended before it was killed"
        );
    }

    manager.query(&root, &names(&[BIG])).unwrap();
    manager.install(&root, &names(&[BIG])).unwrap();
    assert_eq!(installed(&*manager, &root, &[BIG]), [BIG]);
    assert!(root.join(&format!("usr/share/{BIG}/d9/f999")).exists());
}

/// A run that outlasts `run_timeout` is killed with its process group and
/// reported so; the root still answers and the next run completes.
pub fn stops_a_run_at_its_time_limit(backend: Backend) {
    if !available(backend, "stops_a_run_at_its_time_limit") {
        return;
    }
    const BIG: &str = "opm-test-big";
    let repo = repo(backend, &[big_package(BIG, 1000)]);
    let (_dir, root) = sandbox();
    let mut options = Options::new(vec![Repo::Dir(repo.path().to_owned())]);
    options.run_timeout = Some(Duration::from_millis(50));
    let hasty = backend.manager(options);
    hasty.prepare(&root).unwrap();
    let error = hasty.install(&root, &names(&[BIG])).unwrap_err();
    let failure = error.tool_failure().unwrap();
    assert_eq!(
        failure.status, "killed at its time limit of 50ms",
        "{error}"
    );
    assert!(
        error.to_string().contains(BIG) && error.to_string().contains(root.as_str()),
        "{error}"
    );

    let patient = manager(backend, repo.path());
    patient.query(&root, &names(&[BIG])).unwrap();
    patient.install(&root, &names(&[BIG])).unwrap();
    assert_eq!(installed(&*patient, &root, &[BIG]), [BIG]);
}

/// What verify reads (SPEC §1.9): one question for several names answers
/// each with installed-at-version, partly installed (dpkg only) or
/// missing, in the same version spelling on every backend.
pub fn inventories_installed_partial_and_missing_in_one_read(backend: Backend) {
    if !available(
        backend,
        "inventories_installed_partial_and_missing_in_one_read",
    ) {
        return;
    }
    let specs = vec![
        package(A, "2:1.5-3", &[]),
        package(B, "1.0-1", &[(A, Rel::GreaterOrEqual, "1.0")]),
        package(C, "1.0-1", &[]),
    ];
    let repo = repo(backend, &specs);
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    manager.install(&root, &names(&[A, B])).unwrap();

    let installed_at = |version: &str| Presence::Installed {
        version: version.to_owned(),
    };
    let inventory = manager.inventory(&root, &names(&[A, B, C, A])).unwrap();
    assert_eq!(inventory.len(), 3, "{inventory:?}");
    assert_eq!(inventory.get(A), Some(&installed_at("2:1.5-3")));
    assert_eq!(inventory.get(B), Some(&installed_at("1.0-1")));
    assert_eq!(inventory.get(C), Some(&Presence::Missing));

    if is_deb(backend) {
        // Unpacked but never configured: dpkg knows it, not fully installed.
        let file = repo.path().join(format!("{C}_1.0-1_all.deb"));
        let ran = Invocation::new("dpkg")
            .args(dpkg::root_options(&root))
            .args(["--unpack".to_owned(), file.display().to_string()])
            .run()
            .unwrap();
        assert!(ran.success(), "{}", ran.combined());
        assert_eq!(
            manager.inventory(&root, &names(&[C])).unwrap().get(C),
            Some(&Presence::Partial {
                version: "1.0-1".to_owned(),
                state: "unpacked".to_owned()
            })
        );
    }

    // Removed behind opm's back: missing, the rest as it was.
    manager.remove(&root, &names(&[B])).unwrap();
    let inventory = manager.inventory(&root, &names(&[A, B])).unwrap();
    assert_eq!(inventory.get(A), Some(&installed_at("2:1.5-3")));
    assert_eq!(inventory.get(B), Some(&Presence::Missing));
}

/// A root without a package database is not "everything missing" (it may
/// be an unmounted image), and a database the tool cannot read is a tool
/// failure naming the root: verify must not call packages missing on
/// either. Asking about no package reads nothing.
pub fn inventory_refuses_a_root_without_or_with_a_broken_database(backend: Backend) {
    if !available(
        backend,
        "inventory_refuses_a_root_without_or_with_a_broken_database",
    ) {
        return;
    }
    let repo = repo(backend, &a_and_b());
    let (dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    assert!(manager.inventory(&root, &[]).unwrap().is_empty());
    let error = manager.inventory(&root, &names(&[A])).unwrap_err();
    assert!(
        matches!(error, NativeError::NoDatabase { .. }),
        "expected no database: {error}"
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("root {} has no ", root.as_str())) && text.contains("mounted"),
        "{text}"
    );

    manager.prepare(&root).unwrap();
    let database = if is_deb(backend) {
        dir.path().join("var/lib/dpkg/status")
    } else {
        dir.path().join("var/lib/rpm/rpmdb.sqlite")
    };
    std::fs::write(&database, "garbage without any structure\n").unwrap();
    let error = manager.inventory(&root, &names(&[A])).unwrap_err();
    let failure = error
        .tool_failure()
        .unwrap_or_else(|| panic!("expected a tool failure: {error}"));
    assert_eq!(failure.root, dir.path());
    assert!(error.to_string().contains("failed to query"), "{error}");
}

/// A of `version`, whose README says the version and which owns a file of
/// that version only.
fn a_at(version: &str) -> opm_opkg::pack::PackageSpec {
    let mut spec = package(A, version, &[]);
    spec.files = vec![
        opm_opkg::pack::Entry::dir(format!("/usr/share/{A}")),
        opm_opkg::pack::Entry::file(format!("/usr/share/{A}/README"), 0o644, version.as_bytes()),
        opm_opkg::pack::Entry::file(format!("/usr/share/{A}/only-{version}"), 0o644, b"x"),
    ];
    spec
}

/// Versioned installs (SPEC §1.9), with an epoch the file names leave
/// out: an exact version installs, another one
/// replaces it in place (upgrade, then downgrade), the version in place
/// again changes nothing, a version no repository holds is refused by name
/// and version, and a version that could pass for an option never reaches
/// the tool.
pub fn moves_a_package_to_the_version_asked_for_in_place(backend: Backend) {
    if !available(backend, "moves_a_package_to_the_version_asked_for_in_place") {
        return;
    }
    let repo = repo(backend, &[a_at("1:1.0-1"), a_at("1:2.0-1")]);
    let (_dir, root) = sandbox();
    let manager = manager(backend, repo.path());
    let at = |version: &str| opm_native::Versioned {
        name: A.to_owned(),
        version: version.to_owned(),
    };
    let version_of = || {
        let found = manager.query(&root, &names(&[A])).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].version.clone()
    };
    let readme = || std::fs::read_to_string(root.join(&format!("usr/share/{A}/README"))).unwrap();

    manager.install_versions(&root, &[at("1:1.0-1")]).unwrap();
    assert_eq!(version_of(), "1:1.0-1");
    assert_eq!(readme(), "1:1.0-1");

    manager.install_versions(&root, &[at("1:2.0-1")]).unwrap();
    assert_eq!(version_of(), "1:2.0-1");
    assert_eq!(readme(), "1:2.0-1");
    assert!(root.join(&format!("usr/share/{A}/only-1:2.0-1")).exists());
    assert!(!root.join(&format!("usr/share/{A}/only-1:1.0-1")).exists());
    if is_deb(backend) {
        // dpkg's own log says it was an upgrade, not a removal and a new
        // installation.
        let log = std::fs::read_to_string(root.join("var/log/dpkg.log")).unwrap();
        assert!(
            log.lines()
                .any(|line| line.contains(&format!(" upgrade {A}:all 1:1.0-1 1:2.0-1"))),
            "{log}"
        );
        assert!(!log.contains(" remove "), "{log}");
    }

    // The version in place already: nothing to do, no error.
    manager.install_versions(&root, &[at("1:2.0-1")]).unwrap();
    assert_eq!(version_of(), "1:2.0-1");

    // Back down, when asked (the planner decides whether it may).
    manager.install_versions(&root, &[at("1:1.0-1")]).unwrap();
    assert_eq!(version_of(), "1:1.0-1");
    assert_eq!(readme(), "1:1.0-1");

    let missing = manager
        .install_versions(&root, &[at("1:3.0-1")])
        .unwrap_err();
    let text = missing.to_string();
    if matches!(backend, Backend::Dpkg | Backend::Rpm) {
        assert!(
            matches!(&missing, NativeError::NotInRepo { packages, .. } if packages == &[format!("{A}=1:3.0-1")]),
            "{missing:?}"
        );
    }
    assert!(text.contains(A), "{text}");
    assert_eq!(version_of(), "1:1.0-1", "a refused version changes nothing");

    let bad = manager
        .install_versions(&root, &[at("--force-all")])
        .unwrap_err();
    assert!(
        matches!(bad, NativeError::InvalidVersion(ref version) if version == "--force-all"),
        "{bad:?}"
    );
}
