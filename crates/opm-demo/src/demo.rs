//! `opm demo`: the README's main job. It builds a throwaway cluster in one
//! directory — a SQLite database, a head-node sandbox root, a chrootable
//! busybox image root, a package repository packed from `examples/opkgs` —
//! and walks the install phases from `setup_wizard` to `complete` the way an
//! admin would: by running this very binary's own commands, each printed
//! before it runs, so the live progress is `opm run`'s own reporter. On the
//! way one step fails on purpose and is fixed with `opm retry`. Once the
//! cluster is complete it imports a newer motd and upgrades it (SPEC §1.9);
//! with agents as a rollout, one node at a time, that pauses on a node's
//! planted failure until `opm retry` and `opm rollout resume` (§1.10).
//! It ends with `opm status` and a summary of what ran and how long it took.
//!
//! The steps are data ([`steps`]) so their order is unit-tested; [`run`]
//! carries them out and checks every exit code.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opm_model::Phase;

use crate::{BadInput, Say};

/// The example opkgs the demo installs; `altqueue` is only packed, to show
/// that asking for it next to `jobqueue` is refused.
const INSTALLED: [&str; 3] = ["clusterfs", "jobqueue", "motd"];
/// The opkg the demo removes at the end, uninstall scripts and all.
const REMOVED: &str = "motd";
/// The opkg that conflicts with `jobqueue`.
const CONFLICTING: &str = "altqueue";
/// Every example opkg the demo packs.
const PACKED: [&str; 4] = ["clusterfs", "jobqueue", "motd", CONFLICTING];
/// The opkg whose client package the demo removes behind opm's back, to
/// show `opm verify` finding it and `opm repair` bringing it back.
const DRIFTED: &str = "clusterfs";
/// The opkg the demo upgrades once the cluster is complete, and the newer
/// version it imports for that (the example ships 1:3.1-2).
const UPGRADED: &str = "motd";
/// See [`UPGRADED`].
const NEWER_VERSION: &str = "1:3.2-1";
/// The head node's name in the demo's opm.conf.
const HEAD: &str = "head";
/// The demo image's name.
const IMAGE: &str = "compute";
/// The script that fails once, on purpose, at `build_image`.
const FAILING_OPKG: &str = "jobqueue";
/// The hook of [`FAILING_OPKG`] that fails once.
const FAILING_HOOK: &str = "server-post-install";
/// The hook of [`UPGRADED`] that fails on one node during the rollout.
const ROLLOUT_HOOK: &str = "client-post-install";
/// Where the example scripts log, relative to the root they work on.
const EXAMPLE_LOG: &str = "var/log/opm-example.log";
/// The mark by which the example scripts know they run chrooted in an image.
const IMAGE_MARK: &str = "etc/opm-example-image";

/// Where everything of one demo run lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The demo directory.
    pub dir: PathBuf,
    /// The example opkg sources.
    pub examples: PathBuf,
}

impl Layout {
    /// The source of the newer [`UPGRADED`], made by [`prepare`].
    fn newer_source(&self) -> PathBuf {
        self.dir.join(format!("{UPGRADED}-newer"))
    }

    fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }
    fn head_root(&self) -> PathBuf {
        self.dir.join("head")
    }
    fn image_root(&self) -> PathBuf {
        self.dir.join("images").join(IMAGE)
    }
    fn conf(&self) -> PathBuf {
        self.dir.join("opm.conf")
    }
    fn settings(&self) -> PathBuf {
        self.dir.join("opm.toml")
    }
    fn database(&self) -> PathBuf {
        self.dir.join("opm.db")
    }
    fn failure_marker(&self) -> PathBuf {
        self.head_root()
            .join("etc/opm-example")
            .join(format!("fail-{FAILING_OPKG}-{FAILING_HOOK}"))
    }
    /// The environment every child `opm` gets: it names the demo's own
    /// database, conf, root, repository, backend and settings file, so
    /// nothing of the machine's own opm setup is read or touched.
    fn environment(&self) -> Vec<(&'static str, OsString)> {
        let mut database = OsString::from("sqlite:");
        database.push(self.database());
        vec![
            ("OPM_DB", database),
            ("OPM_CONF", self.conf().into_os_string()),
            ("OPM_ROOT", self.head_root().into_os_string()),
            ("OPM_REPO", self.repo().into_os_string()),
            ("OPM_BACKEND", OsString::from("dpkg")),
            ("OPM_SETTINGS", self.settings().into_os_string()),
        ]
    }
}

/// What a step's exit code must be for the demo to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exit 0.
    Success,
    /// Exit 0, or 3 while later phases still hold work back.
    DoneForNow,
    /// Exit 1: the planted failure shows up as a row in error.
    Failure,
    /// Exit 2: the request is refused and nothing changes.
    Refused,
    /// A report: 0, 1 while rows are in error, 3 while work is held back.
    Report,
}

impl Expect {
    fn accepts(self, code: i32) -> bool {
        match self {
            Expect::Success => code == 0,
            Expect::DoneForNow => code == 0 || code == 3,
            Expect::Failure => code == 1,
            Expect::Refused => code == 2,
            Expect::Report => matches!(code, 0 | 1 | 3),
        }
    }
}

