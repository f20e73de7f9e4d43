//! Asking before a command takes rows or nodes away, on a terminal only:
//! scripts and pipes are never asked (and `-y` skips the question).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::exit::bad_input;

/// Whether a person can be asked: stdin and stderr are terminals.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on stderr; anything but yes leaves everything as it
/// was (bad input: nothing changed).
///
/// # Errors
/// The answer was not yes, or stdin could not be read.
pub fn ask(question: &str) -> anyhow::Result<()> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(bad_input(
            "not confirmed; nothing was changed (pass -y to skip the question)",
        ))
    }
}
