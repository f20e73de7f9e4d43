//! The command line, as clap types. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use opm_model::{BadLimit, Limit, Name, NameError, NameKind, Phase, Role, RolloutPolicy, Stage};

use crate::logging::LogFormat;

/// opm, the OSCAR Package Manager: brings every (package, node) and
/// (package, image) row from its current lifecycle stage to the requested one.
///
/// Exit codes: 0 success; 1 the work failed or rows are in error; 2 bad usage
/// or bad input (nothing changed); 3 work remains blocked.
#[derive(Debug, Parser)]
#[command(
    name = "opm",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OPM_BUILD_INFO"), ")"),
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands as `opm --help` lists them: under a heading each, in
/// the order an admin meets them. Every visible subcommand is in exactly
/// one group (a test says so).
pub const GROUPS: [(&str, &[&str]); 5] = [
    (
        "Setup",
        &[
            "init",
            "conf",
            "settings",
            "opkg",
            "pack",
            "repo",
            "node",
            "image",
            "config",
            "admin",
            "completions",
        ],
    ),
    (
        "Day to day",
        &[
            "install", "remove", "request", "upgrade", "rollout", "cluster", "status", "plan",
            "run",
        ],
    ),
    (
        "Troubleshooting",
        &["history", "logs", "retry", "rerun", "verify", "repair"],
    ),
    ("Daemons", &["server", "agent"]),
    ("Developer", &["demo", "bench"]),
];

/// The widest `opm --help` gets.
const HELP_WIDTH: usize = 100;

/// The command line clap parses: [`Cli`], with `opm --help` listing the
/// subcommands under the headings of [`GROUPS`] (clap itself knows one
/// heading only).
pub fn command() -> clap::Command {
    let command = Cli::command();
    let listing = grouped(&command);
    command.help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n\
         {listing}Options:\n{{options}}{{after-help}}"
    ))
}

/// The subcommands under their headings, each with the first line of its
/// about text, wrapped to [`HELP_WIDTH`].
fn grouped(command: &clap::Command) -> String {
    let width = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter())
        .map(|name| name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (heading, names) in GROUPS {
        text.push_str(&format!("{heading}:\n"));
        for name in names {
            let about = command
                .find_subcommand(name)
                .and_then(clap::Command::get_about)
                .map(ToString::to_string)
                .unwrap_or_default();
            let indent = 2 + width + 2;
            let mut line = format!("  {name:<width$}  ");
            for word in about.split_whitespace() {
                if line.len() + word.len() > HELP_WIDTH && line.len() > indent {
                    text.push_str(line.trim_end());
                    text.push('\n');
                    line = " ".repeat(indent);
                }
                line.push_str(word);
                line.push(' ');
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text.push('\n');
    }
    text
}

/// Options every command understands (SPEC §4). Unset values fall back to
/// the environment, then the settings file, then the defaults.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL: `sqlite:PATH` (default) or `postgres://...`.
    #[arg(long, global = true, env = "OPM_DB", value_name = "URL")]
    pub db: Option<String>,

    /// This machine's opm.conf [default: /etc/opm.conf].
    #[arg(long, global = true, env = "OPM_CONF", value_name = "PATH")]
    pub conf: Option<PathBuf>,

    /// The filesystem this machine's own packages go into [default: /].
    #[arg(long, global = true, env = "OPM_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Where opkg-* packages come from; repeat for several.
    #[arg(
        long,
        global = true,
        env = "OPM_REPO",
        value_name = "DIR|URL",
        value_delimiter = ','
    )]
    pub repo: Vec<String>,

    /// Package manager to use [default: detected].
    #[arg(long, global = true, env = "OPM_BACKEND", value_enum)]
    pub backend: Option<BackendName>,

    /// Settings file [default: /etc/opm/opm.toml when it exists].
    #[arg(long, global = true, env = "OPM_SETTINGS", value_name = "PATH")]
    pub settings: Option<PathBuf>,

    /// A variable every script gets, NAME=VALUE; repeat for several. Adds to
    /// (and by name beats) the settings file's `[script_env]`.
    #[arg(long, global = true, value_name = "NAME=VALUE", value_parser = parse_script_env)]
    pub script_env: Vec<(String, String)>,

    /// A variable of opm's own environment passed on to every script (when
    /// set); repeat for several. Adds to the settings file's `script_env_pass`.
    #[arg(long, global = true, value_name = "NAME")]
    pub script_env_pass: Vec<String>,

    /// Run the tools' commands (status, plan, history, logs, install,
    /// remove, request, retry, rerun, cluster phase, node, image, config)
    /// through this `opm server` instead of on the database: same output,
    /// same exit codes. Needs the admin token (--admin-token-file).
    #[arg(long, global = true, env = "OPM_REMOTE", value_name = "URL")]
    pub remote: Option<String>,

    /// The file holding the admin token (`opm admin token`), for --remote;
    /// with it in the settings file (`admin_token_file`), its `server`
    /// is the one used.
    #[arg(long, global = true, env = "OPM_ADMIN_TOKEN_FILE", value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,

    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output on stderr; repeat for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// How the daemons (server, agent, run) write their log lines on
    /// stderr; OPM_LOG or RUST_LOG (tracing's filter syntax, e.g.
    /// `opm_api=debug`) choose which.
    #[arg(
        long,
        global = true,
        env = "OPM_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
}

/// `NAME=VALUE` of `--script-env`, split at the first `=` (the name is
/// checked with the settings).
fn parse_script_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "'{text}' is not NAME=VALUE; write e.g. --script-env OSCAR_HOME=/opt/oscar"
        )),
    }
}

