//! Node enrolment, free of I/O: the enrolment file the head node writes
//! (`opm node enroll`) and a node reads (`opm agent enroll`), and the rule
//! that says whether an enrolment token may still be redeemed.
//!
//! The file is one small text file, strict like opm.conf: `key: value`
//! lines in a fixed order, then the CA certificate (PEM) when the server
//! speaks HTTPS. Comments (`#`) and blank lines are free. Every error names
//! the line. The token in it works once, until `expires`: at first contact
//! the agent trades it for a token of its own ([`judge`]).

use crate::civil::Civil;
use crate::name::{Name, NameError, NameKind};

/// The first line every enrolment file carries after its comments: the
/// format and its version.
pub const ENROLMENT_MAGIC: &str = "opm-enrolment: 1";

/// What an enrolment token starts with, so an agent can tell one from its
/// own token (which it must not trade) by looking at it.
pub const ENROLMENT_TOKEN_PREFIX: &str = "enroll-";

/// The largest enrolment file read, in bytes: a few short lines and a CA
/// chain fit many times over.
pub const MAX_ENROLMENT_BYTES: usize = 64 * 1024;

/// How long an enrolment works unless `--expires` says otherwise: 24 h.
pub const DEFAULT_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// The longest `--expires` accepted: 30 days. A one-use secret lying
/// around longer is more likely to be found than used.
pub const MAX_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// What an enrolment file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The node it enrols.
    pub node: Name,
    /// The head node's API as the node reaches it (`https://head:7060`).
    pub server: String,
    /// When the token stops working, in ms since the epoch (the head
    /// node's clock).
    pub expires_ms: i64,
    /// The one-use token ([`ENROLMENT_TOKEN_PREFIX`] and hex digits).
    pub token: String,
    /// The CA certificate(s) that vouch for an https server, PEM.
    pub ca_cert: Option<String>,
}

