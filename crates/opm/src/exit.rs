//! Exit codes (SPEC §4) and how errors map onto them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the work failed or rows are in error |
//! | 2 | bad usage or bad input; nothing changed |
//! | 3 | work remains blocked |

use std::process::ExitCode;

/// The process outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: the work failed or rows are in error.
    Failed = 1,
    /// 2: bad usage or bad input; nothing changed.
    BadInput = 2,
    /// 3: work remains blocked.
    Blocked = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error caused by what the user gave us (exit 2): nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Shorthand for a bad-input error.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

/// Prints an error chain on stderr and maps the outcome to an exit code.
pub fn report(outcome: anyhow::Result<Exit>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("error: {}", cut_long_values(&format!("{error:#}")));
            if error.downcast_ref::<BadInput>().is_some() {
                Exit::BadInput.into()
            } else {
                Exit::Failed.into()
            }
        }
    }
}

/// Longest word an error message shows whole, in bytes.
const LONGEST_SHOWN: usize = 256;

/// `message` with every word (a run without white space) longer than
/// [`LONGEST_SHOWN`] bytes cut to its start and end with the number of
/// bytes left out: an error that echoes a 100 KB argument stays readable,
/// and still shows which argument it was.
pub fn cut_long_values(message: &str) -> String {
    let mut shown = String::with_capacity(message.len().min(4 * 1024));
    let mut rest = message;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        shown.push_str(&cut_word(word));
        let space_end = after
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(after.len());
        shown.push_str(&after[..space_end]);
        rest = &after[space_end..];
    }
    shown
}

/// One word, cut when longer than [`LONGEST_SHOWN`] bytes.
fn cut_word(word: &str) -> std::borrow::Cow<'_, str> {
    if word.len() <= LONGEST_SHOWN {
        return std::borrow::Cow::Borrowed(word);
    }
    let mut head = 96;
    while !word.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = word.len() - 32;
    while !word.is_char_boundary(tail) {
        tail += 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}[... {} bytes cut ...]{}",
        &word[..head],
        tail - head,
        &word[tail..]
    ))
}

/// An enrolment's refusal or failure: what the admin gave (a file, a
/// node, a URL) is exit 2, a file that cannot be written is exit 1.
pub fn enrol_error(error: opm_api::enrol::EnrolError) -> anyhow::Error {
    if error.is_bad_input() {
        bad_input(error.to_string())
    } else {
        anyhow::Error::new(error)
    }
}

#[cfg(test)]
mod tests {
    use super::cut_long_values;

    #[test]
    fn long_words_are_cut_and_the_rest_is_kept() {
        let short = "unknown opkg 'pkg'; import it first\n  with 'opm opkg import'";
        assert_eq!(cut_long_values(short), short);
        let long = format!("head-{}-tail", "a".repeat(100_000));
        let message = format!("unknown opkg '{long}'; import it first\nnext line");
        let shown = cut_long_values(&message);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.starts_with("unknown opkg 'head-aaa"), "{shown}");
        assert!(
            shown.ends_with("aaa-tail'; import it first\nnext line"),
            "{shown}"
        );
        let cut = message.len() - shown.len() + "[... 99888 bytes cut ...]".len();
        assert!(
            shown.contains(&format!("[... {cut} bytes cut ...]")),
            "{shown}"
        );
        // Never inside a character.
        let wide = "é".repeat(1000);
        assert!(cut_long_values(&wide).contains("bytes cut"));
    }
}