/// A package-manager backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    /// apt-get with dependency resolution (Debian-like systems).
    Apt,
    /// plain dpkg from a repository directory, no dependency resolution.
    Dpkg,
    /// dnf with dependency resolution (RPM systems).
    Dnf,
    /// plain rpm, no dependency resolution.
    Rpm,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check /etc/opm.conf files.
    #[command(subcommand)]
    Conf(ConfCommand),
    /// Validate opkg sources and show what opm makes of them.
    #[command(subcommand)]
    Opkg(OpkgCommand),
    /// Show the settings in force, after flags, environment, settings file
    /// and defaults are layered.
    Settings,
    /// Build the native packages of opkg sources: opkg-<p>, opkg-<p>-server
    /// and opkg-<p>-client, as .deb or .rpm, without dpkg-deb or rpmbuild.
    Pack(PackArgs),
    /// Package repositories made from built packages.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Create or migrate the database and register the head node named by
    /// opm.conf (which must say `server`); with --write-conf, write that
    /// opm.conf first.
    Init(InitArgs),
    /// Compute nodes: add, enroll, list, remove.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Node images: add, list, remove.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Set the stage a row should reach ("the other tool" of OPM).
    #[command(after_help = "\
Examples:
  opm request slurm --stage finished --node n3
  opm request slurm --stage should_not_be_installed --group gpu
  opm request c3 --stage 8 --server          (stages by ODA id, 1-8)
  opm request c3 --stage finished --image compute")]
    Request(RequestArgs),
    /// Request opkgs `finished` on the head node and its images; compute
    /// nodes of the group follow at run-script-post-clients.
    #[command(after_help = "\
Examples:
  opm install slurm c3                       (head node and images; the
                                              oscar_clients nodes follow)
  opm install torque --group gpu             (nodes of group gpu instead)
  opm install slurm && opm run               (on the head node, without
                                              opm server)")]
    Install(InstallArgs),
    /// Request opkgs `should_not_be_installed` everywhere they are.
    Remove(RemoveArgs),
    /// The cluster's install phase.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Every row: target, kind, package, requested, current, version
    /// (outdated and upgrading rows marked), status, message.
    Status(StatusArgs),
    /// Stage attempts and operator events, newest last; with --audit, who
    /// asked for which operator action and when.
    #[command(after_help = "\
The audit trail (--audit) records install, remove, request, cluster phase,
node add/remove, image add/remove, config set (keys only), retry, rerun and
rollout resume/abort (install, remove and rerun with their rollout limits),
with who asked: the Unix user running opm (SUDO_USER under sudo), or the
API token's name ('admin') through the tools' API and --remote.

Examples:
  opm history --failed --since 1h            (what failed in the last hour)
  opm history slurm --node n3 --since 2026-12-03
  opm history --audit --since 2026-12-03T08:00")]
    History(HistoryArgs),
    /// Captured output of stage attempts.
    Logs(LogsArgs),
    /// Clear a row's error so its failed stage continues at the step that
    /// failed (`--whole-stage`: from its first step).
    #[command(after_help = "\
Examples:
  opm status                                 (find the row in error)
  opm logs slurm --node n3                   (what failed, step by step)
  opm retry slurm --node n3 --reason 'fixed the NFS mount'
  opm retry slurm --image compute --whole-stage")]
    Retry(RetryArgs),
    /// Set a row's current stage back so whole stages run again.
    Rerun(RerunArgs),
    /// Bring finished rows to their opkg's wanted version (the newest
    /// imported, or the pin): install-bin-pkgs runs again at the new
    /// version with the package manager's upgrade (on the head node the
    /// api package first), then the later stages, on the next 'opm run'
    /// and on the nodes' agents. Exit 2 when a row would be downgraded
    /// without --allow-downgrade (nothing is started then).
    Upgrade(UpgradeArgs),
    /// The rollouts that spread work on nodes out (--max-parallel,
    /// --max-failures, --canary of install, upgrade, remove and rerun):
    /// where their nodes stand, resume a paused one, abort one.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Check the rows' native packages against the package databases
    /// (SPEC §1.9): a row at or past install-bin-pkgs whose packages are
    /// missing or at another version becomes `drifted`, with what differs.
    /// Reads only, runs no script. On the head node: its own rows and its
    /// images' (a node's rows are its agent's to verify; `--node N` shows
    /// what it last found); on a node: its own rows, through the server.
    /// Exit 1 when a row is drifted or a database cannot be read.
    Verify(VerifyArgs),
    /// Request the stages that bring drifted rows back (every target's, or
    /// those named), after verifying what this machine can read; the
    /// passes and the agents then run them. On the head node.
    Repair(RepairArgs),
    /// Configuration values of opkgs (configurator.html).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// One reconcile pass for this machine's role, until nothing more can
    /// be done now. Exit 0 when everything requested is reached, 1 when a
    /// row is in error, 3 when work remains blocked.
    Run(RunArgs),
    /// Dry run: per row that needs work, the next action or exactly what it
    /// waits for. Writes nothing.
    Plan(PlanArgs),
    /// The head-node daemon: the reconcile passes for the head node and its
    /// images, and the HTTP API for tools and node agents.
    Server(ServerArgs),
    /// A compute node's daemon: pulls its work from the server, installs
    /// into its root and reports back.
    #[command(after_help = "\
