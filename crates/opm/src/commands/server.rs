//! `opm server`: the head-node daemon (SPEC §1.4, §1.6) until SIGINT or
//! SIGTERM: the head node's and images' passes, and the API.

use std::sync::Arc;
use std::time::Duration;

use opm_api::server::{ServerConfig, TlsFiles, check_listen, serve};
use opm_engine::{LineReporter, Reporter, SystemClock};
use opm_model::Role;
use opm_store::OpenMode;

use crate::cli::ServerArgs;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime::{self, engine_on, identity, raise_open_files, stop_signal};
use crate::settings::Settings;

/// How long the head node's pass sleeps when nothing wakes it.
const PASS_INTERVAL: Duration = Duration::from_secs(1);

/// Runs `opm server`.
pub fn run(args: ServerArgs, settings: &Settings, _printer: Printer) -> anyhow::Result<Exit> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    check_listen(args.listen, tls.is_some()).map_err(|error| bad_input(error.to_string()))?;
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
        let reporter: Arc<dyn Reporter> = Arc::new(LineReporter::new(std::io::stderr()));
        // One store for the engine and the API: each open of a SQLite
        // file is one more way for its locks to go astray.
        let store = Arc::new(settings.open_store(OpenMode::Existing).await?);
        let engine = engine_on(settings, &args.run, Arc::clone(&store), reporter)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let config = ServerConfig {
            listen: args.listen,
            lease_ttl: Duration::from_secs(args.agent_lease_ttl.max(1)),
            pass_interval: PASS_INTERVAL,
            tls,
            idle_timeout: Duration::from_secs(args.idle_timeout),
        };
        serve(
            engine,
            store,
            Arc::new(SystemClock),
            config,
            |addr| eprintln!("opm server: listening on {scheme}://{addr}"),
            stop_signal(),
        )
        .await
        .map_err(|error| bad_input(error.to_string()))?;
        eprintln!("opm server: stopped");
        Ok(Exit::Success)
    })
}
