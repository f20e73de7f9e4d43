//! `opm server`: the head node's daemon. It keeps the server-role and
//! image-role passes going (woken by what the API changes and by node
//! reports, and once a second besides, so changes made with the CLI are
//! seen within about a second) and serves the API until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opm_engine::{Clock, Engine};
use opm_store::Store;
use tokio::sync::Notify;

use crate::handouts::Handouts;
use crate::metrics::Metrics;
use crate::router::{AppState, router};
use crate::wake::{self, Waiters};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// How long an agent's lease lasts unless a heartbeat renews it.
    pub lease_ttl: Duration,
    /// The longest the head node's pass sleeps when nothing wakes it.
    pub pass_interval: Duration,
    /// Serve HTTPS with this certificate and key; plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// How long a connection may take to send a request head (its TLS
    /// handshake too), and stay open without a request: an idle or
    /// trickling client is closed after it, so it holds no socket for
    /// ever. A long poll under way is a request, not idle.
    pub idle_timeout: Duration,
    /// How often the head node's rows and images are verified against
    /// their package databases (SPEC §1.9), the first time at start;
    /// `None` never (`verify_interval = 0`).
    pub verify_interval: Option<Duration>,
    /// Drain each node through the scheduler before its packages change
    /// (`drain_command` and friends); `None` never.
    pub drain: Option<crate::drain::DrainConfig>,
}

/// A server certificate (chain) and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Plain HTTP on an address other machines reach.
    #[error(
        "refusing to serve plain HTTP on {addr}: tokens would cross the network in clear text; \
         pass --tls-cert FILE --tls-key FILE, or listen on a loopback address (127.0.0.1:PORT)"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The certificate or key cannot be used.
    #[error("cannot use the TLS certificate {cert} and key {key}: {reason}")]
    Tls {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// Why.
        reason: String,
    },
    /// The address cannot be bound or served.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// Refuses an address plain HTTP must not be served on.
///
/// # Errors
/// [`ServerError::NotLoopback`].
pub fn check_listen(addr: SocketAddr, tls: bool) -> Result<(), ServerError> {
    if tls || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServerError::NotLoopback { addr })
    }
}

/// Serves until `shutdown` completes, recording into `metrics` (give the
/// engine a [`crate::metrics::StageTimer`] over the same metrics to time
/// its stages); `on_listening` learns the bound address first (port 0
/// picks a free one).
///
/// # Errors
/// [`ServerError`] when the address cannot be served.
pub async fn serve<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
    metrics: Arc<Metrics>,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    check_listen(config.listen, config.tls.is_some())?;
    let state = Arc::new(AppState {
        store,
        engine: Arc::clone(&engine),
        clock,
        lease_ttl_ms: i64::try_from(config.lease_ttl.as_millis()).unwrap_or(i64::MAX),
        agents_wake: Notify::new(),
        waiters: Waiters::default(),
        handouts: Handouts::default(),
        engine_wake: Notify::new(),
        stopping: std::sync::atomic::AtomicBool::new(false),
        metrics,
        contacts: crate::contact::Contacts::default(),
        drains: crate::drain::Drains::new(config.drain.clone()),
    });
    let app = router(Arc::clone(&state));
    let stopper = Arc::clone(&state);
    let shutdown = async move {
        shutdown.await;
        stopper.stop();
    };
    let watcher = tokio::spawn(wake::watch(Arc::clone(&state)));
    let verifies = config
        .verify_interval
        .map(|every| tokio::spawn(keep_verifying(Arc::clone(&engine), every)));
    let passes = tokio::spawn(keep_passing(engine, state, config.pass_interval));
    let served = serve_on(app, &config, on_listening, shutdown).await;
    passes.abort();
    if let Some(verifies) = verifies {
        verifies.abort();
    }
    watcher.abort();
    served
}

fn listen_error(addr: SocketAddr) -> impl Fn(std::io::Error) -> ServerError {
    move |error| ServerError::Listen {
        addr,
        reason: error.to_string(),
    }
}

