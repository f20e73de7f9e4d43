//! Bytes to text, per the XML declaration (XML 1.0 §4.3.3 and appendix F).
//!
//! Every real config.xml declares ISO-8859-1, and some of them hold UTF-8
//! bytes anyway (an editor that ignored the declaration). Read literally,
//! those turn into mojibake (`Ã©`); since valid UTF-8 almost never happens
//! by chance in Latin-1 text, such files are read as UTF-8 with a warning.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::error::Severity;

/// A finding about the encoding, at a byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    /// Byte offset into the raw input.
    pub offset: usize,
    /// Warning or error.
    pub severity: Severity,
    /// What happened.
    pub message: String,
}

/// The decoded text, or the error that made decoding impossible, plus
/// warnings either way. Offsets of warnings refer to the raw bytes; the
/// caller maps them to line and column with [`line_column`].
pub(crate) fn decode(bytes: &[u8]) -> (Option<String>, Vec<Note>) {
    let mut notes = Vec::new();
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            notes.push(Note {
                offset: 0,
                severity: Severity::Error,
                message: format!(
                    "the file starts with a {} byte-order mark but is not valid {}",
                    encoding.name(),
                    encoding.name()
                ),
            });
            return (None, notes);
        }
        return (Some(text.into_owned()), notes);
    }
    let declared = match declared_encoding(bytes) {
        Ok(declared) => declared,
        Err(note) => {
            notes.push(note);
            return (None, notes);
        }
    };
    let encoding = match declared {
        None => UTF_8,
        Some((ref label, offset)) => match Encoding::for_label(label.as_bytes()) {
            Some(encoding) => encoding,
            None => {
                notes.push(Note {
                    offset,
                    severity: Severity::Error,
                    message: format!(
                        "unknown encoding '{label}' in the XML declaration; use ISO-8859-1 or UTF-8"
                    ),
                });
                return (None, notes);
            }
        },
    };
    // A declaration we could read as ASCII cannot be UTF-16 text.
    let encoding = if encoding == UTF_16LE || encoding == UTF_16BE {
        if let Some((label, offset)) = &declared {
            notes.push(Note {
                offset: *offset,
                severity: Severity::Warning,
                message: format!(
                    "the XML declaration says '{label}' but the file is not UTF-16; read as UTF-8"
                ),
            });
        }
        UTF_8
    } else {
        encoding
    };
    if encoding == UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_owned()), notes),
            Err(error) => {
                notes.push(Note {
                    offset: error.valid_up_to(),
                    severity: Severity::Error,
                    message: "invalid UTF-8 byte sequence; declare encoding=\"ISO-8859-1\" if the file is Latin-1, or re-encode it".to_owned(),
                });
                (None, notes)
            }
        };
    }
    if encoding == WINDOWS_1252
        && !bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        let offset = bytes.iter().position(|b| !b.is_ascii()).unwrap_or(0);
        notes.push(Note {
            offset,
            severity: Severity::Warning,
            message: "the file declares ISO-8859-1 but holds UTF-8 text; read as UTF-8 (fix the declaration to encoding=\"UTF-8\")".to_owned(),
        });
        return (Some(text.to_owned()), notes);
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        notes.push(Note {
            offset: 0,
            severity: Severity::Warning,
            message: format!(
                "some bytes are not valid {}; they were replaced by U+FFFD",
                encoding.name()
            ),
        });
    }
    (Some(text.into_owned()), notes)
}

