//! Node enrolment, both ends. On the head node [`issue`] makes a one-use
//! token for a compute node, keeps its hash with an expiry, and writes the
//! enrolment file (the server's URL, the token, the CA when the server
//! speaks HTTPS), readable by its owner alone and never over another file
//! unless asked. On the node [`install`] puts what the file holds where
//! the agent looks: opm.conf (`client` and the node's name), the token
//! file (0600) and the CA certificate. The token is traded for the agent's
//! own at first contact ([`crate::credentials`]).

use std::path::{Path, PathBuf};

use opm_model::{
    ENROLMENT_TOKEN_PREFIX, Enrolment, EnrolmentError, MAX_CONF_BYTES, MAX_ENROLMENT_BYTES, Name,
    OpmConf, Role, check_server_url, format_utc, is_enrolment_token,
};
use opm_store::{Store, StoreError};

use crate::auth::{new_token, token_hash};
use crate::credentials::{pending_path, read_token};
use crate::files;

/// Why an enrolment could not be made or installed.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The enrolment file to write exists.
    #[error("{path} exists; pass --overwrite to replace it, or write the enrolment elsewhere")]
    OutExists {
        /// The file.
        path: String,
    },
    /// A file cannot be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The head node has no agent to enrol.
    #[error(
        "{node} is the head node: its rows are worked by opm server or opm run, not by an agent"
    )]
    HeadNode {
        /// The head node's name.
        node: Name,
    },
    /// No URL for the agents to reach the server at, or a bad one.
    #[error("{0}")]
    ServerUrl(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The enrolment file (or CA file) cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The enrolment file is not one.
    #[error("{path}: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong, with its line.
        source: EnrolmentError,
    },
    /// The CA certificate is not PEM certificates.
    #[error("{path}: {reason}")]
    BadCa {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The enrolment expired (by this machine's clock).
    #[error(
        "{path}: the enrolment of node {node} expired at {expires}; make a new one on the head node with opm node enroll {node} --out FILE"
    )]
    Expired {
        /// The file.
        path: String,
        /// The node.
        node: Name,
        /// When, `format_utc`.
        expires: String,
    },
    /// This machine already is something else, or enrolled already.
    #[error("{path} {found}; pass --force to enrol this machine as node {node} anyway")]
    Taken {
        /// The file in the way.
        path: String,
        /// What it says.
        found: String,
        /// The node of the enrolment.
        node: Name,
    },
}

impl EnrolError {
    /// Whether the caller's input is at fault (exit 2) rather than the
    /// machine (a file that cannot be written) or the store.
    pub fn is_bad_input(&self) -> bool {
        match self {
            EnrolError::Write { .. } => false,
            EnrolError::Store(error) => error.is_bad_input(),
            _ => true,
        }
    }
}

/// What [`issue`] needs.
#[derive(Debug, Clone)]
pub struct Issue {
    /// The compute node to enrol.
    pub node: Name,
    /// The head node's API as nodes reach it.
    pub server: String,
    /// The CA certificate(s) to carry (PEM), from [`read_ca`].
    pub ca_cert: Option<String>,
    /// How long the enrolment works, ms.
    pub lifetime_ms: i64,
    /// The file to write.
    pub out: PathBuf,
    /// Whether an existing file there may be replaced.
    pub overwrite: bool,
}

/// What [`issue`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    /// The node.
    pub node: String,
    /// The enrolment file.
    pub file: PathBuf,
    /// The server URL in it.
    pub server: String,
    /// When it expires (`format_utc`).
    pub expires: String,
    /// Whether it carries a CA certificate.
    pub ca_cert: bool,
}

/// Refuses an output file that exists (unless `overwrite`), before
/// anything is changed (`opm node add --enroll` checks it before adding).
///
/// # Errors
/// [`EnrolError::OutExists`].
pub fn check_out(out: &Path, overwrite: bool) -> Result<(), EnrolError> {
    if !overwrite && std::fs::symlink_metadata(out).is_ok() {
        return Err(EnrolError::OutExists {
            path: out.display().to_string(),
        });
    }
    Ok(())
}

/// Refuses a server URL agents cannot use.
///
/// # Errors
/// [`EnrolError::ServerUrl`].
pub fn check_server(url: &str) -> Result<(), EnrolError> {
    check_server_url(url).map_err(|reason| EnrolError::ServerUrl(format!("server URL: {reason}")))
}

