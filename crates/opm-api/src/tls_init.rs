//! `opm server tls init`: a small CA and a server certificate for the head
//! node's names, so a site without its own PKI still serves HTTPS. The CA
//! signs only the server's certificate (path length 0); agents trust it
//! because their enrolment file carries it. Keys are ECDSA P-256 (ring,
//! the one crypto provider of the tree), written 0600; nothing is ever
//! written over.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

use crate::files;

/// How long the CA and the server certificate are valid, in years.
const VALID_YEARS: i32 = 10;

/// Why no certificates were made or written.
#[derive(Debug, thiserror::Error)]
pub enum TlsInitError {
    /// A name that is neither a DNS name nor an IP address.
    #[error("'{name}' is not a host name or an IP address: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// No names at all.
    #[error("no names to make the server certificate for; pass --names head,head.cluster,10.0.0.1")]
    NoNames,
    /// A file the command would write exists.
    #[error(
        "{path} exists; opm server tls init never writes over a key or certificate (move it away, or pass another --dir)"
    )]
    Exists {
        /// The file.
        path: String,
    },
    /// The directory or a file cannot be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file or directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// rcgen refused the parameters.
    #[error("cannot make the certificates: {0}")]
    Make(String),
}

/// The names of `--names a,b,c`: trimmed, without empty parts or repeats,
/// each a DNS name (letters, digits, `-`, `.`) or an IP address.
///
/// # Errors
/// [`TlsInitError::BadName`], [`TlsInitError::NoNames`].
pub fn parse_names(text: &str) -> Result<Vec<String>, TlsInitError> {
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.parse::<std::net::IpAddr>().is_err() {
            check_dns_name(name)?;
        }
        if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    if names.is_empty() {
        return Err(TlsInitError::NoNames);
    }
    Ok(names)
}

fn check_dns_name(name: &str) -> Result<(), TlsInitError> {
    let bad = |reason: &str| TlsInitError::BadName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each dot-separated part must have 1 to 63 characters"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(bad("only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a part may not start or end with '-'"));
        }
    }
    Ok(())
}

/// The four PEM files, made in memory.
#[derive(Debug)]
pub struct Made {
    /// The CA's certificate (agents trust it).
    pub ca_cert: String,
    /// The CA's private key (kept to sign a new server certificate later).
    pub ca_key: String,
    /// The server's certificate, then the CA's (the chain it presents).
    pub server_cert: String,
    /// The server's private key.
    pub server_key: String,
}

/// The UTC calendar date of `ms`, moved by `years`, as rcgen's
/// `date_time_ymd` takes it; 29 February becomes the 28th (it may not
/// exist in the year moved to).
fn ymd(ms: i64, years: i32) -> (i32, u8, u8) {
    let text = opm_model::format_utc(ms);
    let field = |from: usize, to: usize| text.get(from..to).and_then(|s| s.parse::<u8>().ok());
    let year = text
        .get(0..4)
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(1970)
        + years;
    let month = field(5, 7).unwrap_or(1);
    let day = field(8, 10).unwrap_or(1);
    (year, month, if month == 2 && day == 29 { 28 } else { day })
}

/// A CA named for head node `head` and a server certificate for `names`
/// (the first is its common name), valid from the day before `now_ms`
/// (clocks differ) for [`VALID_YEARS`].
///
/// # Errors
/// [`TlsInitError::NoNames`], [`TlsInitError::Make`].
pub fn make(names: &[String], head: &str, now_ms: i64) -> Result<Made, TlsInitError> {
    let first = names.first().ok_or(TlsInitError::NoNames)?;
    let failed = |error: rcgen::Error| TlsInitError::Make(error.to_string());
    let yesterday = now_ms - 24 * 3600 * 1000;

    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name
        .push(DnType::CommonName, format!("opm CA of head node {head}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let (from, until) = (ymd(yesterday, 0), ymd(now_ms, VALID_YEARS));
    ca.not_before = date_time_ymd(from.0, from.1, from.2);
    ca.not_after = date_time_ymd(until.0, until.1, until.2);
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;

    let server_key = KeyPair::generate().map_err(failed)?;
    let mut server = CertificateParams::new(names.to_vec()).map_err(failed)?;
    server
        .distinguished_name
        .push(DnType::CommonName, first.clone());
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = ca.not_before;
    server.not_after = ca.not_after;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let server_cert = server.signed_by(&server_key, &issuer).map_err(failed)?;

    Ok(Made {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        server_cert: format!("{}{}", server_cert.pem(), ca_cert.pem()),
        server_key: server_key.serialize_pem(),
    })
}

/// Where the files went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// The CA's certificate.
    pub ca_cert: PathBuf,
    /// The CA's key.
    pub ca_key: PathBuf,
    /// The server's certificate chain.
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
}

impl Written {
    /// The paths in `dir`.
    pub fn in_dir(dir: &Path) -> Written {
        Written {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }

    fn all(&self) -> [&Path; 4] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
        ]
    }
}

/// Writes `made` into `dir` (created when missing), keys 0600,
/// certificates 0644; refuses before writing anything when one of the
/// files exists.
///
/// # Errors
/// [`TlsInitError::Exists`], [`TlsInitError::Write`].
pub fn write(dir: &Path, made: &Made) -> Result<Written, TlsInitError> {
    let written = Written::in_dir(dir);
    if let Some(path) = written.all().into_iter().find(|path| path.exists()) {
        return Err(TlsInitError::Exists {
            path: path.display().to_string(),
        });
    }
    let write_error = |path: &Path, error: std::io::Error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => TlsInitError::Exists {
            path: path.display().to_string(),
        },
        _ => TlsInitError::Write {
            path: path.display().to_string(),
            reason: error.to_string(),
        },
    };
    std::fs::create_dir_all(dir).map_err(|error| write_error(dir, error))?;
    // Keys first: a certificate without its key is of no use, the other
    // way round a rerun after a failure refuses and says which file is in
    // the way.
    let contents = [
        (&written.ca_key, &made.ca_key, 0o600),
        (&written.server_key, &made.server_key, 0o600),
        (&written.ca_cert, &made.ca_cert, 0o644),
        (&written.server_cert, &made.server_cert, 0o644),
    ];
    for (path, text, mode) in contents {
        files::create(path, text.as_bytes(), mode).map_err(|error| write_error(path, error))?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    // Test code: fixed inputs.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_host_names_or_addresses() {
        assert_eq!(
            parse_names(" head, head.cluster ,10.0.0.1,,HEAD,::1").unwrap(),
            ["head", "head.cluster", "10.0.0.1", "::1"]
        );
        for bad in ["", " , ", "head_1", "-head", "a..b", "héad", "*.cluster"] {
            assert!(parse_names(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_keep_to_the_calendar() {
        assert_eq!(ymd(951_782_400_000, 10), (2010, 2, 28));
        assert_eq!(ymd(0, 0), (1970, 1, 1));
    }

    #[test]
    fn nothing_is_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let made = make(&["head".to_owned()], "head", 1_795_000_000_000).unwrap();
        assert!(made.server_cert.matches("BEGIN CERTIFICATE").count() == 2);
        write(dir.path(), &made).unwrap();
        let error = write(dir.path(), &made).unwrap_err();
        assert!(error.to_string().contains("ca.pem exists"), "{error}");
    }
}