Examples:
  opm node token n3 > n3.token               (on the head node, once;
                                              copy it to n3, chmod 600)
  opm agent --server https://head:7060 --token-file /etc/opm/token \\
            --ca-cert /etc/opm/ca.pem
  opm agent --once                           (one round, e.g. from cron;
                                              server and token_file from
                                              /etc/opm/opm.toml)")]
    Agent(AgentArgs),
    /// The tools' API token.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Benchmark helpers (see bench/run).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Show opm at work: build a throwaway cluster from the example opkgs
    /// (a head-node sandbox root, a busybox image, dpkg) and walk its install
    /// phases from setup_wizard to complete, with one failure fixed by retry.
    Demo(DemoArgs),
    /// Print a shell completion script for opm on stdout, e.g.
    /// `opm completions bash > /etc/bash_completion.d/opm`.
    Completions(CompletionsArgs),
    /// Write opm's man pages (opm.1 and one page per subcommand) into a
    /// directory. Hidden from --help: it is a packaging step, and the pages
    /// it writes are where an admin reads about opm.
    #[command(hide = true)]
    Man(ManArgs),
}

/// `opm init [--write-conf --role ROLE --name NAME]`
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Write this machine's opm.conf (--conf, OPM_CONF, else
    /// /etc/opm.conf) from --role and --name first; an existing file that
    /// says otherwise is left alone and refused. On a client or an image
    /// only the file is written: the database is the head node's.
    #[arg(long, requires_all = ["role", "name"])]
    pub write_conf: bool,
    /// The role to write: server (the head node), client or image.
    #[arg(long, value_name = "ROLE", requires = "write_conf")]
    pub role: Option<Role>,
    /// The name to write: this node's (or image's) name.
    #[arg(long, value_name = "NAME", requires = "write_conf")]
    pub name: Option<String>,
}

/// `opm completions SHELL`
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// A shell `opm completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// Bash (bash-completion).
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// `opm man --out DIR`
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `opm server --listen ADDR`, `opm server tls init`
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    /// The head node's setup instead of the daemon.
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    /// The address to serve the API on; plain HTTP only on loopback
    /// [default: OPM_LISTEN, else `listen` in the settings file, else
    /// 127.0.0.1:7060].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first) [default:
    /// `tls_cert` in the settings file].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert [default: `tls_key` in the
    /// settings file].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds an agent's lease lasts unless its heartbeat renews it.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub agent_lease_ttl: u64,
    /// Seconds a connection may take to send a request head, and stay
    /// open with no request under way, before it is closed (at least 1;
    /// agents leave theirs idle for at most 20 s).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Seconds between verifies of the head node's rows and images
    /// against their package databases, the first at start; 0 never
    /// [default: `verify_interval` in the settings file, else 3600].
    #[arg(long, value_name = "SECS")]
    pub verify_interval: Option<u64>,
    /// How the head node's own passes run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `opm server tls ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ServerCommand {
    /// HTTPS for a site without its own PKI.
    #[command(subcommand)]
    Tls(TlsCommand),
}

/// `opm server tls init`
#[derive(Debug, Clone, Subcommand)]
pub enum TlsCommand {
    /// Make a small CA and a certificate for the head node's names, keys
    /// 0600, never over existing files; prints the settings lines that use
    /// them (add them to the settings file). Enrolment files carry the CA,
    /// so agents trust the server.
    Init {
        /// The names nodes reach the head node by, comma-separated: host
        /// names and IP addresses [default: the head node's name in
        /// opm.conf].
        #[arg(long, value_name = "NAMES")]
        names: Option<String>,
        /// Where to write ca.pem, ca.key, server.pem and server.key
        /// [default: tls/ beside the settings file, /etc/opm/tls].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `opm agent [--once]`, `opm agent enroll FILE`
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    /// The node's setup instead of the daemon.
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// The head node's API (`http://127.0.0.1:7060`, `https://head:7060`)
    /// [default: OPM_SERVER, else `server` in the settings file].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The file holding this node's token (`opm node token NAME` made it)
    /// [default: OPM_TOKEN_FILE, else `token_file` in the settings file].
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// The CA certificates (PEM) that vouch for an https server [default:
    /// OPM_CA_CERT, else `ca_cert` in the settings file, else the system's].
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// One round until nothing more can be done now, then exit (cron).
    #[arg(long)]
    pub once: bool,
    /// Where reports not yet acknowledged by the server are kept [default:
    /// OPM_SPOOL, else `spool` in the settings file, else
    /// /var/lib/opm/agent-spool.json].
    #[arg(long, value_name = "PATH")]
    pub spool: Option<PathBuf>,
    /// Seconds one poll waits for work (at most 30).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub poll_wait: u64,
    /// Seconds each opkg script may run before its process group is
    /// killed; at least 1 (0 is refused: there is no unlimited run).
    #[arg(long, value_name = "SECS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub script_timeout: u64,
    /// Seconds between verifies of this node's rows against its package
    /// database, the first at start; 0 never [default: `verify_interval`
    /// in the settings file, else 3600].
    #[arg(long, value_name = "SECS")]
    pub verify_interval: Option<u64>,
}

impl Default for AgentArgs {
    fn default() -> AgentArgs {
        AgentArgs {
            command: None,
            server: None,
            token_file: None,
            ca_cert: None,
            once: true,
            spool: None,
            poll_wait: 30,
            script_timeout: 1800,
            verify_interval: None,
        }
    }
}

/// `opm agent enroll`
#[derive(Debug, Clone, Subcommand)]
pub enum AgentCommand {
    /// Make this machine the node an enrolment file (from `opm node
    /// enroll` on the head node) names: writes opm.conf (client, the
    /// node), the one-use token (0600) and the CA certificate where the
    /// agent's settings point (token_file, default
    /// /var/lib/opm/agent.token; ca_cert, default /etc/opm/ca.pem) and
    /// sets server, token_file and ca_cert in the settings file. The agent
    /// trades the token for its own at first contact.
    Enroll {
        /// The enrolment file.
        file: PathBuf,
        /// Enrol even when opm.conf says this machine is something else,
        /// or the token file holds another token.
        #[arg(long)]
        force: bool,
    },
}

/// `opm bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Fill an initialised database with a synthetic cluster in bulk:
    /// compute nodes, opkgs, and a row for every node (the head node too)
    /// x opkg at one stage; the phase becomes complete.
    Populate {
        /// Compute nodes to add (`bench-n1`, ...).
        #[arg(long, value_name = "N")]
        nodes: u32,
        /// Opkgs to add (`bench-p1`, ...).
        #[arg(long, value_name = "M")]
        opkgs: u32,
        /// The stage every row is requested at, by name or ODA id.
        #[arg(long, default_value = "finished")]
        stage: Stage,
        /// Leave every row one stage behind, so each needs one stage.
        #[arg(long)]
        behind: bool,
    },
    /// Load-test `opm server` with simulated agents (benchmark B4): add N
    /// nodes to an initialised database, each with one row one stage short
    /// of finished (a stage without actions) and a token; start `opm
    /// server` on loopback as a child process; let N in-process agents
    /// come after a random delay, long-poll, report the stage's start and
    /// finish and long-poll again, holding N polls open; then print poll
    /// latencies, the time until every report was acknowledged, the
    /// server's CPU under load and idle, its peak RSS, and the passed
    /// attempts and finished rows counted in the database.
    Agents(BenchAgentsArgs),
    /// Verify every compute node's rows against one sandbox root's package
    /// database (benchmark B5): per node, what its agent and the server do
    /// (the node's question from the store, one package-database read of
    /// `--root`, the rows judged and written), without the HTTP between
    /// them; then print rows judged, reads, drifted rows and time per row.
    Verify {
        /// The root whose package database stands for every node's.
        #[arg(long = "db-root", value_name = "DIR")]
        db_root: PathBuf,
    },
    /// Benchmark B6: the agents of B4 install one opkg at 1.0-1, then
    /// 2.0-1 is imported and 'opm upgrade' starts every node's upgrade;
    /// prints the install time and the time until every row reports the
    /// new version. Exit 1 when a row does not end at 2.0-1. Takes B4's
    /// options; --idle-secs is B4's alone (no idle window is measured).
    Upgrade(BenchAgentsArgs),
    /// Benchmark B7: B6's upgrade as a rollout (--max-parallel,
    /// --max-failures); prints B4's unbatched install time next to the
    /// rollout's, and with --fail K (K agents fail their upgrade on
    /// purpose) how many nodes started after the failure budget was spent.
    /// Exit 1 when the rollout does not end done (paused with --fail).
    Rollout(BenchRolloutArgs),
}