/// Reads `path` as PEM certificates (at least one), for an enrolment to
/// carry.
///
/// # Errors
/// [`EnrolError::Unreadable`], [`EnrolError::BadCa`].
pub fn read_ca(path: &Path) -> Result<String, EnrolError> {
    let bytes = read_capped(path, MAX_ENROLMENT_BYTES / 2)?;
    let text = String::from_utf8(bytes).map_err(|_| EnrolError::BadCa {
        path: path.display().to_string(),
        reason: "not PEM text".to_owned(),
    })?;
    check_ca(&text).map_err(|reason| EnrolError::BadCa {
        path: path.display().to_string(),
        reason,
    })?;
    Ok(text)
}

/// Checks PEM text holds certificates and nothing else that matters.
fn check_ca(text: &str) -> Result<(), String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(text.as_bytes()) {
        cert.map_err(|error| format!("not a PEM certificate: {error}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("holds no certificate (-----BEGIN CERTIFICATE-----)".to_owned());
    }
    Ok(())
}

/// Makes an enrolment of `issue.node` at `now_ms` and writes its file.
/// The file is written first (0600; over an existing one only when asked)
/// and taken away again if the store refuses, so no token is kept that
/// nobody holds and no file holds a token the store does not know.
///
/// # Errors
/// [`EnrolError`].
pub async fn issue<S: Store>(
    store: &S,
    issue: &Issue,
    head: &Name,
    now_ms: i64,
) -> Result<Issued, EnrolError> {
    check_server(&issue.server)?;
    check_out(&issue.out, issue.overwrite)?;
    if issue.node == *head {
        return Err(EnrolError::HeadNode {
            node: issue.node.clone(),
        });
    }
    let random = new_token().map_err(|error| EnrolError::Write {
        path: issue.out.display().to_string(),
        reason: format!("no randomness for a token: {error}"),
    })?;
    let enrolment = Enrolment {
        node: issue.node.clone(),
        server: issue.server.clone(),
        expires_ms: now_ms.saturating_add(issue.lifetime_ms),
        token: format!("{ENROLMENT_TOKEN_PREFIX}{random}"),
        ca_cert: issue.ca_cert.clone(),
    };
    let text = enrolment.render(head);
    let written = if issue.overwrite {
        files::replace(&issue.out, text.as_bytes(), 0o600)
    } else {
        files::create(&issue.out, text.as_bytes(), 0o600)
    };
    written.map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => EnrolError::OutExists {
            path: issue.out.display().to_string(),
        },
        _ => EnrolError::Write {
            path: issue.out.display().to_string(),
            reason: error.to_string(),
        },
    })?;
    if let Err(error) = store
        .add_enrolment(
            &issue.node,
            &token_hash(&enrolment.token),
            now_ms,
            enrolment.expires_ms,
        )
        .await
    {
        let _ = std::fs::remove_file(&issue.out);
        return Err(error.into());
    }
    Ok(Issued {
        node: issue.node.to_string(),
        file: issue.out.clone(),
        server: enrolment.server,
        expires: format_utc(enrolment.expires_ms),
        ca_cert: enrolment.ca_cert.is_some(),
    })
}

/// The first `cap + 1` bytes of `path` at most (more is refused by the
/// parser), or why it cannot be read.
fn read_capped(path: &Path, cap: usize) -> Result<Vec<u8>, EnrolError> {
    use std::io::Read as _;
    let unreadable = |error: std::io::Error| EnrolError::Unreadable {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(cap).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(bytes)
}

/// Reads an enrolment file.
///
/// # Errors
/// [`EnrolError::Unreadable`], [`EnrolError::Malformed`],
/// [`EnrolError::BadCa`].
pub fn read_enrolment(path: &Path) -> Result<Enrolment, EnrolError> {
    let bytes = read_capped(path, MAX_ENROLMENT_BYTES)?;
    let enrolment = Enrolment::parse_bytes(&bytes).map_err(|source| EnrolError::Malformed {
        path: path.display().to_string(),
        source,
    })?;
    if let Some(ca) = &enrolment.ca_cert {
        check_ca(ca).map_err(|reason| EnrolError::BadCa {
            path: path.display().to_string(),
            reason,
        })?;
    }
    Ok(enrolment)
}

/// Where [`install`] puts things: the agent's settings in force.
#[derive(Debug, Clone)]
pub struct Destinations {
    /// This machine's opm.conf.
    pub conf: PathBuf,
    /// The agent's token file.
    pub token_file: PathBuf,
    /// The CA certificate the agent trusts.
    pub ca_cert: PathBuf,
}

/// What [`install`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    /// The node.
    pub node: String,
    /// The server URL.
    pub server: String,
    /// opm.conf.
    pub conf: PathBuf,
    /// The token file.
    pub token_file: PathBuf,
    /// The CA certificate, when the enrolment carried one.
    pub ca_cert: Option<PathBuf>,
    /// When the enrolment expires (`format_utc`).
    pub expires: String,
}