/// One step of the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A heading between groups of steps.
    Say(String),
    /// A remark on the next step.
    Note(String),
    /// Run `opm` with these arguments.
    Opm {
        /// The arguments after `opm`.
        args: Vec<OsString>,
        /// The exit code that lets the demo go on.
        expect: Expect,
        /// What this `opm run` is for, as the summary lists its time.
        timed: Option<String>,
    },
    /// Plant the failure: create the marker file the failing script checks.
    PlantFailure,
    /// Fix the failure: remove the marker file.
    FixFailure,
    /// Plant a failure of [`UPGRADED`]'s [`ROLLOUT_HOOK`] on a compute
    /// node, for the rollout to pause on.
    PlantNodeFailure {
        /// The node.
        node: String,
    },
    /// Fix that failure.
    FixNodeFailure {
        /// The node.
        node: String,
    },
    /// Start `opm server` and one `opm agent` per compute node.
    StartDaemons,
    /// Remove `package` from `on`'s root with dpkg, behind opm's back.
    RemoveBehindBack {
        /// Whose root.
        on: DriftOn,
        /// The native package.
        package: String,
    },
    /// Run `opm verify` on compute node `node`, as its own CLI (a node's
    /// rows are verified by the node, which reports to the server).
    VerifyOnNode {
        /// The node.
        node: String,
        /// The exit code that lets the demo go on.
        expect: Expect,
    },
    /// Wait until the server and the agents have done what they can now.
    Settle {
        /// What for, as the summary lists its time.
        label: String,
        /// The code `opm run` would have given that lets the demo go on.
        expect: Expect,
    },
}

/// Where the demo's drift happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftOn {
    /// A compute node's sandbox root (with agents).
    Node(String),
    /// The image's root (no agents).
    Image,
    /// The head node's root (no agents, no image).
    Head,
}

fn opm(args: &[&str], expect: Expect) -> Step {
    Step::Opm {
        args: args.iter().map(OsString::from).collect(),
        expect,
        timed: None,
    }
}

fn opm_run(label: String, expect: Expect) -> Step {
    Step::Opm {
        args: vec![OsString::from("run")],
        expect,
        timed: Some(label),
    }
}

/// The compute nodes of a demo with `agents` agents (two without agents,
/// whose rows then wait for agents that never come).
pub fn nodes(agents: u8) -> Vec<String> {
    let count = if agents == 0 { 2 } else { agents };
    (1..=count).map(|i| format!("node{i}")).collect()
}

/// The upgrade as a rollout (SPEC §1.10), with agents: one node at a time
/// (`--max-parallel 1`), no failure tolerated (`--max-failures 0`). The
/// second node's `client-post-install` fails on purpose, so the rollout
/// pauses with the third node not started; once fixed, `opm retry` and
/// `opm rollout resume` let it go on.
fn rollout_steps(failing: &str, walk: impl Fn(String, Expect) -> Step) -> Vec<Step> {
    let retry_reason = "demo: fixed";
    vec![
        Step::Note(format!(
            "the nodes upgrade one at a time, and the first node that fails pauses the \
             rollout: {failing}'s {UPGRADED} {ROLLOUT_HOOK} fails on purpose"
        )),
        Step::PlantNodeFailure {
            node: failing.to_owned(),
        },
        opm(
            &[
                "upgrade",
                UPGRADED,
                "--max-parallel",
                "1",
                "--max-failures",
                "0",
            ],
            Expect::Success,
        ),
        walk(
            format!("to upgrade {UPGRADED}, one node at a time"),
            Expect::Failure,
        ),
        opm(&["rollout", "status"], Expect::Success),
        opm(&["status"], Expect::Report),
        Step::FixNodeFailure {
            node: failing.to_owned(),
        },
        opm(
            &[
                "retry",
                UPGRADED,
                "--node",
                failing,
                "--reason",
                retry_reason,
            ],
            Expect::Success,
        ),
        opm(&["rollout", "resume"], Expect::Success),
        walk(
            format!("to upgrade {UPGRADED} after the resume"),
            Expect::DoneForNow,
        ),
        opm(&["rollout", "status"], Expect::Success),
    ]
}