/// `opm bench rollout`: B4's options, the rollout and the failures.
#[derive(Debug, Args)]
pub struct BenchRolloutArgs {
    /// B4's options.
    #[command(flatten)]
    pub agents: BenchAgentsArgs,
    /// The upgrade's rollout.
    #[command(flatten)]
    pub rollout: RolloutArgs,
    /// Agents, chosen at random, whose upgrade fails on purpose.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub fail: u32,
}

/// `opm bench agents --count N`
#[derive(Debug, Clone, Args)]
pub struct BenchAgentsArgs {
    /// Simulated agents, one node each.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Agents start spread at random over this many milliseconds; by
    /// default 9 s, so that the completions fall within the 10 s window
    /// benchmark B4 names when the server keeps up.
    #[arg(long, value_name = "MS", default_value_t = 9_000)]
    pub jitter_ms: u64,
    /// Seconds the server's CPU is measured with every poll held open
    /// after the last report.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub idle_secs: u64,
    /// Seconds to wait for every report before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout_secs: u64,
}

/// `opm admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print a new admin token for the tools' API; the old one stops
    /// working at once. Only a hash is kept: save the token now.
    Token,
}

/// `opm run [--jobs N] [--side-by-side]`
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Targets worked at the same time [default: number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Seconds a target's lease lasts unless renewed (renewed while
    /// working); at least 1.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_ttl: u64,
    /// Seconds to wait for a target another live opm process is working,
    /// and for a package manager's lock, before giving up on it.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub wait: u64,
    /// Seconds each opkg script may run before its process group is
    /// killed; at least 1 (0 is refused: there is no unlimited run).
    #[arg(long, value_name = "SECS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub script_timeout: u64,
    /// Let script-only stages of unrelated opkgs on one target run up to
    /// --jobs at a time, for sites whose scripts do not share files;
    /// `--side-by-side=false` keeps them one at a time [default:
    /// `side_by_side_scripts` in the settings file, else off].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub side_by_side: Option<bool>,
}

impl Default for RunArgs {
    fn default() -> RunArgs {
        RunArgs {
            jobs: None,
            lease_ttl: 60,
            wait: 30,
            script_timeout: 1800,
            side_by_side: None,
        }
    }
}

/// `opm pack [--format deb|rpm] [--dist D] [--arch A] -o DIR PATH...`
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The package format [default: from --backend, else deb when dpkg is
    /// installed, else rpm].
    #[arg(long, value_enum)]
    pub format: Option<PackageFormat>,
    /// The target distribution, as the <dist> filters spell it: NAME or
    /// NAME-VERSION (debian, rhel-8). Picks the dependencies that apply.
    #[arg(long, value_name = "D")]
    pub dist: Option<String>,
    /// The target architecture, as the <arch> filters spell it (x86_64,
    /// i386, ...); needed when arch filters make a package arch-specific.
    #[arg(long, value_name = "A")]
    pub arch: Option<String>,
    /// The directory to write the packages to (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Opkg source directories or their config.xml files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A native package format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PackageFormat {
    /// Debian package (.deb).
    Deb,
    /// RPM package (.rpm).
    Rpm,
}