/// Why an enrolment file was refused; every variant names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentError {
    /// Larger than [`MAX_ENROLMENT_BYTES`].
    #[error(
        "larger than {MAX_ENROLMENT_BYTES} bytes; an enrolment file is a few lines and a CA certificate"
    )]
    TooLarge,
    /// Not UTF-8 text.
    #[error("line {line}: expected text, found binary data")]
    NotText {
        /// The line of the first bad byte.
        line: usize,
    },
    /// The first line is not [`ENROLMENT_MAGIC`].
    #[error(
        "line {line}: expected '{ENROLMENT_MAGIC}', found '{found}'; this is not an opm enrolment file (made by 'opm node enroll' on the head node)"
    )]
    NotEnrolment {
        /// The line.
        line: usize,
        /// What was there.
        found: String,
    },
    /// A key is missing or out of order.
    #[error("line {line}: expected '{key}: ...', found '{found}'")]
    Expected {
        /// The line.
        line: usize,
        /// The key that belongs there.
        key: &'static str,
        /// What was there.
        found: String,
    },
    /// A value that is not what its key needs.
    #[error("line {line}: {key}: {reason}")]
    BadValue {
        /// The line.
        line: usize,
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The node's name breaks the naming rules.
    #[error("line {line}: {source}")]
    BadName {
        /// The line.
        line: usize,
        /// The broken rule.
        source: NameError,
    },
    /// The certificate block is cut short or followed by something else.
    #[error("line {line}: {reason}")]
    BadCertificate {
        /// The line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

const BEGIN_CERT: &str = "-----BEGIN CERTIFICATE-----";
const END_CERT: &str = "-----END CERTIFICATE-----";

impl Enrolment {
    /// The file's text: comments that say what it is and what to do with
    /// it, then the values. `head` is the head node's name (for people).
    pub fn render(&self, head: &Name) -> String {
        let mut text = format!(
            "# opm enrolment of node {node} into the cluster of head node {head}.\n\
             # It works once, until {expires}; keep it secret, it holds a token.\n\
             # On {node}, as root: opm agent enroll FILE\n\
             {ENROLMENT_MAGIC}\n\
             node: {node}\n\
             server: {server}\n\
             expires: {expires}\n\
             token: {token}\n",
            node = self.node,
            server = self.server,
            expires = format_utc(self.expires_ms),
            token = self.token,
        );
        if let Some(ca) = &self.ca_cert {
            text.push_str(ca.trim_end());
            text.push('\n');
        }
        text
    }

    /// Reads raw file contents, refusing oversized or binary data first.
    ///
    /// # Errors
    /// [`EnrolmentError`], naming the line.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Enrolment, EnrolmentError> {
        if bytes.len() > MAX_ENROLMENT_BYTES {
            return Err(EnrolmentError::TooLarge);
        }
        let bad_at = match std::str::from_utf8(bytes) {
            Ok(text) => text.find('\0'),
            Err(error) => Some(error.valid_up_to()),
        };
        if let Some(offset) = bad_at {
            let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
            return Err(EnrolmentError::NotText { line });
        }
        Enrolment::parse(&String::from_utf8_lossy(bytes))
    }

    /// Parses enrolment text: [`ENROLMENT_MAGIC`], then `node`, `server`,
    /// `expires` and `token` in this order, then optionally PEM
    /// certificates; `#` comments and blank lines anywhere.
    ///
    /// # Errors
    /// [`EnrolmentError`], naming the line.
    pub fn parse(text: &str) -> Result<Enrolment, EnrolmentError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .peekable();
        let last_line = text.lines().count().max(1);
        let shown = |line: &str| line.escape_default().to_string();
        match lines.next() {
            Some((_, ENROLMENT_MAGIC)) => {}
            Some((line, found)) => {
                return Err(EnrolmentError::NotEnrolment {
                    line,
                    found: shown(found),
                });
            }
            None => {
                return Err(EnrolmentError::NotEnrolment {
                    line: last_line,
                    found: "nothing (the file ends)".to_owned(),
                });
            }
        }
        let mut value = |key: &'static str| -> Result<(usize, String), EnrolmentError> {
            let (line, text) = lines.next().unwrap_or((last_line, ""));
            match text
                .split_once(':')
                .filter(|(found, _)| found.trim() == key)
            {
                Some((_, value)) if !value.trim().is_empty() => Ok((line, value.trim().to_owned())),
                _ => Err(EnrolmentError::Expected {
                    line,
                    key,
                    found: if text.is_empty() {
                        "nothing (the file ends)".to_owned()
                    } else {
                        shown(text)
                    },
                }),
            }
        };
        let (line, node) = value("node")?;
        let node = Name::new(NameKind::Node, &node)
            .map_err(|source| EnrolmentError::BadName { line, source })?;
        let (line, server) = value("server")?;
        check_server_url(&server).map_err(|reason| EnrolmentError::BadValue {
            line,
            key: "server",
            reason,
        })?;
        let (line, expires) = value("expires")?;
        let expires_ms = parse_utc(&expires).ok_or_else(|| EnrolmentError::BadValue {
            line,
            key: "expires",
            reason: format!(
                "'{}' is not a UTC time like 2026-12-04T18:41:54Z",
                shown(&expires)
            ),
        })?;
        let (line, token) = value("token")?;
        check_enrolment_token(&token).map_err(|reason| EnrolmentError::BadValue {
            line,
            key: "token",
            reason,
        })?;
        let ca_cert = certificates(&mut lines, last_line)?;
        Ok(Enrolment {
            node,
            server,
            expires_ms,
            token,
            ca_cert,
        })
    }
}

/// The PEM certificates that end the file, if any; nothing else may follow.
fn certificates<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    last_line: usize,
) -> Result<Option<String>, EnrolmentError> {
    let mut pem = String::new();
    let mut open = None;
    for (line, text) in lines {
        match (open, text) {
            (None, BEGIN_CERT) => open = Some(line),
            (None, other) => {
                return Err(EnrolmentError::BadCertificate {
                    line,
                    reason: format!(
                        "expected '{BEGIN_CERT}' or the end of the file, found '{}'",
                        other.escape_default()
                    ),
                });
            }
            (Some(_), END_CERT) => open = None,
            (Some(_), body)
                if body
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')) => {}
            (Some(_), other) => {
                return Err(EnrolmentError::BadCertificate {
                    line,
                    reason: format!(
                        "'{}' is not base64 inside a certificate",
                        other.escape_default()
                    ),
                });
            }
        }
        pem.push_str(text);
        pem.push('\n');
    }
    if let Some(line) = open {
        return Err(EnrolmentError::BadCertificate {
            line: last_line,
            reason: format!("the certificate begun on line {line} has no '{END_CERT}'"),
        });
    }
    Ok((!pem.is_empty()).then_some(pem))
}