/// The demo's steps, in order; without an image when `image` is false,
/// with a server and `agents` agents instead of `opm run` when there are.
pub fn steps(layout: &Layout, image: bool, agents: u8) -> Vec<Step> {
    let walk = |label: String, expect: Expect| {
        if agents == 0 {
            opm_run(label, expect)
        } else {
            Step::Settle { label, expect }
        }
    };
    let compute = nodes(agents);
    let mut steps = vec![Step::Say("build the packages and the cluster".to_owned())];
    let mut pack: Vec<OsString> = ["pack", "--format", "deb", "--dist", "debian", "-o"]
        .iter()
        .map(OsString::from)
        .collect();
    pack.push(layout.repo().into_os_string());
    let mut import = vec![OsString::from("opkg"), OsString::from("import")];
    for name in PACKED {
        pack.push(layout.examples.join(name).into_os_string());
        import.push(layout.examples.join(name).into_os_string());
    }
    steps.push(Step::Opm {
        args: pack,
        expect: Expect::Success,
        timed: None,
    });
    steps.push(opm(&["init"], Expect::Success));
    steps.push(Step::Opm {
        args: import,
        expect: Expect::Success,
        timed: None,
    });
    if image {
        let mut add = vec![
            OsString::from("image"),
            OsString::from("add"),
            OsString::from(IMAGE),
            OsString::from("--path"),
        ];
        add.push(layout.image_root().into_os_string());
        steps.push(Step::Opm {
            args: add,
            expect: Expect::Success,
            timed: None,
        });
    }
    for (index, node) in compute.iter().enumerate() {
        if image && index == 0 {
            steps.push(opm(
                &["node", "add", node, "--image", IMAGE],
                Expect::Success,
            ));
        } else {
            steps.push(opm(&["node", "add", node], Expect::Success));
        }
    }
    steps.push(opm(
        &["config", "set", "clusterfs", "export_dir=/srv/home"],
        Expect::Success,
    ));
    let mut install = vec!["install"];
    install.extend(INSTALLED);
    steps.push(opm(&install, Expect::Success));
    steps.push(Step::Note(format!(
        "{CONFLICTING} conflicts with {FAILING_OPKG}: refused, nothing changes"
    )));
    steps.push(opm(&["install", CONFLICTING], Expect::Refused));
    if agents > 0 {
        steps.push(Step::Say(format!(
            "start the head node's server and an agent on each of {}",
            compute.join(", ")
        )));
        steps.push(Step::StartDaemons);
    }
    for phase in Phase::ALL {
        steps.push(Step::Say(format!("phase {}", phase.name())));
        if phase == Phase::BuildImage {
            steps.push(Step::PlantFailure);
        }
        steps.push(opm(&["cluster", "phase", phase.name()], Expect::Success));
        if phase == Phase::BuildImage {
            steps.push(walk(format!("at {}", phase.name()), Expect::Failure));
            steps.push(opm(&["status"], Expect::Report));
            steps.push(Step::FixFailure);
            steps.push(opm(
                &[
                    "retry",
                    FAILING_OPKG,
                    "--node",
                    HEAD,
                    "--reason",
                    "demo: fixed",
                ],
                Expect::Success,
            ));
        }
        steps.push(walk(format!("at {}", phase.name()), Expect::DoneForNow));
    }
    steps.push(Step::Say("the result".to_owned()));
    steps.push(opm(&["status"], Expect::Report));
    steps.push(Step::Say(format!("upgrade {UPGRADED} to {NEWER_VERSION}")));
    steps.push(Step::Note(format!(
        "a newer {UPGRADED} is packed and imported: its rows are outdated until upgraded; \
         the upgrade installs it in place and runs the later stages' scripts again"
    )));
    let newer = layout.newer_source().into_os_string();
    let mut pack_newer: Vec<OsString> = ["pack", "--format", "deb", "--dist", "debian", "-o"]
        .iter()
        .map(OsString::from)
        .collect();
    pack_newer.push(layout.repo().into_os_string());
    pack_newer.push(newer.clone());
    steps.push(Step::Opm {
        args: pack_newer,
        expect: Expect::Success,
        timed: None,
    });
    steps.push(Step::Opm {
        args: vec![OsString::from("opkg"), OsString::from("import"), newer],
        expect: Expect::Success,
        timed: None,
    });
    match compute.get(1).filter(|_| agents > 0) {
        Some(failing) => steps.extend(rollout_steps(failing, walk)),
        None => {
            steps.push(opm(&["upgrade", UPGRADED], Expect::Success));
            steps.push(walk(format!("to upgrade {UPGRADED}"), Expect::DoneForNow));
        }
    }
    steps.push(opm(&["status"], Expect::Report));
    steps.push(Step::Say(format!("take {REMOVED} down again")));
    steps.push(opm(&["remove", REMOVED], Expect::Success));
    steps.push(walk(format!("to remove {REMOVED}"), Expect::Success));
    steps.push(opm(&["status"], Expect::Report));
    steps.extend(drift_steps(&compute, image, agents, walk));
    steps
}

/// The drift part (SPEC §1.9): a client package removed with dpkg behind
/// opm's back on a node (or, without agents, in the image, else the head
/// node's server part), `opm verify` finding it, `opm repair` requesting
/// the stages that bring it back, and the cluster doing them.
fn drift_steps(
    compute: &[String],
    image: bool,
    agents: u8,
    walk: impl Fn(String, Expect) -> Step,
) -> Vec<Step> {
    let client = format!("opkg-{DRIFTED}-client");
    let (on, package, verify, repair): (DriftOn, String, Step, Vec<&str>) =
        match (compute.first(), agents, image) {
            (Some(node), 1.., _) => (
                DriftOn::Node(node.clone()),
                client,
                Step::VerifyOnNode {
                    node: node.clone(),
                    expect: Expect::Failure,
                },
                vec!["repair", "--node", node],
            ),
            (_, _, true) => (
                DriftOn::Image,
                client,
                opm(&["verify", "--image", IMAGE], Expect::Failure),
                vec!["repair", "--image", IMAGE],
            ),
            _ => (
                DriftOn::Head,
                format!("opkg-{DRIFTED}-server"),
                opm(&["verify"], Expect::Failure),
                vec!["repair", "--node", HEAD],
            ),
        };
    vec![
        Step::Say(format!("drift: {package} removed behind opm's back")),
        Step::RemoveBehindBack {
            on,
            package: package.clone(),
        },
        Step::Note(format!(
            "opm verify reads the package database and finds {package} missing (exit 1)"
        )),
        verify,
        opm(&["status"], Expect::Report),
        Step::Note("opm repair requests install-bin-pkgs again".to_owned()),
        opm(&repair, Expect::Success),
        walk(format!("to repair {DRIFTED}"), Expect::Success),
        opm(&["status"], Expect::Report),
    ]
}

/// One `opm run` and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// What it was for: the phase it ran in, or the removal.
    pub label: String,
    /// Its exit code.
    pub code: i32,
    /// Its wall time.
    pub took: Duration,
}

/// Counts of the example scripts' runs in one example log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptRuns {
    /// Runs that succeeded.
    pub ok: usize,
    /// Runs that failed on purpose.
    pub failed: usize,
    /// Runs that saw the image mark, i.e. ran chrooted in an image.
    pub chrooted: usize,
}