impl PackageFormat {
    /// The name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PackageFormat::Deb => "deb",
            PackageFormat::Rpm => "rpm",
        }
    }
}

/// `opm repo ...`
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Index a directory of built packages: Packages, Packages.gz and
    /// Release for its .deb files (a flat apt repository, `deb
    /// [trusted=yes] file:DIR ./`), repodata/ for its .rpm files (needs
    /// createrepo_c).
    Index {
        /// The directory holding the packages.
        dir: PathBuf,
        /// Sign the indexes with this gpg key (id, fingerprint or user id
        /// of a secret key without passphrase, from GNUPGHOME or ~/.gnupg):
        /// InRelease and Release.gpg for apt, repodata/repomd.xml.asc for
        /// dnf, and the public key as opm-archive-key.asc for clients
        /// (`--repo '[signed-by=KEYFILE] DIR|URL'`).
        #[arg(long, value_name = "KEYID")]
        sign: Option<String>,
    },
}

/// The opm.conf format, as `opm conf check --help` and the README give it.
pub const CONF_FORMAT: &str = "\
The opm.conf format (SPEC §1.6): exactly two lines, nothing else.
  line 1  the role: server (the head node), client (a compute node)
          or image (inside a node image)
  line 2  the name of this node or image: letters, digits, '.', '_'
          and '-', starting with a letter or digit, at most 100 bytes
Spaces around a line and blank lines at the end are ignored; comments,
blank lines before the name and a third line are refused.

Example, the head node:
  server
  head

`opm init --write-conf --role server --name head` writes it.";

/// `opm conf ...`
#[derive(Debug, Subcommand)]
pub enum ConfCommand {
    /// Validate an opm.conf and print its role and name.
    #[command(after_help = CONF_FORMAT)]
    Check {
        /// The file to check [default: --conf, OPM_CONF, /etc/opm.conf].
        path: Option<PathBuf>,
    },
}

/// `opm opkg ...`
#[derive(Debug, Subcommand)]
pub enum OpkgCommand {
    /// Validate opkg sources: prints each finding as FILE:LINE:COL, then a
    /// verdict per source. Exit 0 when every source is usable (warnings are
    /// allowed), 2 when any has an error.
    Check {
        /// Accept exactly what opkg.xsd accepts: every schema violation is
        /// an error, not just the ones that matter to opm.
        #[arg(long)]
        strict: bool,
        /// Opkg source directories or config.xml files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Register opkg sources in the database: metadata, version, source
    /// path and their dependencies and conflicts among the imported opkgs.
    /// Every source is checked first; if any is invalid nothing is imported.
    Import {
        /// The cluster's distribution (NAME or NAME-VERSION), for relations
        /// under <dist> filters. Without it only unfiltered blocks count.
        #[arg(long, value_name = "D")]
        dist: Option<String>,
        /// The cluster's architecture, for relations under <arch> filters.
        #[arg(long, value_name = "A")]
        arch: Option<String>,
        /// Opkg source directories or config.xml files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// List the imported opkgs: every imported version, the pin and the
    /// version their rows should have.
    List,
    /// Pin an opkg to one of its imported versions: its rows should have
    /// that one, not the newest ('opm upgrade' brings them there).
    Pin {
        /// The opkg.
        #[arg(value_parser = opkg_name)]
        package: Name,
        /// An imported version (see 'opm opkg list').
        version: String,
    },
    /// Unpin an opkg: its rows should have its newest imported version.
    Unpin {
        /// The opkg.
        #[arg(value_parser = opkg_name)]
        package: Name,
    },
    /// Show a parsed opkg: its metadata, effective dependencies per native
    /// part, scripts and configurator defaults.
    Show {
        /// The target distribution, as the <dist> filters spell it: NAME or
        /// NAME-VERSION (debian, rhel-8). Without it only blocks with no
        /// dist filter count.
        #[arg(long, value_name = "D")]
        dist: Option<String>,
        /// The target architecture (amd64, x86_64, ...). Without it only
        /// blocks with no arch filter count.
        #[arg(long, value_name = "A")]
        arch: Option<String>,
        /// An opkg source directory or its config.xml.
        path: PathBuf,
    },
}

fn node_name(raw: &str) -> Result<Name, NameError> {
    Name::new(NameKind::Node, raw)
}

fn image_name(raw: &str) -> Result<Name, NameError> {
    Name::new(NameKind::Image, raw)
}

fn group_name(raw: &str) -> Result<Name, NameError> {
    Name::new(NameKind::Group, raw)
}

fn opkg_name(raw: &str) -> Result<Name, NameError> {
    Name::new(NameKind::Opkg, raw)
}

/// `opm node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Register a compute node. It joins `oscar_clients` unless `--group`
    /// says otherwise; after the phase is `complete` it gets rows for the
    /// opkgs selected for its groups right away.
    Add {
        /// The node's name.
        #[arg(value_parser = node_name)]
        name: Name,
        /// A group to join instead of oscar_clients; repeat for several.
        #[arg(long, value_name = "G", value_parser = group_name)]
        group: Vec<Name>,
        /// The image the node is built from (must exist).
        #[arg(long, value_name = "I", value_parser = image_name)]
        image: Option<Name>,
        /// Also write an enrolment file for the node's agent, as `opm node
        /// enroll` does (checked before the node is added).
        #[arg(long, value_name = "FILE")]
        enroll: Option<PathBuf>,
        /// The enrolment's settings (with --enroll).
        #[command(flatten)]
        enrolment: EnrolmentArgs,
    },
    /// Write an enrolment file for a compute node's agent (0600; copy it
    /// to the node and run `opm agent enroll FILE` there): the server's
    /// URL, the CA certificate when it speaks HTTPS (`ca_cert` in the
    /// settings file), and a token that works once, until it expires.
    /// The node's older enrolments stop working.
    Enroll {
        /// The node's name.
        #[arg(value_parser = node_name)]
        name: Name,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The enrolment's settings.
        #[command(flatten)]
        enrolment: EnrolmentArgs,
    },
    /// List the nodes, head node first.
    List,
    /// Remove a compute node and its rows (its history stays).
    Remove {
        /// The node's name.
        #[arg(value_parser = node_name)]
        name: Name,
        /// Print exactly the rows that would go; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation on a terminal.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Print a new API token for the node's agent; its old token stops
    /// working at once. Only a hash is kept: save the token now.
    Token {
        /// The node's name.
        #[arg(value_parser = node_name)]
        name: Name,
    },
}

/// What an enrolment file says and how it is written.
#[derive(Debug, Clone, Args)]
pub struct EnrolmentArgs {
    /// How long the enrolment works: 30m, 24h, 7d (at most 30d).
    #[arg(long, value_name = "LIFETIME", default_value = "24h",
          value_parser = opm_model::parse_lifetime)]
    pub expires: i64,
    /// The URL nodes reach opm server at (`https://head:7060`) [default:
    /// OPM_SERVER_URL, else `server_url` in the settings file].
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// Replace the enrolment file if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

/// `opm image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Register a node image whose root filesystem lives in DIR.
    Add {
        /// The image's name.
        #[arg(value_parser = image_name)]
        name: Name,
        /// The image's root directory on the head node (must exist).
        #[arg(long, value_name = "DIR")]
        path: PathBuf,
    },
    /// List the images.
    List,
    /// Remove an image no node uses, with its rows.
    Remove {
        /// The image's name.
        #[arg(value_parser = image_name)]
        name: Name,
    },
}

