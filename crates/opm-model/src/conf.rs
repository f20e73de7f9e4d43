//! The strict reader of `/etc/opm.conf` (SPEC §1.6): exactly two lines, the
//! role and the name of this node or image.

use serde::{Deserialize, Serialize};

use crate::name::{Name, NameError, NameKind};
use crate::role::Role;

/// The largest opm.conf read, in bytes: two names of at most
/// [`crate::MAX_NAME_LEN`] bytes and some whitespace fit many times over,
/// and a reader stops here instead of swallowing an endless file.
pub const MAX_CONF_BYTES: usize = 4096;

/// The parsed contents of an opm.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpmConf {
    /// What this machine is.
    pub role: Role,
    /// The name of this node (server, client) or image (image).
    pub name: Name,
}

/// Why an opm.conf was refused; every variant names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    /// More than [`MAX_CONF_BYTES`] bytes.
    #[error("larger than {MAX_CONF_BYTES} bytes; an opm.conf is two short lines")]
    TooLarge,
    /// The bytes are not UTF-8 text or hold a NUL byte.
    #[error("line {line}: expected text, found binary data")]
    NotText {
        /// The line holding the first bad byte.
        line: usize,
    },
    /// A line is missing or blank.
    #[error("line {line}: expected {expected}, found {found}")]
    Missing {
        /// The line.
        line: usize,
        /// What should be there.
        expected: &'static str,
        /// `nothing (the file ends)` or `an empty line`.
        found: &'static str,
    },
    /// The first line is not a role.
    #[error("line 1: expected the role (server, client or image), found '{found}'")]
    UnknownRole {
        /// What was there.
        found: String,
    },
    /// The second line is not a valid name.
    #[error("line 2: {source}")]
    BadName {
        /// The broken rule.
        source: NameError,
    },
    /// More than two lines.
    #[error("line {line}: expected the end of the file after the name, found '{found}'")]
    ExtraLine {
        /// The first extra line.
        line: usize,
        /// What was there.
        found: String,
    },
}

const ROLE: &str = "the role (server, client or image)";
const NAME: &str = "the name of this node or image";

impl OpmConf {
    /// Reads raw file contents, refusing oversized or binary data before
    /// parsing. A reader may pass the first `MAX_CONF_BYTES + 1` bytes of
    /// a file; more than the maximum is refused either way.
    pub fn parse_bytes(bytes: &[u8]) -> Result<OpmConf, ConfError> {
        if bytes.len() > MAX_CONF_BYTES {
            return Err(ConfError::TooLarge);
        }
        let bad_at = match std::str::from_utf8(bytes) {
            Ok(text) => text.find('\0'),
            Err(error) => Some(error.valid_up_to()),
        };
        if let Some(offset) = bad_at {
            let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
            return Err(ConfError::NotText { line });
        }
        // Checked above: the bytes are valid UTF-8.
        OpmConf::parse(&String::from_utf8_lossy(bytes))
    }

    /// Parses opm.conf text. Whitespace around each value and blank lines at
    /// the end are fine; anything else is an error naming the line.
    pub fn parse(text: &str) -> Result<OpmConf, ConfError> {
        let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let value = |index: usize, expected: &'static str| match lines.get(index) {
            None => Err(ConfError::Missing {
                line: index + 1,
                expected,
                found: "nothing (the file ends)",
            }),
            Some(&"") => Err(ConfError::Missing {
                line: index + 1,
                expected,
                found: "an empty line",
            }),
            Some(l) => Ok(*l),
        };
        let role_text = value(0, ROLE)?;
        let role: Role = role_text.parse().map_err(|_| ConfError::UnknownRole {
            found: role_text.escape_default().to_string(),
        })?;
        let name_text = value(1, NAME)?;
        let kind = if role == Role::Image {
            NameKind::Image
        } else {
            NameKind::Node
        };
        let name = Name::new(kind, name_text).map_err(|source| ConfError::BadName { source })?;
        if let Some(extra) = lines.get(2) {
            return Err(ConfError::ExtraLine {
                line: 3,
                found: extra.escape_default().to_string(),
            });
        }
        Ok(OpmConf { role, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (Role, String) {
        let conf = OpmConf::parse(text).unwrap();
        (conf.role, conf.name.to_string())
    }

    fn err(text: &str) -> String {
        OpmConf::parse_bytes(text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_two_lines_are_read() {
        assert_eq!(
            ok("client\noscarnode1\n"),
            (Role::Client, "oscarnode1".into())
        );
        assert_eq!(ok("server\nhead"), (Role::Server, "head".into()));
        assert_eq!(
            ok("  image \r\n\toscarimage  \r\n\n  \n"),
            (Role::Image, "oscarimage".into())
        );
    }

    #[test]
    fn every_error_names_the_line_and_what_was_expected() {
        assert_eq!(
            err(""),
            "line 1: expected the role (server, client or image), found nothing (the file ends)"
        );
        assert_eq!(
            err("client\n"),
            "line 2: expected the name of this node or image, found nothing (the file ends)"
        );
        assert_eq!(
            err("client\n\nnode1\n"),
            "line 2: expected the name of this node or image, found an empty line"
        );
        assert_eq!(
            err("\nclient\nnode1\n"),
            "line 1: expected the role (server, client or image), found an empty line"
        );
        assert_eq!(
            err("client\nnode1\nextra\n"),
            "line 3: expected the end of the file after the name, found 'extra'"
        );
        assert_eq!(
            err("worker\nnode1\n"),
            "line 1: expected the role (server, client or image), found 'worker'"
        );
        assert_eq!(
            err("Client\nnode1\n"),
            "line 1: expected the role (server, client or image), found 'Client'"
        );
        assert!(
            err("client\nmy node\n").starts_with("line 2: node name 'my node' contains a space")
        );
        assert!(err("client\n../etc\n").starts_with("line 2: node name '../etc' must start"));
        assert!(err("client\nn;rm\n").contains("';' at position 2"));
        assert!(err("image\na/b\n").starts_with("line 2: image name 'a/b' contains a slash"));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let mut padded = b"client\nnode1\n".to_vec();
        padded.resize(MAX_CONF_BYTES, b' ');
        assert!(OpmConf::parse_bytes(&padded).is_ok());
        padded.push(b' ');
        assert_eq!(OpmConf::parse_bytes(&padded), Err(ConfError::TooLarge));
        assert_eq!(
            ConfError::TooLarge.to_string(),
            "larger than 4096 bytes; an opm.conf is two short lines"
        );
    }

    #[test]
    fn binary_garbage_is_not_text() {
        let error = OpmConf::parse_bytes(b"client\n\xff\xfe\x00garbage").unwrap_err();
        assert_eq!(error, ConfError::NotText { line: 2 });
        assert_eq!(
            OpmConf::parse_bytes(b"client\nn\0de")
                .unwrap_err()
                .to_string(),
            "line 2: expected text, found binary data"
        );
    }
}