/// Counts the runs recorded in an example log (one tab-separated line of
/// `key=value` fields per run).
pub fn count_runs(log: &str) -> ScriptRuns {
    let mut runs = ScriptRuns::default();
    for line in log.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.contains(&"result=ok") {
            runs.ok += 1;
        } else if fields.contains(&"result=failed") {
            runs.failed += 1;
        }
        if fields.contains(&"chroot=yes") {
            runs.chrooted += 1;
        }
    }
    runs
}

/// What `opm demo` is asked for.
#[derive(Debug, Clone)]
pub struct DemoArgs {
    /// The directory to build the demo cluster in (new or empty), else a
    /// new one under the system's temporary directory.
    pub dir: Option<PathBuf>,
    /// The example opkg sources, else `examples/opkgs` of the current
    /// directory or of the source tree.
    pub examples: Option<PathBuf>,
    /// Compute nodes with their own agents; 0 walks the head node alone.
    pub agents: u8,
}

/// Runs the demo with `opm`, the binary whose commands it shows, printing
/// each line with `say`.
pub fn run(args: DemoArgs, opm: &Path, say: Say<'_>) -> anyhow::Result<()> {
    let started = Instant::now();
    // Found before anything is created: the demo cannot work as another
    // user, and bad input.
    require_root()?;
    let examples = examples_dir(args.examples)?;
    let layout = Layout {
        dir: demo_dir(args.dir)?,
        examples,
    };
    prepare(&layout)?;
    let image = match prepare_image(&layout.image_root()) {
        Ok(()) => true,
        Err(why) => {
            say(&format!(
                "SKIPPED: image {IMAGE}: {why}; the demo goes on with the head node only"
            ));
            false
        }
    };
    say(&format!("demo directory: {}", layout.dir.display()));
    let mut timings = Vec::new();
    let mut daemons = None;
    let mut progress = crate::daemons::Progress::default();
    for step in steps(&layout, image, args.agents) {
        match step {
            Step::Say(text) => say(&format!("\n== {text}")),
            Step::Note(text) => say(&format!("# {text}")),
            Step::PlantFailure => {
                let marker = layout.failure_marker();
                write_file(&marker, "")?;
                say(&format!(
                    "# plant a failure: {FAILING_OPKG} {FAILING_HOOK} fails while {} exists",
                    shown(&layout, &marker)
                ));
            }
            Step::FixFailure => {
                let marker = layout.failure_marker();
                std::fs::remove_file(&marker)
                    .with_context(|| format!("cannot remove {}", marker.display()))?;
                say(&format!("# fix it: remove {}", shown(&layout, &marker)));
            }
            Step::PlantNodeFailure { node } => {
                let marker = node_failure_marker(&layout, &node);
                write_file(&marker, "")?;
                say(&format!(
                    "# plant a failure: {UPGRADED} {ROLLOUT_HOOK} fails on {node} while {} exists",
                    shown(&layout, &marker)
                ));
            }
            Step::FixNodeFailure { node } => {
                let marker = node_failure_marker(&layout, &node);
                std::fs::remove_file(&marker)
                    .with_context(|| format!("cannot remove {}", marker.display()))?;
                say(&format!("# fix it: remove {}", shown(&layout, &marker)));
            }
            Step::StartDaemons => {
                daemons = Some(crate::daemons::start(
                    opm,
                    &layout.dir,
                    &layout.environment(),
                    &nodes(args.agents),
                    say,
                )?);
            }
            Step::RemoveBehindBack { on, package } => {
                let root = match &on {
                    DriftOn::Node(node) => crate::daemons::node_dir(&layout.dir, node).join("root"),
                    DriftOn::Image => layout.image_root(),
                    DriftOn::Head => layout.head_root(),
                };
                say(&format!(
                    "$ dpkg --root={} -r {package}   # behind opm's back",
                    shown(&layout, &root)
                ));
                remove_behind_back(&root, &package)?;
            }
            Step::VerifyOnNode { node, expect } => {
                let url = daemons
                    .as_ref()
                    .map(|daemons: &crate::daemons::Daemons| daemons.url.clone())
                    .context("the node's verify needs the server the demo started")?;
                let dir = crate::daemons::node_dir(&layout.dir, &node);
                say(&format!(
                    "$ opm verify   # on {node}: OPM_CONF=$DEMO/nodes/{node}/opm.conf OPM_ROOT=$DEMO/nodes/{node}/root"
                ));
                let status = Process::new(opm)
                    .arg("verify")
                    .envs(layout.environment())
                    .env("OPM_CONF", dir.join("opm.conf"))
                    .env("OPM_ROOT", dir.join("root"))
                    .env("OPM_SERVER", &url)
                    .env("OPM_TOKEN_FILE", dir.join("token"))
                    .env_remove("OPM_DB")
                    .current_dir(&dir)
                    .status()
                    .with_context(|| format!("cannot start {}", opm.display()))?;
                let code = status.code().unwrap_or(-1);
                if !expect.accepts(code) {
                    bail!(
                        "`opm verify` on {node} exited with {code}, expected {expect:?}; see {}",
                        dir.join("agent.log").display()
                    );
                }
            }
            Step::Settle { label, expect } => {
                say(&format!("# the server and the agents work {label}:"));
                let begun = Instant::now();
                let code = progress.settle(opm, &layout.environment(), say)?;
                if !expect.accepts(code) {
                    bail!(
                        "the cluster settled {label} as `opm run` exit {code} would say, expected {expect:?}; \
                         its files are in {} (server.log, nodes/*/agent.log)",
                        layout.dir.display()
                    );
                }
                timings.push(Timing {
                    label: format!("settled {label}"),
                    code,
                    took: begun.elapsed(),
                });
            }
            Step::Opm {
                args,
                expect,
                timed,
            } => {
                let shown_args: Vec<String> = args
                    .iter()
                    .map(|arg| shown(&layout, Path::new(arg)))
                    .collect();
                say(&format!("$ opm {}", shown_args.join(" ")));
                let begun = Instant::now();
                let status = Process::new(opm)
                    .args(&args)
                    .envs(layout.environment())
                    .current_dir(&layout.dir)
                    .status()
                    .with_context(|| format!("cannot start {}", opm.display()))?;
                let took = begun.elapsed();
                // Killed by a signal: no code, never what a step expects.
                let code = status.code().unwrap_or(-1);
                if !expect.accepts(code) {
                    bail!(
                        "demo step `opm {}` exited with {code}, expected {expect:?}; \
                         its files are in {} (OPM_DB=sqlite:{} opm status)",
                        shown_args.join(" "),
                        layout.dir.display(),
                        layout.database().display()
                    );
                }
                if let Some(label) = timed {
                    timings.push(Timing {
                        label: format!("opm run {label}"),
                        code,
                        took,
                    });
                }
            }
        }
    }
    drop(daemons);
    say(&summary(
        &layout,
        &opm_as_typed(opm),
        image,
        args.agents,
        &timings,
        started.elapsed(),
    ));
    Ok(())
}