/// Which row(s) a command acts on: exactly one of node, image, group or
/// the head node.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RequestTarget {
    /// A compute node (or the head node) by name.
    #[arg(long, value_name = "N", value_parser = node_name)]
    pub node: Option<Name>,
    /// An image by name.
    #[arg(long, value_name = "I", value_parser = image_name)]
    pub image: Option<Name>,
    /// Every node of a group.
    #[arg(long, value_name = "G", value_parser = group_name)]
    pub group: Option<Name>,
    /// The head node.
    #[arg(long)]
    pub server: bool,
}

/// `opm request PKG --stage STAGE (--node N | --image I | --group G | --server)`
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The opkg (must be imported).
    #[arg(value_parser = opkg_name)]
    pub package: Name,
    /// The stage to reach, by name or ODA id (1-8).
    #[arg(long)]
    pub stage: Stage,
    /// The rows to set.
    #[command(flatten)]
    pub target: RequestTarget,
    /// Print exactly the rows that would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `opm install PKG... [--group G]`
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The opkgs (must be imported).
    #[arg(required = true, value_name = "PKG", value_parser = opkg_name)]
    pub packages: Vec<Name>,
    /// The group of compute nodes that should get them [default: oscar_clients].
    #[arg(long, value_name = "G", value_parser = group_name)]
    pub group: Option<Name>,
    /// Print exactly the rows that would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How the work on compute nodes is spread out.
    #[command(flatten)]
    pub rollout: RolloutArgs,
}

/// `opm upgrade [PKG...] [--node N | --image I | --group G] [--allow-downgrade]`
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The opkgs; none: every imported opkg. The opkgs they depend on are
    /// upgraded too, first.
    #[arg(value_name = "PKG", value_parser = opkg_name)]
    pub packages: Vec<Name>,
    /// Which rows; none: the head node's, every image's and every node's.
    #[command(flatten)]
    pub scope: UpgradeScopeArgs,
    /// Also go to a wanted version older than a row's (a pin on an older
    /// version); refused otherwise.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// How the work on compute nodes is spread out.
    #[command(flatten)]
    pub rollout: RolloutArgs,
}

/// The rows `opm upgrade` covers.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct UpgradeScopeArgs {
    /// Only this node's rows (the head node's included).
    #[arg(long, value_name = "N", value_parser = node_name)]
    pub node: Option<Name>,
    /// Only this image's rows.
    #[arg(long, value_name = "I", value_parser = image_name)]
    pub image: Option<Name>,
    /// Only the rows of this group's nodes.
    #[arg(long, value_name = "G", value_parser = group_name)]
    pub group: Option<Name>,
}

/// `opm remove PKG... [--with-dependents]`
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The opkgs.
    #[arg(required = true, value_name = "PKG", value_parser = opkg_name)]
    pub packages: Vec<Name>,
    /// Also remove the opkgs that depend on them, instead of refusing.
    #[arg(long)]
    pub with_dependents: bool,
    /// Print exactly the rows that would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation on a terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How the work on compute nodes is spread out.
    #[command(flatten)]
    pub rollout: RolloutArgs,
}

/// `opm cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show the install phase, or set it.
    Phase {
        /// The phase to set: setup_wizard, build_image, addclients, netboot,
        /// post_install, test_install or complete.
        phase: Option<Phase>,
        /// Say what would change (and warn as the real run would); change
        /// nothing.
        #[arg(long, requires = "phase")]
        dry_run: bool,
    },
}

