//! The agent's side of the API: one call per endpoint, each a JSON POST
//! with the node's bearer token. A server that cannot be reached, or that
//! answers 5xx, is transient trouble; any other refusal is not.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opm_model::api::{
    ApiError, EnrollRequest, Enrolled, FinishReport, Finished, Heartbeat, PollRequest, StartReport,
    Started, VerifyAsk, VerifyQuestion, VerifyReport, VerifySummary, WorkBatch,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AgentError;

/// What this client says it is: the server shows it per node.
pub const USER_AGENT: &str = concat!("opm/", env!("CARGO_PKG_VERSION"));

/// How long an unused connection is kept for the next call.
const POOL_IDLE: Duration = Duration::from_secs(20);

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
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Below the server's default idle timeout (30 s): the agent
            // lets go of an idle connection before the server closes it,
            // so no request goes out on a connection being closed.
            .pool_idle_timeout(POOL_IDLE)
            // The server records which opm each node's agent runs.
            .user_agent(USER_AGENT);
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
        self.call(Method::POST, path, None::<&()>, Some(body), timeout)
            .await
    }

    /// One call: `method` on `path` with an optional query and JSON body;
    /// the JSON answer, or the server's refusal with its message.
    ///
    /// # Errors
    /// [`AgentError`]: unreachable (or 5xx), untrusted, or refused (4xx).
    pub async fn call<Q: Serialize + ?Sized, B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<R, AgentError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |error: reqwest::Error| failed_call(&url, &error);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(unreachable)?;
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

    /// The first contact: trades the enrolment token this client carries
    /// for the token hashed in `request`.
    ///
    /// # Errors
    /// [`AgentError`]; a refused enrolment is [`AgentError::Refused`] with
    /// the server's reason.
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<Enrolled, AgentError> {
        self.post("/v1/agent/enroll", request, CALL_TIMEOUT).await
    }

    /// Asks which packages a verify of the node reads.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn verify_ask(&self, ask: &VerifyAsk) -> Result<VerifyQuestion, AgentError> {
        self.post("/v1/agent/verify/ask", ask, CALL_TIMEOUT).await
    }

    /// Reports what the node's package database said; the answer is what
    /// the server found.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn verify_report(&self, report: &VerifyReport) -> Result<VerifySummary, AgentError> {
        self.post("/v1/agent/verify", report, CALL_TIMEOUT).await
    }

    /// Renews the node's lease.
    ///
    /// # Errors
    /// [`AgentError`].
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<Heartbeat, AgentError> {
        self.post("/v1/agent/heartbeat", beat, CALL_TIMEOUT).await
    }
}

/// What a call that got no answer says: that the server cannot be
/// trusted (which way) or speaks another protocol, when that is why;
/// otherwise that it is unreachable, which waiting may cure.
fn failed_call(url: &str, error: &reqwest::Error) -> AgentError {
    let reason = chain(error);
    match untrusted(url, error) {
        Some(problem) => AgentError::Untrusted {
            url: url.to_owned(),
            problem: format!("{problem} ({reason})"),
        },
        None => AgentError::Unreachable {
            url: url.to_owned(),
            reason,
        },
    }
}

/// An error and its causes, in one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = error.source();
    }
    line
}

/// The rustls error among an error's causes, if any. An `io::Error` hides
/// what it wraps from `source()` (it answers for the wrapped error's own
/// cause), so its wrapped error is looked at instead.
fn rustls_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        cause = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

/// Whether the answer could not be parsed as HTTP.
fn not_http(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Why the server at `url` cannot be talked to, when it is the server's
/// certificate or a protocol mismatch rather than the network.
fn untrusted(url: &str, error: &reqwest::Error) -> Option<String> {
    use rustls::CertificateError;

    if let Some(tls) = rustls_cause(error) {
        return Some(match tls {
            // A CA of the same name that did not sign it: a bad signature.
            rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::BadSignature,
            ) => "presented a certificate signed by no CA this agent trusts; \
                 pass --ca-cert with the CA certificate that signed it"
                .to_owned(),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => "presented a certificate made for another host name; \
                  use the name the certificate was made for in the server URL"
                .to_owned(),
            rustls::Error::InvalidCertificate(_) => {
                "presented a certificate that cannot be trusted".to_owned()
            }
            rustls::Error::InvalidMessage(_) => {
                "does not answer in TLS; if it serves plain HTTP, use an http:// URL".to_owned()
            }
            _ => return None,
        });
    }
    // An answer that is not HTTP at all from an http:// URL: a TLS alert
    // from a server that serves HTTPS there.
    let plain = url.starts_with("http://");
    (plain && not_http(error)).then(|| {
        "does not answer in plain HTTP; if it serves HTTPS, use an https:// URL".to_owned()
    })
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
