//! The wiring every daemon and reconcile command shares: this machine's
//! identity from its opm.conf, the package manager, the engine, the agent,
//! the daemons' logging, the stop signals and the open-files limit. The
//! command modules (`run`, `plan`, `server`, `agent`) only pick from here,
//! so none of them borrows wiring from another.

use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use opm_api::AgentError;
use opm_api::agent::Agent;
use opm_api::client::ApiClient;
use opm_api::credentials;
use opm_api::spool::Spool;
use opm_engine::{Actor, Engine, EngineConfig, Identity, Reporter, SystemClock};
use opm_model::{MAX_CONF_BYTES, OpmConf};
use opm_native::script::{RunnerConfig, ScriptRunner};
use opm_native::{Backend, Options, Repo, Root};
use opm_store::{AnyStore, OpenMode};

use crate::cli::{AgentArgs, BackendName, RunArgs};
use crate::exit::bad_input;
use crate::settings::Settings;

/// Reads an opm.conf for every command that does: at most one byte more
/// than an opm.conf may hold, so a huge or endless file (`/dev/zero`) is
/// refused instead of read into memory. A
/// named pipe or a socket is refused before it is opened: opening a pipe
/// nobody writes to waits forever.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let kind = std::fs::metadata(path)?.file_type();
    let unreadable = if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(kind) = unreadable {
        return Err(std::io::Error::other(format!(
            "it is {kind}, not a file; give the path of the opm.conf file itself"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONF_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads this machine's opm.conf (SPEC §1.6).
pub fn identity(settings: &Settings) -> anyhow::Result<Identity> {
    let bytes = read_capped(&settings.conf).map_err(|error| {
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

/// The script runner, with the site's script environment.
fn script_runner(settings: &Settings) -> ScriptRunner {
    ScriptRunner::new(RunnerConfig {
        env: settings.site_env.clone(),
        ..RunnerConfig::default()
    })
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
        script_runner(settings),
        Arc::new(SystemClock),
        reporter,
        config,
    )?))
}

/// A token from its token file (the admin token of `--remote`; `made_by`
/// says which command makes one), with a warning when others than its
/// owner may read it (anyone who can read it can act as its holder).
pub fn read_token(path: &Path, made_by: &str) -> anyhow::Result<String> {
    warn_if_readable(path);
    let text = std::fs::read_to_string(path).map_err(|error| {
        bad_input(format!(
            "cannot read the token file {}: {error}; '{made_by}' on the head node makes one",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad_input(format!(
            "{} does not hold a token (one line of letters and digits)",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// Warns when others than its owner may read the token file (anyone who
/// can read it can act as the node).
fn warn_if_readable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the token file {} can be read by others than its owner (mode {:o}); \
             chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
}

/// The agent's own token, after the first contact's trade when the token
/// file still holds an enrolment token (`opm_api::credentials`). A daemon
/// waits for a server that cannot be reached yet; `--once` does not.
async fn ready_token(
    token_file: &Path,
    node: &opm_model::Name,
    server: &str,
    ca_cert: Option<&Path>,
    once: bool,
) -> anyhow::Result<String> {
    warn_if_readable(token_file);
    let mut failures = 0;
    loop {
        match credentials::ready_token(token_file, node, server, ca_cert).await {
            Ok(token) => return Ok(token),
            Err(error) if error.is_transient() && !once => {
                let delay = opm_api::agent::backoff(failures);
                eprintln!("opm agent: {error}; trying again in {delay:?}");
                tokio::time::sleep(delay).await;
                failures += 1;
            }
            Err(error) => return Err(agent_error(error)),
        }
    }
}

/// A refused token is bad input; the rest is a failure.
pub fn agent_error(error: AgentError) -> anyhow::Error {
    match &error {
        AgentError::Refused { status, .. } if *status == 401 || *status == 403 => {
            bad_input(error.to_string())
        }
        AgentError::Spool { .. }
        | AgentError::Tls { .. }
        | AgentError::Untrusted { .. }
        | AgentError::TokenFile { .. } => bad_input(error.to_string()),
        _ => anyhow::Error::new(error),
    }
}

/// Where this compute node's server is and what proves the node to it
/// (`args` over the settings): the server's URL, the token file and the CA
/// certificates, if any.
fn node_credentials(
    args: &AgentArgs,
    settings: &Settings,
) -> anyhow::Result<(String, PathBuf, Option<PathBuf>)> {
    let server = args.server.clone().or_else(|| settings.server.clone()).ok_or_else(|| {
        bad_input("no server to ask for work: pass --server URL (or OPM_SERVER, or server in the settings file)")
    })?;
    let token_file = args.token_file.clone().or_else(|| settings.token_file.clone()).ok_or_else(|| {
        bad_input("no token: pass --token-file PATH (or OPM_TOKEN_FILE, or token_file in the settings file)")
    })?;
    let ca_cert = args.ca_cert.clone().or_else(|| settings.ca_cert.clone());
    Ok((server, token_file, ca_cert))
}

/// This compute node's client of the server (`args` over the settings).
pub fn node_client(args: &AgentArgs, settings: &Settings) -> anyhow::Result<ApiClient> {
    let (server, token_file, ca_cert) = node_credentials(args, settings)?;
    warn_if_readable(&token_file);
    let token = credentials::read_token(&token_file).map_err(agent_error)?;
    ApiClient::new(&server, &token, ca_cert.as_deref()).map_err(agent_error)
}

/// This compute node's actor: its package manager and script runner,
/// working in `--root`.
pub fn node_actor(args: &AgentArgs, settings: &Settings) -> anyhow::Result<Actor> {
    let packages = package_manager(settings, Duration::from_secs(30))?;
    Ok(Actor::new(
        packages,
        script_runner(settings),
        std::path::absolute(&settings.root)?,
        Duration::from_secs(args.script_timeout),
    ))
}

/// Builds this compute node's agent: its server, token, spool, package
/// manager and script runner, from `args` over the settings; its token
/// traded first when it is an enrolment's.
pub async fn agent(
    args: AgentArgs,
    identity: Identity,
    settings: &Settings,
) -> anyhow::Result<Arc<Agent>> {
    let (server, token_file, ca_cert) = node_credentials(&args, settings)?;
    let token = ready_token(
        &token_file,
        &identity.name,
        &server,
        ca_cert.as_deref(),
        args.once,
    )
    .await?;
    let client = ApiClient::new(&server, &token, ca_cert.as_deref()).map_err(agent_error)?;
    let actor = node_actor(&args, settings)?;
    let verify_every = settings.verify_every(args.verify_interval);
    let spool_path = args.spool.unwrap_or_else(|| settings.spool.clone());
    let spool = Spool::open(&spool_path).map_err(agent_error)?;
    Ok(Arc::new(
        Agent::new(
            client,
            actor,
            spool,
            identity.name,
            Duration::from_secs(args.poll_wait.min(30)),
        )?
        .verify_every(verify_every),
    ))
}

/// A multi-threaded runtime for the daemons and the reconcile passes.
pub fn multi_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Completes on SIGINT or SIGTERM. The handlers are in place when this
/// returns, not when the future is first polled: a daemon that told
/// systemd it is ready may be stopped at once, and that signal must stop
/// it gracefully (STOPPING=1, open requests drained), not kill it.
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    // Without a handler (tokio could not install it) the signal's own
    // default action still ends the process.
    async fn received(signal: std::io::Result<Signal>) {
        match signal {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            () = received(terminate) => {}
            () = received(interrupt) => {}
        }
    }
}

/// Sends the daemons' log lines to stderr (see [`crate::logging`]).
pub fn init_logging(settings: &Settings) {
    crate::logging::init(settings.verbosity, settings.log_format);
}

/// Raises this process's soft limit on open files to its hard limit; the
/// limit in force afterwards. Room for thousands of connections: the usual
/// soft limit of 1,024 open files is far below what 10,000 agents'
/// long-polls hold open, while the hard limit a process may raise itself
/// to is usually much higher.
///
/// # Errors
/// When the limit cannot be read or set.
pub fn raise_open_files() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}