/// What stands in the way of enrolling as `enrolment.node`, unless
/// forced: an opm.conf that says something else, or a token file that
/// holds an agent's own token (this machine is enrolled already).
fn in_the_way(enrolment: &Enrolment, to: &Destinations) -> Option<EnrolError> {
    let taken = |path: &Path, found: String| EnrolError::Taken {
        path: path.display().to_string(),
        found,
        node: enrolment.node.clone(),
    };
    if let Ok(bytes) = read_capped(&to.conf, MAX_CONF_BYTES) {
        match OpmConf::parse_bytes(&bytes) {
            Ok(conf) if conf.role == Role::Client && conf.name == enrolment.node => {}
            Ok(conf) => {
                return Some(taken(
                    &to.conf,
                    format!("says this machine is {} {}", conf.role, conf.name),
                ));
            }
            Err(error) => {
                return Some(taken(
                    &to.conf,
                    format!("is not a valid opm.conf ({error})"),
                ));
            }
        }
    }
    // An enrolment token not yet traded (an older or expired file) is no
    // enrolment yet; an agent's own token is.
    match read_token(&to.token_file) {
        Ok(token) if !is_enrolment_token(&token) => Some(taken(
            &to.token_file,
            "holds another token (this machine is enrolled already)".to_owned(),
        )),
        _ => None,
    }
}

/// Installs `enrolment` (read from `file`) at `to`, at `now_ms` by this
/// machine's clock: CA certificate (0644), token (0600), opm.conf. Again
/// with the same file is harmless; anything else in the way is refused
/// unless `force`.
///
/// # Errors
/// [`EnrolError::Expired`], [`EnrolError::Taken`], [`EnrolError::Write`].
pub fn install(
    enrolment: &Enrolment,
    file: &Path,
    to: &Destinations,
    force: bool,
    now_ms: i64,
) -> Result<Installed, EnrolError> {
    if now_ms >= enrolment.expires_ms {
        return Err(EnrolError::Expired {
            path: file.display().to_string(),
            node: enrolment.node.clone(),
            expires: format_utc(enrolment.expires_ms),
        });
    }
    if !force && let Some(refusal) = in_the_way(enrolment, to) {
        return Err(refusal);
    }
    let put = |path: &Path, text: &str, mode: u32| {
        let failed = |error: std::io::Error| EnrolError::Write {
            path: path.display().to_string(),
            reason: error.to_string(),
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        files::replace(path, text.as_bytes(), mode).map_err(failed)
    };
    if let Some(ca) = &enrolment.ca_cert {
        put(&to.ca_cert, ca, 0o644)?;
    }
    // A new token of a trade an earlier enrolment left unfinished is not
    // this enrolment's: the agent makes a fresh one.
    let pending = pending_path(&to.token_file);
    if pending.exists() {
        std::fs::remove_file(&pending).map_err(|error| EnrolError::Write {
            path: pending.display().to_string(),
            reason: error.to_string(),
        })?;
    }
    put(&to.token_file, &format!("{}\n", enrolment.token), 0o600)?;
    put(&to.conf, &format!("client\n{}\n", enrolment.node), 0o644)?;
    Ok(Installed {
        node: enrolment.node.to_string(),
        server: enrolment.server.clone(),
        conf: to.conf.clone(),
        token_file: to.token_file.clone(),
        ca_cert: enrolment.ca_cert.as_ref().map(|_| to.ca_cert.clone()),
        expires: format_utc(enrolment.expires_ms),
    })
}