/// `opm status [--watch]`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Redraw every second under a header (phase, counts, time): on a
    /// terminal in place until interrupted (Ctrl-C); elsewhere (a pipe,
    /// --json) until every row is converged or in error.
    #[arg(long)]
    pub watch: bool,
    /// Counts instead of rows: per opkg, how many rows are at each stage,
    /// with the rows in error and running.
    #[arg(long)]
    pub summary: bool,
    /// Which rows.
    #[command(flatten)]
    pub rows: RowFilterArgs,
}

/// `opm plan [filters]`
#[derive(Debug, Args, Default)]
pub struct PlanArgs {
    /// Which rows.
    #[command(flatten)]
    pub rows: RowFilterArgs,
}

/// Which rows a view shows; every flag narrows.
#[derive(Debug, Args, Default, Clone)]
pub struct RowFilterArgs {
    /// Only this node's rows.
    #[arg(long, value_name = "N", value_parser = node_name)]
    pub node: Option<Name>,
    /// Only this image's rows.
    #[arg(long, value_name = "I", value_parser = image_name, conflicts_with = "node")]
    pub image: Option<Name>,
    /// Only the rows of this group's nodes.
    #[arg(long, value_name = "G", value_parser = group_name)]
    pub group: Option<Name>,
    /// Only this opkg's rows.
    #[arg(long, value_name = "PKG", value_parser = opkg_name)]
    pub package: Option<Name>,
    /// Only rows whose current stage is this one (name or ODA id).
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<Stage>,
    /// Only rows in error.
    #[arg(long)]
    pub errors: bool,
}

impl RowFilterArgs {
    /// The filter the operator applies.
    pub fn filter(&self) -> opm_model::api::RowFilter {
        opm_model::api::RowFilter {
            node: self.node.clone(),
            image: self.image.clone(),
            group: self.group.clone(),
            package: self.package.clone(),
            stage: self.stage,
            errors: self.errors,
        }
    }
}

/// One row's target: a node or an image.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RowTarget {
    /// A node by name.
    #[arg(long, value_name = "N", value_parser = node_name)]
    pub node: Option<Name>,
    /// An image by name.
    #[arg(long, value_name = "I", value_parser = image_name)]
    pub image: Option<Name>,
}

/// An optional node-or-image filter.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct TargetFilter {
    /// Only this node.
    #[arg(long, value_name = "N", value_parser = node_name)]
    pub node: Option<Name>,
    /// Only this image.
    #[arg(long, value_name = "I", value_parser = image_name)]
    pub image: Option<Name>,
}

/// `opm history [--node N | --image I] [PKG]`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this opkg.
    #[arg(value_parser = opkg_name)]
    pub package: Option<Name>,
    /// Only this target.
    #[command(flatten)]
    pub target: TargetFilter,
    /// Only the rows of this group's nodes.
    #[arg(long, value_name = "G", value_parser = group_name, conflicts_with = "audit")]
    pub group: Option<Name>,
    /// Only the rows whose current stage is this one (name or ODA id), as
    /// `opm status --stage` lists them.
    #[arg(long, value_name = "STAGE", conflicts_with = "audit")]
    pub stage: Option<Stage>,
    /// Only the rows in error now.
    #[arg(long, conflicts_with = "audit")]
    pub errors: bool,
    /// Show at most the newest N entries (--since, --failed, --group,
    /// --stage and --errors then choose among them).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub limit: u32,
    /// Only entries since WHEN: a duration back from now (90s, 30m, 1h,
    /// 2d, 1w) or a UTC date or time (2026-12-03, 2026-12-03T14:05:00).
    #[arg(long, value_name = "WHEN", value_parser = since)]
    pub since: Option<i64>,
    /// Only attempts that failed.
    #[arg(long, conflicts_with = "audit")]
    pub failed: bool,
    /// Show the audit trail of operator actions (who, when, what) instead.
    #[arg(long, conflicts_with_all = ["package", "node", "image"])]
    pub audit: bool,
}

/// `--since WHEN` as ms since the epoch, from now.
fn since(raw: &str) -> Result<i64, String> {
    opm_engine::parse_since(raw, opm_engine::Clock::now_ms(&opm_engine::SystemClock))
}

/// `opm logs [--attempt ID | PKG --node N|--image I]`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The opkg whose row's last attempt to show.
    #[arg(value_parser = opkg_name, required_unless_present = "attempt")]
    pub package: Option<Name>,
    /// The row's target.
    #[command(flatten)]
    pub target: TargetFilter,
    /// One attempt by id (see `opm history`).
    #[arg(long, value_name = "ID", conflicts_with_all = ["package", "node", "image"])]
    pub attempt: Option<i64>,
}

/// `opm retry PKG --node N|--image I [--reason TEXT] [--whole-stage]`
///
/// The failed stage continues at the step that failed: the steps before
/// it passed and are not run again (`opm logs` shows each step). With
/// `--whole-stage` it runs from its first step instead. To run stages
/// that passed again, use `opm rerun`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The opkg.
    #[arg(value_parser = opkg_name)]
    pub package: Name,
    /// The row's target.
    #[command(flatten)]
    pub target: RowTarget,
    /// Why, recorded in the history.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Run the failed stage from its first step, not from the step that
    /// failed.
    #[arg(long)]
    pub whole_stage: bool,
}

/// `opm verify [--node N | --image I] [--repair]`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this target.
    #[command(flatten)]
    pub target: TargetFilter,
    /// Then request the repair of what is drifted (as `opm repair`).
    #[arg(long)]
    pub repair: bool,
}

/// `opm repair [--node N]... [--image I]...`
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// This node's drifted rows (repeatable; none named: every target's).
    #[arg(long = "node", value_name = "N", value_parser = node_name)]
    pub nodes: Vec<Name>,
    /// This image's drifted rows (repeatable).
    #[arg(long = "image", value_name = "I", value_parser = image_name)]
    pub images: Vec<Name>,
}

