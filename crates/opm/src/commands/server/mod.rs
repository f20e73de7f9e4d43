//! `opm server`: the head-node daemon (SPEC §1.4, §1.6) until SIGINT or
//! SIGTERM: the head node's and images' passes, and the API. Its address
//! and certificate come from the flags, else the settings file. `opm
//! server tls init` makes a certificate first (`tls/init.rs`).

mod tls;

use std::sync::Arc;
use std::time::Duration;

use opm_api::metrics::{Metrics, StageTimer};
use opm_api::server::{ServerConfig, TlsFiles, check_listen, serve};
use opm_engine::{LineReporter, Reporter, SystemClock};
use opm_model::Role;
use opm_store::OpenMode;

use crate::cli::{ServerArgs, ServerCommand, TlsCommand};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime::{self, engine_on, identity, raise_open_files, stop_signal};
use crate::sd_notify::Notifier;
use crate::settings::{DEFAULT_LISTEN, Settings};

/// How long the head node's pass sleeps when nothing wakes it.
const PASS_INTERVAL: Duration = Duration::from_secs(1);

/// Runs `opm server`.
pub fn run(args: ServerArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    if let Some(ServerCommand::Tls(TlsCommand::Init { names, dir })) = args.command {
        return tls::init::run(names.as_deref(), dir, settings, printer);
    }
    // The flags' pair, else the settings file's.
    let files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        _ => match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(bad_input(format!(
                    "the settings file {} names only one of tls_cert and tls_key; HTTPS needs both",
                    settings.settings_file.display()
                )));
            }
        },
    };
    let tls = files.map(|(cert, key)| TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    let listen = match args.listen.or(settings.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN.parse()?,
    };
    check_listen(listen, tls.is_some()).map_err(|error| bad_input(error.to_string()))?;
    let me = identity(settings)?;
    if me.role != Role::Server {
        return Err(bad_input(format!(
            "opm server runs on the head node, and {} says this machine is {} {}",
            settings.conf.display(),
            me.role,
            me.name
        )));
    }
    runtime::init_logging(settings);
    if let Err(error) = raise_open_files() {
        eprintln!(
            "opm server: cannot raise the open-files limit, serving fewer agents at once: {error}"
        );
    }
    runtime::multi_thread()?.block_on(async {
        let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION"))?);
        let lines: Arc<dyn Reporter> = Arc::new(LineReporter::new(std::io::stderr()));
        // The head node's stages are timed into the metrics on their way
        // to the log.
        let reporter: Arc<dyn Reporter> = Arc::new(StageTimer::new(lines, Arc::clone(&metrics)));
        // One store for the engine and the API: each open of a SQLite
        // file is one more way for its locks to go astray.
        let store = Arc::new(settings.open_store(OpenMode::Existing).await?);
        let engine = engine_on(settings, &args.run, Arc::clone(&store), reporter)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let config = ServerConfig {
            listen,
            lease_ttl: Duration::from_secs(args.agent_lease_ttl.max(1)),
            pass_interval: PASS_INTERVAL,
            tls,
            idle_timeout: Duration::from_secs(args.idle_timeout),
            verify_interval: settings.verify_every(args.verify_interval),
            drain: settings.drain.clone(),
        };
        // Type=notify: ready once listening, stopping on a signal.
        let notifier = Notifier::from_env("opm server");
        let stopping = notifier.clone();
        let stop = stop_signal();
        serve(
            engine,
            store,
            Arc::new(SystemClock),
            config,
            metrics,
            |addr| {
                let status = format!("listening on {scheme}://{addr}");
                eprintln!("opm server: {status}");
                notifier.ready(&status);
            },
            async move {
                stop.await;
                stopping.stopping("stopping: letting open requests finish");
            },
        )
        .await
        .map_err(|error| bad_input(error.to_string()))?;
        eprintln!("opm server: stopped");
        Ok(Exit::Success)
    })
}