/// Refuses a server URL an agent cannot use.
///
/// # Errors
/// What is wrong, as a sentence.
pub fn check_server_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("'{url}' names no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("'{}' holds white space", url.escape_default()));
    }
    Ok(())
}

/// Refuses what is not an enrolment token: [`ENROLMENT_TOKEN_PREFIX`]
/// and 64 hex digits.
///
/// # Errors
/// What is wrong, as a sentence.
pub fn check_enrolment_token(token: &str) -> Result<(), String> {
    match token.strip_prefix(ENROLMENT_TOKEN_PREFIX) {
        Some(hex) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => Err(format!(
            "expected '{ENROLMENT_TOKEN_PREFIX}' and 64 hex digits, found {} characters",
            token.chars().count()
        )),
    }
}

/// Whether a token is an enrolment token (to be traded at first contact)
/// rather than an agent's own.
pub fn is_enrolment_token(token: &str) -> bool {
    token.starts_with(ENROLMENT_TOKEN_PREFIX)
}

/// A lifetime like `24h`, `30m`, `7d` or `3600s`, in milliseconds.
///
/// # Errors
/// What is wrong, as a sentence.
pub fn parse_lifetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ms: i64 = match unit {
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => 24 * 3600 * 1000,
        _ => {
            return Err(format!(
                "'{text}' is not a lifetime; write a number and a unit: 30m, 24h, 7d"
            ));
        }
    };
    let ms = number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| *ms > 0)
        .ok_or_else(|| format!("'{text}' is not a positive lifetime; write e.g. 24h"))?;
    if ms > MAX_LIFETIME_MS {
        return Err(format!(
            "'{text}' is longer than the 30 days an enrolment may last"
        ));
    }
    Ok(ms)
}

/// `2026-12-04T18:41:54Z` from milliseconds since the epoch.
pub fn format_utc(ms: i64) -> String {
    let Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
    } = Civil::of_ms(ms);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Milliseconds since the epoch from `YYYY-MM-DDTHH:MM:SSZ`, exactly as
/// [`format_utc`] writes it.
pub fn parse_utc(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 20 || !text.is_ascii() {
        return None;
    }
    let shape_ok = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ]
    .iter()
    .all(|(at, c)| bytes[*at] == *c);
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = &text[from..to];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if !shape_ok {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000;
    // A day past the month's end (31 April) comes back as another date.
    (format_utc(ms) == text).then_some(ms)
}

/// What the store knows of an enrolment token at first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRecord {
    /// The node it enrols.
    pub node: Name,
    /// When it stops working.
    pub expires_ms: i64,
    /// When it was redeemed, if it was.
    pub used_ms: Option<i64>,
    /// The hash of the token the agent chose when it redeemed it.
    pub agent_hash: Option<String>,
    /// Whether a newer enrolment of the same node was made since.
    pub replaced: bool,
}

/// The verdict on an agent's first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Redeem it now: the agent's token becomes the node's token.
    Redeem,
    /// Redeemed before with the same agent token: the agent crashed after
    /// the server took it and before it kept the answer; nothing to do.
    AlreadyRedeemed,
    /// Refused.
    Refused(EnrolmentRefusal),
}

/// Why an enrolment token cannot be redeemed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentRefusal {
    /// Nobody made it (or its node was removed).
    #[error(
        "the enrolment token is unknown (made for another head node, or its node was removed); make a new enrolment file on the head node: opm node enroll NODE --out FILE"
    )]
    Unknown,
    /// Made for another node.
    #[error(
        "the enrolment file is node {enrolled}'s, and this agent is node {asked} (its opm.conf); use {asked}'s own enrolment file"
    )]
    WrongNode {
        /// The node it enrols.
        enrolled: Name,
        /// The node the agent speaks for.
        asked: Name,
    },
    /// Redeemed before, by another agent token.
    #[error(
        "the enrolment of node {node} was already used at {used}; an enrolment file works once: make a new one on the head node with opm node enroll {node} --out FILE"
    )]
    Used {
        /// The node.
        node: Name,
        /// When it was used, `format_utc`.
        used: String,
    },
    /// A newer enrolment of the node was made since.
    #[error(
        "the enrolment of node {node} was replaced by a newer one; use the newest file 'opm node enroll {node}' wrote"
    )]
    Replaced {
        /// The node.
        node: Name,
    },
    /// Past its time.
    #[error(
        "the enrolment of node {node} expired at {expires}; make a new one on the head node with opm node enroll {node} --out FILE"
    )]
    Expired {
        /// The node.
        node: Name,
        /// When it expired, `format_utc`.
        expires: String,
    },
}