/// `opm rerun PKG --node N|--image I --from STAGE`
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The opkg.
    #[arg(value_parser = opkg_name)]
    pub package: Name,
    /// The row's target.
    #[command(flatten)]
    pub target: RowTarget,
    /// The first stage to run again; current becomes the stage before it.
    #[arg(long, value_name = "STAGE")]
    pub from: Stage,
    /// How the work on compute nodes is spread out.
    #[command(flatten)]
    pub rollout: RolloutArgs,
}

/// `--max-parallel`, `--max-failures`, `--canary` (SPEC §1.10); each left
/// out is the settings file's `rollout_*`, else unbounded.
#[derive(Debug, Default, Args)]
pub struct RolloutArgs {
    /// At most N compute nodes (or N% of them) change at once; the others
    /// wait their batch.
    #[arg(long, value_name = "N|N%", value_parser = limit)]
    pub max_parallel: Option<Limit>,
    /// When more than F nodes (or F% of them) have failed, no new node
    /// starts: the rollout pauses until 'opm rollout resume'.
    #[arg(long, value_name = "F|F%", value_parser = limit)]
    pub max_failures: Option<Limit>,
    /// N nodes first; the others only after all of them finished.
    #[arg(long, value_name = "N")]
    pub canary: Option<u32>,
}

impl RolloutArgs {
    /// The policy these flags ask for, each left out taken from `defaults`.
    pub fn policy(&self, defaults: RolloutPolicy) -> RolloutPolicy {
        RolloutPolicy {
            max_parallel: self.max_parallel,
            max_failures: self.max_failures,
            canary: self.canary,
        }
        .or(defaults)
    }
}

fn limit(raw: &str) -> Result<Limit, BadLimit> {
    raw.parse()
}

/// `opm rollout ...`
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Every rollout, newest first: its state and where its nodes stand.
    Status,
    /// Let a paused rollout go on, once its failed nodes are cleared with
    /// 'opm retry'; starts the nodes it may start now.
    #[command(after_help = "\
Examples:
  opm rollout status                         (why it paused)
  opm retry motd --node n2 --reason 'fixed /etc/motd.d'
  opm rollout resume")]
    Resume {
        /// The rollout [default: the only one in progress].
        id: Option<i64>,
    },
    /// Start no new node of a rollout; nodes already started go on and
    /// finished ones stay as they are. Running the command again starts a
    /// new rollout for the nodes left.
    Abort {
        /// The rollout [default: the only one in progress].
        id: Option<i64>,
    },
}

/// `opm config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set configuration values of an opkg, for every target or one image.
    Set {
        /// The opkg (must be imported).
        #[arg(value_parser = opkg_name)]
        package: Name,
        /// NAME=VALUE pairs.
        #[arg(required = true, value_name = "NAME=VALUE")]
        values: Vec<String>,
        /// Only for this image.
        #[arg(long, value_name = "I", value_parser = image_name)]
        image: Option<Name>,
    },
    /// Show an opkg's configuration: its configurator defaults and the
    /// values set, opkg-wide or as one image sees them.
    Show {
        /// The opkg.
        #[arg(value_parser = opkg_name)]
        package: Name,
        /// The values as this image sees them (its own over opkg-wide ones).
        #[arg(long, value_name = "I", value_parser = image_name)]
        image: Option<Name>,
    },
}

/// `opm demo [--dir DIR] [--examples DIR]`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The directory to build the demo cluster in; must be new or empty; it
    /// is kept afterwards [default: a new directory under the system's
    /// temporary directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The example opkg sources [default: examples/opkgs of the current
    /// directory, else of the source tree opm was built from].
    #[arg(long, value_name = "DIR")]
    pub examples: Option<PathBuf>,
    /// Compute nodes, each with its own `opm agent` and sandbox root, next
    /// to an `opm server` on loopback; 0 walks the head node alone with
    /// `opm run`.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub agents: u8,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::{CommandFactory, Parser};

    use super::{Cli, Command, GROUPS};

    #[test]
    fn every_visible_subcommand_is_in_exactly_one_help_group() {
        let command = Cli::command();
        let visible: BTreeSet<&str> = command
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .map(clap::Command::get_name)
            .collect();
        let mut grouped = BTreeSet::new();
        for (heading, names) in GROUPS {
            for name in names {
                assert!(grouped.insert(*name), "{name} is in two groups ({heading})");
            }
        }
        assert_eq!(grouped, visible);
    }

    fn side_by_side(args: &[&str]) -> Option<bool> {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Run(run) => run.side_by_side,
            Command::Server(server) => server.run.side_by_side,
            other => panic!("not run or server: {other:?}"),
        }
    }

    #[test]
    fn side_by_side_is_a_flag_of_run_and_server_that_can_say_no() {
        assert_eq!(side_by_side(&["opm", "run"]), None);
        assert_eq!(side_by_side(&["opm", "run", "--side-by-side"]), Some(true));
        assert_eq!(
            side_by_side(&["opm", "run", "--side-by-side=false"]),
            Some(false)
        );
        // `opm server` runs the same passes, so it takes the same flag.
        assert_eq!(
            side_by_side(&["opm", "server", "--side-by-side"]),
            Some(true)
        );
        // Without `=` the next word is not taken as the flag's value.
        assert!(Cli::try_parse_from(["opm", "run", "--side-by-side", "false"]).is_err());
        assert!(Cli::try_parse_from(["opm", "run", "--side-by-side=maybe"]).is_err());
    }
}