/// The `encoding` pseudo-attribute of the XML declaration, with its byte
/// offset, if there is a declaration that names one.
fn declared_encoding(bytes: &[u8]) -> Result<Option<(String, usize)>, Note> {
    if !bytes.starts_with(b"<?xml") {
        return Ok(None);
    }
    let Some(end) = find(bytes, b"?>") else {
        return Err(Note {
            offset: 0,
            severity: Severity::Error,
            message: "the XML declaration is not closed with '?>'".to_owned(),
        });
    };
    let declaration = &bytes[..end];
    let Some(key) = find(declaration, b"encoding") else {
        return Ok(None);
    };
    let mut rest = key + b"encoding".len();
    while rest < declaration.len() && declaration[rest].is_ascii_whitespace() {
        rest += 1;
    }
    let malformed = || Note {
        offset: key,
        severity: Severity::Error,
        message: "malformed encoding in the XML declaration; write encoding=\"ISO-8859-1\""
            .to_owned(),
    };
    if declaration.get(rest) != Some(&b'=') {
        return Err(malformed());
    }
    rest += 1;
    while rest < declaration.len() && declaration[rest].is_ascii_whitespace() {
        rest += 1;
    }
    let quote = match declaration.get(rest) {
        Some(q @ (b'"' | b'\'')) => *q,
        _ => return Err(malformed()),
    };
    let start = rest + 1;
    let Some(len) = declaration[start..].iter().position(|b| *b == quote) else {
        return Err(malformed());
    };
    let label = &declaration[start..start + len];
    if label.is_empty() || !label.is_ascii() {
        return Err(malformed());
    }
    Ok(Some((String::from_utf8_lossy(label).into_owned(), start)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// 1-based line and character column of byte `offset` in `text` (an offset
/// inside a character counts as that character).
pub(crate) fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (saturate(line), saturate(column))
}

/// Line and column of a byte offset into raw bytes that may not be text.
pub(crate) fn line_column_bytes(bytes: &[u8], offset: usize) -> (u32, u32) {
    let prefix = String::from_utf8_lossy(&bytes[..offset.min(bytes.len())]);
    line_column(&prefix, prefix.len())
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        decode(bytes).0.unwrap()
    }

    #[test]
    fn latin1_declaration_decodes_latin1_bytes() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>";
        let (decoded, notes) = decode(bytes);
        assert_eq!(
            decoded.unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\u{e9}</a>"
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn utf8_bytes_under_latin1_declaration_are_read_as_utf8_with_a_warning() {
        let bytes = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a>Énergie</a>".as_bytes();
        let (decoded, notes) = decode(bytes);
        assert!(decoded.unwrap().contains("Énergie"));
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].severity, Severity::Warning);
        assert_eq!(line_column_bytes(bytes, notes[0].offset), (2, 4));
    }

    #[test]
    fn no_declaration_means_utf8() {
        assert_eq!(text("<a>é</a>".as_bytes()), "<a>é</a>");
        let (decoded, notes) = decode(b"<a>\n\xff</a>");
        assert!(decoded.is_none());
        assert_eq!(notes[0].severity, Severity::Error);
        assert_eq!(line_column_bytes(b"<a>\n\xff</a>", notes[0].offset), (2, 1));
    }

    #[test]
    fn boms_win() {
        let mut utf16 = vec![0xff, 0xfe];
        for unit in "<a>é</a>".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        assert_eq!(text(&utf16), "<a>é</a>");
        assert_eq!(text(b"\xef\xbb\xbf<a/>"), "<a/>");
    }

    #[test]
    fn bad_declarations_are_errors() {
        for bytes in [
            &b"<?xml version=\"1.0\" encoding=\"klingon\"?><a/>"[..],
            b"<?xml version=\"1.0\" encoding=ISO-8859-1?><a/>",
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"",
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1><a/>",
        ] {
            let (decoded, notes) = decode(bytes);
            assert!(decoded.is_none(), "{}", String::from_utf8_lossy(bytes));
            assert_eq!(notes[0].severity, Severity::Error);
        }
        assert_eq!(
            text(b"<?xml version='1.0' encoding = 'utf-8' ?><a/>"),
            "<?xml version='1.0' encoding = 'utf-8' ?><a/>"
        );
    }

    #[test]
    fn utf16_label_on_ascii_bytes_is_read_as_utf8() {
        let (decoded, notes) = decode(b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>");
        assert!(decoded.is_some());
        assert_eq!(notes[0].severity, Severity::Warning);
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("ab\ncdé", 7), (2, 4));
        assert_eq!(line_column("ab\ncdé", 6), (2, 3));
        assert_eq!(line_column("é", 1), (1, 1));
        assert_eq!(line_column("", 10), (1, 1));
    }
}