/// The marker that makes [`UPGRADED`]'s [`ROLLOUT_HOOK`] fail on `node`.
fn node_failure_marker(layout: &Layout, node: &str) -> PathBuf {
    crate::daemons::node_dir(&layout.dir, node)
        .join("root/etc/opm-example")
        .join(format!("fail-{UPGRADED}-{ROLLOUT_HOOK}"))
}

/// `dpkg -r PACKAGE` in `root`, as an admin would behind opm's back
/// (`--force-depends`: whatever else needs it is opm's business to see).
fn remove_behind_back(root: &Path, package: &str) -> anyhow::Result<()> {
    let output = Process::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "-r",
            package,
        ])
        .output()
        .context("cannot run dpkg")?;
    if !output.status.success() {
        bail!(
            "dpkg -r {package} in {} failed: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The closing summary: each `opm run` with its time, the script runs the
/// example logs recorded, the total, and how to look around afterwards.
fn summary(
    layout: &Layout,
    opm: &str,
    image: bool,
    agents: u8,
    timings: &[Timing],
    total: Duration,
) -> String {
    let mut text = String::from("\n== summary\n");
    for timing in timings {
        let _ = writeln!(
            text,
            "{:<28} exit {}  {:>7.3} s",
            timing.label,
            timing.code,
            timing.took.as_secs_f64()
        );
    }
    if !timings.is_empty() {
        let _ = writeln!(text, "{EXIT_LEGEND}");
    }
    let run_total: Duration = timings.iter().map(|timing| timing.took).sum();
    let _ = writeln!(
        text,
        "{} {} took {:.3} s together",
        timings.len(),
        if agents == 0 { "opm runs" } else { "settlings" },
        run_total.as_secs_f64()
    );
    let head = read_runs(&layout.head_root());
    let _ = writeln!(
        text,
        "head node: {} example script runs passed, {} failed on purpose",
        head.ok, head.failed
    );
    if image {
        let image_runs = read_runs(&layout.image_root());
        let _ = writeln!(
            text,
            "image {IMAGE}: {} example script runs passed, {} of them chrooted",
            image_runs.ok, image_runs.chrooted
        );
    } else {
        let _ = writeln!(text, "image {IMAGE}: skipped");
    }
    if agents == 0 {
        let _ = writeln!(
            text,
            "node1, node2: rows requested finished, for their agents (`opm agent`) to carry out"
        );
    }
    for node in nodes(agents).iter().filter(|_| agents > 0) {
        let root = crate::daemons::node_dir(&layout.dir, node).join("root");
        let _ = writeln!(
            text,
            "{node}: {} client parts installed by its agent, {} example script runs",
            installed_client_parts(&root),
            read_runs(&root).ok
        );
    }
    let _ = writeln!(text, "the demo took {:.3} s", total.as_secs_f64());
    let _ = write!(
        text,
        "look around: OPM_SETTINGS={} {} status; the scripts' own records are in {}",
        layout.settings().display(),
        opm,
        layout.head_root().join(EXAMPLE_LOG).display()
    );
    text
}

/// What the exit codes in the summary mean (`opm run`'s, SPEC §4).
const EXIT_LEGEND: &str = "(exit 0: every requested stage reached; 1: rows in error; \
                           3: work held back until a later phase)";

/// The demo cluster's settings file: its database, opm.conf, head root,
/// repository and backend, so `OPM_SETTINGS=FILE opm ...` works in it
/// afterwards (and the machine's /etc/opm/opm.toml stays out of it).
fn settings_text(layout: &Layout) -> String {
    // A JSON string is a TOML basic string too.
    let quoted = |path: &Path| {
        serde_json::to_string(&path.to_string_lossy()).unwrap_or_else(|_| "\"\"".to_owned())
    };
    let mut database = String::from("sqlite:");
    database.push_str(&layout.database().to_string_lossy());
    format!(
        "# The opm demo cluster in {dir}: OPM_SETTINGS={file} opm status\n\
         db = {db}\nconf = {conf}\nroot = {root}\nrepo = [{repo}]\nbackend = \"dpkg\"\n",
        dir = layout.dir.display(),
        file = layout.settings().display(),
        db = serde_json::to_string(&database).unwrap_or_else(|_| "\"\"".to_owned()),
        conf = quoted(&layout.conf()),
        root = quoted(&layout.head_root()),
        repo = quoted(&layout.repo()),
    )
}

/// How to call `opm` in a hint: `opm` when that is this binary on PATH,
/// else its whole path (`cargo run` leaves it in target/).
fn opm_as_typed(opm: &Path) -> String {
    let this = std::fs::canonicalize(opm).ok();
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("opm"))
            .find(|candidate| candidate.is_file())
    });
    match (
        this,
        on_path.and_then(|found| std::fs::canonicalize(found).ok()),
    ) {
        (Some(this), Some(found)) if this == found => "opm".to_owned(),
        _ => opm.display().to_string(),
    }
}