/// Whether `record` (the enrolment a presented token names, if any) may be
/// redeemed now by the agent of `node` that chose the token hashed as
/// `agent_hash`. A retry of the same redemption (same node, same agent
/// token) is recognised even after expiry, so an agent that died between
/// the server's answer and keeping its new token is not locked out.
pub fn judge(
    record: Option<&EnrolmentRecord>,
    node: &Name,
    agent_hash: &str,
    now_ms: i64,
) -> Redemption {
    let Some(record) = record else {
        return Redemption::Refused(EnrolmentRefusal::Unknown);
    };
    if record.node != *node {
        return Redemption::Refused(EnrolmentRefusal::WrongNode {
            enrolled: record.node.clone(),
            asked: node.clone(),
        });
    }
    if let Some(used_ms) = record.used_ms {
        return if record.agent_hash.as_deref() == Some(agent_hash) {
            Redemption::AlreadyRedeemed
        } else {
            Redemption::Refused(EnrolmentRefusal::Used {
                node: record.node.clone(),
                used: format_utc(used_ms),
            })
        };
    }
    if record.replaced {
        return Redemption::Refused(EnrolmentRefusal::Replaced {
            node: record.node.clone(),
        });
    }
    if now_ms >= record.expires_ms {
        return Redemption::Refused(EnrolmentRefusal::Expired {
            node: record.node.clone(),
            expires: format_utc(record.expires_ms),
        });
    }
    Redemption::Redeem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> Name {
        Name::new(NameKind::Node, name).unwrap()
    }

    fn sample(ca: bool) -> Enrolment {
        Enrolment {
            node: n("n1"),
            server: "https://head.cluster:7060".to_owned(),
            expires_ms: 1_796_409_714_000,
            token: format!("{ENROLMENT_TOKEN_PREFIX}{}", "ab".repeat(32)),
            ca_cert: ca.then(|| format!("{BEGIN_CERT}\nTUlJQg==\n{END_CERT}\n")),
        }
    }

    #[test]
    fn a_rendered_file_reads_back_with_and_without_a_ca() {
        for ca in [false, true] {
            let enrolment = sample(ca);
            let text = enrolment.render(&n("head"));
            assert!(text.starts_with("# opm enrolment of node n1"), "{text}");
            assert!(text.contains("expires: 2026-12-04T"), "{text}");
            assert_eq!(Enrolment::parse_bytes(text.as_bytes()).unwrap(), enrolment);
        }
    }

    #[test]
    fn every_error_names_the_line() {
        let good = sample(true).render(&n("head"));
        let err = |text: &str| Enrolment::parse(text).unwrap_err().to_string();
        assert!(err("").starts_with("line 1: expected 'opm-enrolment: 1', found 'nothing"));
        assert!(err("client\nn1\n").contains("this is not an opm enrolment file"));
        let swap = good.replace(
            "node: n1\nserver: https://head.cluster:7060",
            "server: x\nnode: n1",
        );
        assert!(
            err(&swap).starts_with("line 5: expected 'node: ...', found 'server: x'"),
            "{}",
            err(&swap)
        );
        let bad_name = good.replace("node: n1", "node: ../n1");
        assert!(
            err(&bad_name).starts_with("line 5: node name '../n1'"),
            "{}",
            err(&bad_name)
        );
        let bad_url = good.replace("https://head.cluster:7060", "head:7060");
        assert!(
            err(&bad_url).starts_with("line 6: server: 'head:7060' is not"),
            "{}",
            err(&bad_url)
        );
        let bad_time = good.replace("expires: 2026-12-04T", "expires: 2026-12-44T");
        assert!(
            err(&bad_time).starts_with("line 7: expires:"),
            "{}",
            err(&bad_time)
        );
        let bad_token = good.replace("token: enroll-", "token: ");
        assert!(
            err(&bad_token).starts_with("line 8: token: expected 'enroll-'"),
            "{}",
            err(&bad_token)
        );
        let cut = good.replace(END_CERT, "");
        assert!(
            err(&cut).contains("has no '-----END CERTIFICATE-----'"),
            "{}",
            err(&cut)
        );
        let junk = format!("{good}extra: 1\n");
        assert!(
            err(&junk).starts_with("line 12: expected '-----BEGIN CERTIFICATE-----'"),
            "{}",
            err(&junk)
        );
        let truncated: String = good.lines().take(6).collect::<Vec<_>>().join("\n");
        assert!(
            err(&truncated).contains("expected 'expires: ...', found 'nothing (the file ends)'"),
            "{}",
            err(&truncated)
        );
        assert_eq!(
            Enrolment::parse_bytes(b"opm-enrolment: 1\nnode: \xff\n").unwrap_err(),
            EnrolmentError::NotText { line: 2 }
        );
        assert_eq!(
            Enrolment::parse_bytes(&vec![b'#'; MAX_ENROLMENT_BYTES + 1]).unwrap_err(),
            EnrolmentError::TooLarge
        );
    }

    #[test]
    fn times_go_both_ways_and_nonsense_is_refused() {
        for ms in [0, 951_782_400_000, 1_795_000_000_000, 4_102_444_799_000] {
            assert_eq!(parse_utc(&format_utc(ms)), Some(ms), "{ms}");
        }
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        for bad in [
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-04 18:41:54Z",
            "2026-12-04T18:41:54",
            "+026-12-04T18:41:54Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn lifetimes_have_a_unit_and_a_bound() {
        assert_eq!(parse_lifetime("24h"), Ok(DEFAULT_LIFETIME_MS));
        assert_eq!(parse_lifetime("90s"), Ok(90_000));
        assert_eq!(parse_lifetime("30d"), Ok(MAX_LIFETIME_MS));
        for bad in [
            "",
            "24",
            "h",
            "0h",
            "-1h",
            "31d",
            "1w",
            "99999999999999999999d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    fn record() -> EnrolmentRecord {
        EnrolmentRecord {
            node: n("n1"),
            expires_ms: 1000,
            used_ms: None,
            agent_hash: None,
            replaced: false,
        }
    }

    #[test]
    fn a_token_is_redeemed_once_by_its_node_before_it_expires() {
        let fresh = record();
        assert_eq!(judge(Some(&fresh), &n("n1"), "a", 999), Redemption::Redeem);
        assert_eq!(
            judge(None, &n("n1"), "a", 0),
            Redemption::Refused(EnrolmentRefusal::Unknown)
        );
        assert!(matches!(
            judge(Some(&fresh), &n("n2"), "a", 0),
            Redemption::Refused(EnrolmentRefusal::WrongNode { .. })
        ));
        assert!(matches!(
            judge(Some(&fresh), &n("n1"), "a", 1000),
            Redemption::Refused(EnrolmentRefusal::Expired { .. })
        ));
        let replaced = EnrolmentRecord {
            replaced: true,
            ..record()
        };
        assert!(matches!(
            judge(Some(&replaced), &n("n1"), "a", 0),
            Redemption::Refused(EnrolmentRefusal::Replaced { .. })
        ));
        let used = EnrolmentRecord {
            used_ms: Some(500),
            agent_hash: Some("a".to_owned()),
            ..record()
        };
        // The same agent asking again, even after expiry: it died before
        // keeping the answer, and must not be locked out.
        assert_eq!(
            judge(Some(&used), &n("n1"), "a", 5000),
            Redemption::AlreadyRedeemed
        );
        assert!(matches!(
            judge(Some(&used), &n("n1"), "b", 0),
            Redemption::Refused(EnrolmentRefusal::Used { .. })
        ));
        // Another node never learns it was redeemed.
        assert!(matches!(
            judge(Some(&used), &n("n2"), "a", 0),
            Redemption::Refused(EnrolmentRefusal::WrongNode { .. })
        ));
    }
}
