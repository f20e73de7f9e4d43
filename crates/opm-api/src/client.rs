//! The agent's side of the API: one call per endpoint, each a JSON POST
//! with the node's bearer token. A server that cannot be reached, or that
//! answers 5xx, is transient trouble; any other refusal is not.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opm_model::api::{
    ApiError, FinishReport, Finished, Heartbeat, PollRequest, StartReport, Started, WorkBatch,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AgentError;

/// How long a call may take beyond the poll's own wait.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one server, with one node's token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    /// A client of the server at `base` (`http://127.0.0.1:7060`, or
    /// `https://head:7060`, trusting the CA certificates in `ca_cert`, or
    /// the system's trust store without).
    ///
    /// # Errors
    /// [`AgentError::Tls`] for CA certificates that cannot be used,
    /// [`AgentError::Unreachable`] when the HTTP client cannot be built.
    pub fn new(base: &str, token: &str, ca_cert: Option<&Path>) -> Result<ApiClient, AgentError> {
        // The one crypto provider of the process; a second install (another
        // client) finds it there already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(ca_cert) = ca_cert {
            builder = builder.tls_backend_preconfigured(tls_config(ca_cert)?);
        }
        let http = builder.build().map_err(|error| AgentError::Unreachable {
            url: base.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(ApiClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
        })
    }

    /// The same server and connection pool with another node's token (a
    /// load generator speaking for many nodes).
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            http: self.http.clone(),
            base: self.base.clone(),
            token: token.trim().to_owned(),
        }
    }

    /// The server's URL (for messages).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, AgentError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |error: reqwest::Error| AgentError::Unreachable {
            url: url.clone(),
            reason: error.to_string(),
        };
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(unreachable);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ApiError>(&text)
            .map(|error| error.error)
            .unwrap_or(text);
        if status.is_server_error() {
            return Err(AgentError::Unreachable {
                url,
                reason: format!("{status}: {message}"),
            });
        }
        Err(AgentError::Refused {
            call: path.to_owned(),
            status: status.as_u16(),
            message,
        })
    }

    /// Asks for the node's work, waiting up to the request's `wait_ms`.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn poll(&self, request: &PollRequest) -> Result<WorkBatch, AgentError> {
        let timeout = CALL_TIMEOUT + Duration::from_millis(request.wait_ms);
        self.post("/v1/agent/poll", request, timeout).await
    }

    /// Reports a stage's start.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn start(&self, report: &StartReport) -> Result<Started, AgentError> {
        self.post("/v1/agent/start", report, CALL_TIMEOUT).await
    }

    /// Reports a stage's end.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn finish(&self, report: &FinishReport) -> Result<Finished, AgentError> {
        self.post("/v1/agent/finish", report, CALL_TIMEOUT).await
    }

    /// Renews the node's lease.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<Heartbeat, AgentError> {
        self.post("/v1/agent/heartbeat", beat, CALL_TIMEOUT).await
    }
}

/// A TLS client configuration trusting the certificates of `ca_cert`, with
/// ring as the crypto provider.
fn tls_config(ca_cert: &Path) -> Result<rustls::ClientConfig, AgentError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let failed = |reason: String| AgentError::Tls {
        reason: format!("{}: {reason}", ca_cert.display()),
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(ca_cert).map_err(|error| failed(error.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|error| failed(error.to_string()))?;
        roots.add(cert).map_err(|error| failed(error.to_string()))?;
    }
    if roots.is_empty() {
        return Err(failed("no certificate in the file".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| failed(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