/// How many `opkg-*-client` packages dpkg has installed in `root`.
fn installed_client_parts(root: &Path) -> usize {
    std::fs::read_to_string(root.join("var/lib/dpkg/status"))
        .unwrap_or_default()
        .split("\n\n")
        .filter(|stanza| {
            stanza.contains("Status: install ok installed")
                && stanza.lines().any(|line| {
                    line.strip_prefix("Package: opkg-")
                        .is_some_and(|name| name.ends_with("-client"))
                })
        })
        .count()
}

fn read_runs(root: &Path) -> ScriptRuns {
    // No log just means no example script ran in that root.
    std::fs::read_to_string(root.join(EXAMPLE_LOG))
        .map(|log| count_runs(&log))
        .unwrap_or_default()
}

/// An argument as the admin would type it: a path inside the demo
/// directory as `$DEMO/...`, anything with a space quoted.
fn shown(layout: &Layout, path: &Path) -> String {
    let text = match path.strip_prefix(&layout.dir) {
        Ok(rest) => format!("$DEMO/{}", rest.display()),
        Err(_) => path.display().to_string(),
    };
    if text.contains(' ') {
        format!("'{text}'")
    } else {
        text
    }
}

/// The demo directory: `--dir` when given (it must be new or empty), else
/// a fresh one under the system's temporary directory. It is kept, so the
/// admin can look around afterwards.
fn demo_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(dir) => {
            let occupied =
                std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
            if occupied {
                return Err(BadInput(format!(
                    "demo directory {} is not empty; give a new or empty one",
                    dir.display()
                ))
                .into());
            }
            dir
        }
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|since| since.as_secs())
                .unwrap_or_default();
            std::env::temp_dir().join(format!("opm-demo-{stamp}-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create demo directory {}", dir.display()))?;
    std::path::absolute(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

/// dpkg refuses to work for anyone but root, even in a sandbox root of
/// one's own, and chroot into the image needs root too.
fn require_root() -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let uid = std::fs::metadata("/proc/self").map(|meta| meta.uid());
    match uid {
        Ok(0) => Ok(()),
        Ok(uid) => bail!(
            "opm demo needs root (running as uid {uid}): dpkg refuses other users even in \
             a sandbox root, and entering the image needs chroot; nothing was created; run it \
             as root, e.g. in a throwaway container"
        ),
        Err(error) => Err(anyhow::Error::new(error).context("cannot tell which user runs opm")),
    }
}

