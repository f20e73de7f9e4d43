//! `opm server`: the head node's daemon. It keeps the server-role and
//! image-role passes going (woken by what the API changes and by node
//! reports, and once a second besides, so changes made with the CLI are
//! seen within about a second) and serves the API until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opm_engine::{Clock, Engine};
use opm_store::Store;
use tokio::sync::Notify;

use crate::router::{AppState, router};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// How long an agent's lease lasts unless a heartbeat renews it.
    pub lease_ttl: Duration,
    /// The longest the head node's pass sleeps when nothing wakes it.
    pub pass_interval: Duration,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Plain HTTP on an address other machines reach.
    #[error(
        "refusing to serve plain HTTP on {addr}: tokens would cross the network in clear text; \
         listen on a loopback address (127.0.0.1:PORT or [::1]:PORT), this opm has no TLS support yet"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
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
pub fn check_listen(addr: SocketAddr) -> Result<(), ServerError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServerError::NotLoopback { addr })
    }
}

/// Serves until `shutdown` completes; `on_listening` learns the bound
/// address first (port 0 picks a free one).
///
/// # Errors
/// [`ServerError`] when the address cannot be served.
pub async fn serve<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    check_listen(config.listen)?;
    let listen_error = |error: std::io::Error| ServerError::Listen {
        addr: config.listen,
        reason: error.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(listen_error)?;
    on_listening(listener.local_addr().map_err(listen_error)?);
    let state = Arc::new(AppState {
        store,
        clock,
        lease_ttl_ms: i64::try_from(config.lease_ttl.as_millis()).unwrap_or(i64::MAX),
        agents_wake: Notify::new(),
        engine_wake: Notify::new(),
    });
    let passes = tokio::spawn(keep_passing(
        engine,
        Arc::clone(&state),
        config.pass_interval,
    ));
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(listen_error);
    passes.abort();
    served
}

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
            Ok(report) if report.passed + report.failed > 0 => state.agents_wake.notify_waiters(),
            Ok(_) => {}
            Err(error) => tracing::warn!("the head node's pass failed, trying again: {error}"),
        }
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}
