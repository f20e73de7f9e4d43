//! `opm run [--jobs N] [--side-by-side]`: reconcile this machine's rows
//! until nothing more can be done now (SPEC §4), through `opm-engine`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opm_engine::{
    BarReporter, Engine, EngineConfig, EngineError, Identity, LineReporter, Reporter, RunReport,
    SystemClock, Verdict,
};
use opm_model::OpmConf;
use opm_native::script::{RunnerConfig, ScriptRunner};
use opm_native::{Backend, Options, Repo, Root};
use opm_store::{AnyStore, OpenMode};

use crate::cli::{BackendName, RunArgs};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

/// Reads this machine's opm.conf (SPEC §1.6).
pub fn identity(settings: &Settings) -> anyhow::Result<Identity> {
    let bytes = crate::commands::conf::read_capped(&settings.conf).map_err(|error| {
        bad_input(format!(
            "cannot read {}: {error}; point --conf or OPM_CONF at this machine's opm.conf",
            settings.conf.display()
        ))
    })?;
    let conf = OpmConf::parse_bytes(&bytes)
        .map_err(|error| bad_input(format!("{}: {error}", settings.conf.display())))?;
    Ok(Identity {
        role: conf.role,
        name: conf.name,
    })
}

fn backend(settings: &Settings) -> anyhow::Result<Backend> {
    Ok(match settings.backend {
        Some(BackendName::Apt) => Backend::Apt,
        Some(BackendName::Dpkg) => Backend::Dpkg,
        Some(BackendName::Dnf) => Backend::Dnf,
        Some(BackendName::Rpm) => Backend::Rpm,
        None => {
            let root = Root::new(&settings.root).map_err(|e| bad_input(e.to_string()))?;
            opm_native::detect::detect(&root).map_err(|e| bad_input(e.to_string()))?
        }
    })
}

/// The package manager of the settings' backend and repositories, waiting
/// up to `wait` for a root's lock.
pub fn package_manager(
    settings: &Settings,
    wait: Duration,
) -> anyhow::Result<Arc<dyn opm_native::PackageManager>> {
    let repos = settings
        .repos
        .iter()
        .map(|repo| Repo::parse(repo).map_err(|e| bad_input(e.to_string())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut options = Options::new(repos);
    options.lock_timeout = wait;
    Ok(Arc::from(backend(settings)?.manager(options)))
}

/// Builds the engine over the settings' store, backend and root.
pub async fn engine(
    settings: &Settings,
    args: &RunArgs,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Arc<Engine<AnyStore>>> {
    let store = Arc::new(settings.open_store(OpenMode::Existing).await?);
    engine_on(settings, args, store, reporter)
}

/// Builds the engine over `store`, the one store of this process (a
/// second open of a SQLite file would share its locks with the first; see
/// `opm server`), and the settings' backend and root.
pub fn engine_on(
    settings: &Settings,
    args: &RunArgs,
    store: Arc<AnyStore>,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Arc<Engine<AnyStore>>> {
    let identity = identity(settings)?;
    let packages = package_manager(settings, Duration::from_secs(args.wait))?;
    let jobs = args.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let config = EngineConfig {
        identity,
        own_root: std::path::absolute(&settings.root)?,
        jobs,
        // The flag, when given, beats the settings file (either way).
        side_by_side: args.side_by_side.unwrap_or(settings.side_by_side_scripts),
        lease_ttl: Duration::from_secs(args.lease_ttl),
        lease_wait: Duration::from_secs(args.wait),
        script_timeout: Duration::from_secs(args.script_timeout),
        host: opm_engine::owner::host_name(),
        proc_dir: Path::new("/proc").to_path_buf(),
    };
    Ok(Arc::new(Engine::new(
        store,
        packages,
        ScriptRunner::new(RunnerConfig {
            env: settings.site_env.clone(),
            ..RunnerConfig::default()
        }),
        Arc::new(SystemClock),
        reporter,
        config,
    )?))
}

/// Runs `opm run`; on a compute node that is `opm agent --once`.
pub fn run(args: RunArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    if identity(settings)?.role == opm_model::Role::Client {
        let agent = crate::cli::AgentArgs {
            script_timeout: args.script_timeout,
            ..crate::cli::AgentArgs::default()
        };
        return crate::commands::agent::run(agent, settings, printer);
    }
    let reporter: Arc<dyn Reporter> = if std::io::stdout().is_terminal() && !printer.json() {
        Arc::new(BarReporter::new())
    } else {
        Arc::new(LineReporter::new(std::io::stderr()))
    };
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let engine = engine(settings, &args, reporter).await?;
            engine
                .run()
                .await
                .map_err(|error| pass_error(error, settings))
        })?;
    print_report(&report, "opm retry", printer)
}

/// A pass that stopped on what the caller got wrong (an opm.conf naming a
/// node the database does not know, ...) is bad input, exit 2; the store's
/// classification decides. The rest is a failure.
fn pass_error(error: EngineError, settings: &Settings) -> anyhow::Error {
    match error {
        EngineError::Store(error) if error.is_bad_input() => bad_input(format!(
            "{error} (this machine's name is read from {}; fix it there, or run 'opm init' with it)",
            settings.conf.display()
        )),
        other => anyhow::Error::new(other),
    }
}

/// Prints what a run (or an agent's `--once`) did; its exit code (SPEC §4).
/// `retry` says how an error is cleared from where this ran.
pub fn print_report(report: &RunReport, retry: &str, printer: Printer) -> anyhow::Result<Exit> {
    if printer.json() {
        printer.print_json(report)?;
    } else {
        printer.line(format!(
            "{} stage(s) passed, {} failed",
            report.passed, report.failed
        ));
        for error in &report.errors {
            printer.line(format!(
                "error: {}: {} (hint: {retry})",
                error.row, error.reason
            ));
        }
        for blocked in &report.blocked {
            printer.line(format!("blocked: {}: {}", blocked.row, blocked.reason));
        }
    }
    Ok(match report.verdict() {
        Verdict::Converged => Exit::Success,
        Verdict::Failed => Exit::Failed,
        Verdict::Blocked => Exit::Blocked,
    })
}