/// The example opkgs: `--examples`, else `examples/opkgs` of the current
/// directory (a checkout), else of the source tree this binary was built
/// from.
fn examples_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let candidates = match given {
        Some(dir) => vec![dir],
        None => vec![
            PathBuf::from("examples/opkgs"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/opkgs"),
        ],
    };
    for dir in &candidates {
        if PACKED
            .iter()
            .all(|name| dir.join(name).join("config.xml").is_file())
        {
            return std::path::absolute(dir)
                .with_context(|| format!("cannot resolve {}", dir.display()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(BadInput(format!(
        "no example opkgs ({}) in {}; run from an opm checkout or pass --examples DIR",
        PACKED.join(", "),
        tried.join(" or ")
    ))
    .into())
}

/// The demo's opm.conf (a head node), its settings file (see
/// [`settings_text`]) and an empty head root.
fn prepare(layout: &Layout) -> anyhow::Result<()> {
    write_file(&layout.conf(), &format!("server\n{HEAD}\n"))?;
    write_file(&layout.settings(), &settings_text(layout))?;
    prepare_newer(layout)?;
    std::fs::create_dir_all(layout.head_root())
        .with_context(|| format!("cannot create {}", layout.head_root().display()))
}

/// Writes the newer [`UPGRADED`] the demo upgrades to: the example's
/// source with a [`NEWER_VERSION`] changelog entry first (the version opm
/// reads), its scripts as they are.
fn prepare_newer(layout: &Layout) -> anyhow::Result<()> {
    let from = layout.examples.join(UPGRADED);
    let to = layout.newer_source();
    copy_dir(&from, &to)?;
    let config = to.join("config.xml");
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let entry = format!(
        "<changelog>\n    <versionEntry version=\"{NEWER_VERSION}\">\n      \
         <changelogEntry authorName=\"opm demo\" date=\"2026-12-03T12:00:00+00:00\">\n        \
         <item>A newer banner, for the demo's upgrade</item>\n      \
         </changelogEntry>\n    </versionEntry>"
    );
    if !text.contains("<changelog>") {
        bail!(BadInput(format!(
            "{} has no <changelog> to put the newer version in",
            config.display()
        )));
    }
    write_file(&config, &text.replacen("<changelog>", &entry, 1))
}

/// Copies the directory `from` to `to`, files with their permissions.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let entries =
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Makes `root` a chrootable image: Debian's static busybox as `/bin/sh`
/// with its applets, and the mark the example scripts look for. Proves it by
/// entering it; the error says why the image must be skipped.
fn prepare_image(root: &Path) -> Result<(), String> {
    const BUSYBOX: &str = "/bin/busybox";
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    std::fs::copy(BUSYBOX, bin.join("busybox")).map_err(|e| {
        format!("no {BUSYBOX} ({e}); apt-get install busybox-static to include an image")
    })?;
    let applets = Process::new(BUSYBOX)
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run {BUSYBOX} --list: {e}"))?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        // `busybox` itself is in the list; a link would replace the binary.
        if applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", bin.join(applet))
                .map_err(|e| format!("cannot link {applet} in {}: {e}", bin.display()))?;
        }
    }
    let mark = root.join(IMAGE_MARK);
    write_file(&mark, "this directory is an opm demo image root\n")
        .map_err(|e| format!("{e:#}"))?;
    let entered = Process::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", "test -e /etc/opm-example-image"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .map_err(|e| format!("cannot run chroot: {e}"))?;
    if !entered.status.success() {
        return Err(format!(
            "cannot enter the busybox image with chroot (needs root and a static busybox): {}",
            String::from_utf8_lossy(&entered.stderr).trim()
        ));
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            dir: PathBuf::from("/d"),
            examples: PathBuf::from("/src/examples/opkgs"),
        }
    }

    fn opm_args(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Opm { args, .. } => Some(
                    args.iter()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_phase_is_set_in_order_and_followed_by_a_run() {
        let steps = steps(&layout(), true, 0);
        let args = opm_args(&steps);
        let phases: Vec<&String> = args
            .iter()
            .filter(|a| a.starts_with("cluster phase"))
            .collect();
        let expected: Vec<String> = Phase::ALL
            .iter()
            .map(|p| format!("cluster phase {}", p.name()))
            .collect();
        assert_eq!(phases, expected.iter().collect::<Vec<_>>());
        for phase in Phase::ALL {
            let at = args
                .iter()
                .position(|a| *a == format!("cluster phase {}", phase.name()))
                .unwrap();
            assert_eq!(args[at + 1], "run", "phase {}", phase.name());
        }
        let after_complete = args
            .iter()
            .position(|a| a == "cluster phase complete")
            .unwrap();
        let newer = layout().newer_source().display().to_string();
        let repo = layout().repo().display().to_string();
        assert_eq!(
            args[after_complete + 1..],
            [
                "run".to_owned(),
                "status".to_owned(),
                format!("pack --format deb --dist debian -o {repo} {newer}"),
                format!("opkg import {newer}"),
                "upgrade motd".to_owned(),
                "run".to_owned(),
                "status".to_owned(),
                "remove motd".to_owned(),
                "run".to_owned(),
                "status".to_owned(),
                "verify --image compute".to_owned(),
                "status".to_owned(),
                "repair --image compute".to_owned(),
                "run".to_owned(),
                "status".to_owned()
            ]
        );
    }

    #[test]
    fn drift_is_shown_last_on_a_node_with_agents_else_in_the_image_or_the_head_node() {
        let removal = |steps: &[Step]| {
            steps.iter().find_map(|step| match step {
                Step::RemoveBehindBack { on, package } => Some((on.clone(), package.clone())),
                _ => None,
            })
        };
        let with_agents = steps(&layout(), true, 3);
        assert_eq!(
            removal(&with_agents),
            Some((
                DriftOn::Node("node1".to_owned()),
                "opkg-clusterfs-client".to_owned()
            ))
        );
        let verify = with_agents
            .iter()
            .position(|s| matches!(s, Step::VerifyOnNode { .. }))
            .unwrap();
        let remove = with_agents
            .iter()
            .position(|s| matches!(s, Step::RemoveBehindBack { .. }))
            .unwrap();
        assert!(remove < verify);
        let args = opm_args(&with_agents);
        assert_eq!(args[args.len() - 2..], ["repair --node node1", "status"]);
        assert!(matches!(with_agents.last(), Some(Step::Opm { .. })));
        assert!(matches!(
            with_agents[with_agents.len() - 2],
            Step::Settle { .. }
        ));
        assert_eq!(
            removal(&steps(&layout(), false, 0)),
            Some((DriftOn::Head, "opkg-clusterfs-server".to_owned()))
        );
        assert_eq!(
            opm_args(&steps(&layout(), false, 0))
                .iter()
                .filter(|a| a.starts_with("repair"))
                .collect::<Vec<_>>(),
            ["repair --node head"]
        );
    }

    #[test]
    fn the_failure_is_planted_before_build_image_and_fixed_before_the_retry() {
        let steps = steps(&layout(), true, 0);
        let plant = steps.iter().position(|s| *s == Step::PlantFailure).unwrap();
        let fix = steps.iter().position(|s| *s == Step::FixFailure).unwrap();
        let phase_at = |name: &str| {
            steps
                .iter()
                .position(|s| match s {
                    Step::Opm { args, .. } => args.join(&OsString::from(" ")) == *name,
                    _ => false,
                })
                .unwrap()
        };
        let build_image = phase_at("cluster phase build_image");
        let retry = phase_at("retry jobqueue --node head --reason demo: fixed");
        assert!(plant < build_image && build_image < fix && fix < retry);
        assert!(matches!(
            steps[build_image + 1],
            Step::Opm {
                expect: Expect::Failure,
                timed: Some(ref label),
                ..
            } if label == "at build_image"
        ));
        assert!(matches!(
            steps[retry + 1],
            Step::Opm {
                expect: Expect::DoneForNow,
                timed: Some(ref label),
                ..
            } if label == "at build_image"
        ));
        assert_eq!(
            steps.iter().filter(|s| **s == Step::PlantFailure).count(),
            1
        );
    }

    #[test]
    fn the_image_is_left_out_when_it_cannot_be_made() {
        let with = opm_args(&steps(&layout(), true, 0));
        let without = opm_args(&steps(&layout(), false, 0));
        assert!(with.contains(&"image add compute --path /d/images/compute".to_owned()));
        assert!(with.contains(&"node add node1 --image compute".to_owned()));
        assert!(
            !without
                .iter()
                .any(|a| a.starts_with("image ") || a.contains("--image"))
        );
        assert!(without.contains(&"node add node1".to_owned()));
    }

    #[test]
    fn the_conflicting_opkg_is_packed_but_refused() {
        let args = opm_args(&steps(&layout(), true, 0));
        assert!(args[0].contains("/src/examples/opkgs/altqueue"));
        assert!(args.contains(&"install clusterfs jobqueue motd".to_owned()));
        let refused = steps(&layout(), true, 0).into_iter().any(|s| {
            s == Step::Opm {
                args: vec!["install".into(), "altqueue".into()],
                expect: Expect::Refused,
                timed: None,
            }
        });
        assert!(refused);
    }

    #[test]
    fn with_agents_the_daemons_start_before_the_phases_and_settle_each_one() {
        let steps = steps(&layout(), true, 3);
        let args = opm_args(&steps);
        for node in ["node1", "node2", "node3"] {
            assert!(
                args.iter()
                    .any(|a| a.starts_with(&format!("node add {node}")))
            );
        }
        assert!(!args.iter().any(|a| a == "run"), "{args:?}");
        let start = steps.iter().position(|s| *s == Step::StartDaemons).unwrap();
        let refused = steps
            .iter()
            .position(|s| {
                matches!(
                    s,
                    Step::Opm {
                        expect: Expect::Refused,
                        ..
                    }
                )
            })
            .unwrap();
        let first_phase = steps
            .iter()
            .position(|s| matches!(s, Step::Say(text) if text.starts_with("phase ")))
            .unwrap();
        assert!(refused < start && start < first_phase);
        let settles: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Settle { label, .. } => Some(label.as_str()),
                _ => None,
            })
            .collect();
        // One per phase, the retry at build_image, the upgrade until it
        // pauses and after the resume, the removal, the repair.
        assert_eq!(settles.len(), Phase::ALL.len() + 5, "{settles:?}");
        assert_eq!(
            settles[settles.len() - 4..],
            [
                "to upgrade motd, one node at a time",
                "to upgrade motd after the resume",
                "to remove motd",
                "to repair clusterfs"
            ]
        );
        // The rollout pauses on node2's planted failure; the fix, the
        // retry and the resume follow in that order.
        let at = |wanted: &Step| steps.iter().position(|s| s == wanted).unwrap();
        let node2 = "node2".to_owned();
        let plant = at(&Step::PlantNodeFailure {
            node: node2.clone(),
        });
        let fix = at(&Step::FixNodeFailure { node: node2 });
        let upgrade = args
            .iter()
            .position(|a| a == "upgrade motd --max-parallel 1 --max-failures 0")
            .unwrap();
        let retry = args
            .iter()
            .position(|a| a == "retry motd --node node2 --reason demo: fixed")
            .unwrap();
        let resume = args.iter().position(|a| a == "rollout resume").unwrap();
        assert!(upgrade < retry && retry < resume, "{args:?}");
        assert!(plant < fix);
        assert_eq!(nodes(0), ["node1", "node2"]);
        assert_eq!(nodes(1), ["node1"]);
    }

    #[test]
    fn exit_codes_are_judged_per_expectation() {
        assert!(Expect::Success.accepts(0) && !Expect::Success.accepts(3));
        assert!(Expect::DoneForNow.accepts(0) && Expect::DoneForNow.accepts(3));
        assert!(!Expect::DoneForNow.accepts(1) && !Expect::DoneForNow.accepts(-1));
        assert!(Expect::Failure.accepts(1) && !Expect::Failure.accepts(0));
        assert!(Expect::Refused.accepts(2) && !Expect::Refused.accepts(1));
        assert!(Expect::Report.accepts(1) && !Expect::Report.accepts(2));
    }

    #[test]
    fn script_runs_are_counted_by_result_and_chroot() {
        let log = "opkg=a\thook=x\tresult=ok\tchroot=no\targs=\t\n\
                   opkg=a\thook=y\tresult=failed\tchroot=no\targs=\t\n\
                   opkg=a\thook=z\tresult=ok\tchroot=yes\targs=result=failed\tOPM_CONFIG_X=1\t\n\
                   \n";
        assert_eq!(
            count_runs(log),
            ScriptRuns {
                ok: 2,
                failed: 1,
                chrooted: 1
            }
        );
    }

    #[test]
    fn paths_in_the_demo_directory_are_shown_short() {
        let layout = layout();
        assert_eq!(shown(&layout, Path::new("/d/repo")), "$DEMO/repo");
        assert_eq!(shown(&layout, Path::new("/src/x")), "/src/x");
        assert_eq!(shown(&layout, Path::new("run")), "run");
        assert_eq!(shown(&layout, Path::new("demo: fixed")), "'demo: fixed'");
    }
}