/// The most a connection's read buffer holds: a request head must fit
/// (bodies stream through it). hyper's own default, about 400 KB, lets a
/// keep-alive connection grow its buffer to 16 KiB on its second request;
/// at 8 KiB it stays one allocation, and 10,000 held long-polls cost
/// 80 MB less.
const READ_BUFFER: usize = 8 * 1024;

/// How long a stopping server lets open requests finish.
const DRAIN: Duration = Duration::from_secs(10);

/// The server's TLS configuration from `tls`, offering HTTP/1.1 only
/// (ALPN): the server speaks nothing else, so its timeouts cover every
/// connection.
async fn rustls_config(
    tls: &TlsFiles,
) -> Result<axum_server::tls_rustls::RustlsConfig, ServerError> {
    let failed = |reason: String| ServerError::Tls {
        cert: tls.cert.display().to_string(),
        key: tls.key.display().to_string(),
        reason,
    };
    let loaded = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let mut config = rustls::ServerConfig::clone(&loaded.get_inner());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

/// Serves `app` until `shutdown`, over TLS when the config has it.
async fn serve_on(
    app: axum::Router,
    config: &ServerConfig,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = config.listen;
    let rustls = match &config.tls {
        None => None,
        Some(tls) => Some(rustls_config(tls).await?),
    };
    // Bind first, so a port in use is an error here, and port 0 is known.
    let listener = std::net::TcpListener::bind(addr).map_err(listen_error(addr))?;
    on_listening(listener.local_addr().map_err(listen_error(addr))?);
    // HTTP/1 only: hyper's header read timeout then runs from the moment
    // a connection is accepted and again while it waits for each next
    // request, which is what closes idle connections (the protocol
    // detection of HTTP/2 would wait for a first byte without one).
    let mut server = axum_server::from_tcp(listener)
        .map_err(listen_error(addr))?
        .http1_only();
    server
        .http_builder()
        .http1()
        .max_buf_size(READ_BUFFER)
        .header_read_timeout(config.idle_timeout);
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(DRAIN));
    });
    let server = server.handle(handle);
    // The router is made ready once here, not once per connection.
    // With each connection's peer address, which agents' contacts record.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = match rustls {
        None => server.serve(service).await,
        Some(rustls) => {
            server
                .acceptor(
                    axum_server::tls_rustls::RustlsAcceptor::new(rustls)
                        .handshake_timeout(config.idle_timeout),
                )
                .serve(service)
                .await
        }
    };
    served.map_err(listen_error(addr))
}

/// The shortest time between two head-node passes prompted by reports.
const PASS_DEBOUNCE: Duration = Duration::from_millis(100);

/// The head node's passes, again and again.
async fn keep_passing<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    state: Arc<AppState<S>>,
    interval: Duration,
) {
    loop {
        let woken = state.engine_wake.notified();
        match engine.run().await {
            // Assigned or uninstalled client rows are new work for nodes.
            Ok(report) => {
                if report.passed + report.failed > 0 {
                    state.agents_wake.notify_one();
                }
                // Nodes a rollout started: only their polls, not every
                // waiting node's (B7: thousands wait their batch).
                state.waiters.wake(&report.started);
            }
            Err(error) => tracing::warn!("the head node's pass failed, trying again: {error}"),
        }
        tokio::select! {
            () = woken => {
                // A burst of reports (thousands of agents at once) costs
                // one pass per period, not one each.
                tokio::time::sleep(PASS_DEBOUNCE).await;
            }
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Verifies the head node's rows and images now and then every `every`.
/// A verify only reads package databases and writes row statuses, which
/// drops any finding about a row the passes moved meanwhile, so it runs
/// beside them.
async fn keep_verifying<S: Store + 'static>(engine: Arc<Engine<S>>, every: Duration) {
    loop {
        match engine.verify(None).await {
            Ok(found) => {
                for drifted in &found.summary.drifted {
                    tracing::warn!(row = %drifted.row, "drifted: {}", drifted.reason);
                }
                for unreadable in &found.summary.unreadable {
                    tracing::warn!(target = %unreadable.row, "cannot verify: {}", unreadable.reason);
                }
            }
            Err(error) => tracing::warn!("verify failed, trying again at the next: {error}"),
        }
        tokio::time::sleep(every).await;
    }
}
