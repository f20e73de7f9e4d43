//! The command line, as clap types. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// opm, the OSCAR Package Manager: brings every (package, node) and
/// (package, image) row from its current lifecycle stage to the requested one.
///
/// Exit codes: 0 success; 1 the work failed or rows are in error; 2 bad usage
/// or bad input (nothing changed); 3 work remains blocked.
#[derive(Debug, Parser)]
#[command(name = "opm", version, max_term_width = 100)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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

    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output on stderr; repeat for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
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
    },
}

/// `opm conf ...`
#[derive(Debug, Subcommand)]
pub enum ConfCommand {
    /// Validate an opm.conf and print its role and name.
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
