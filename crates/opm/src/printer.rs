//! Output on stdout: human text or JSON, chosen once from the settings.

use serde::Serialize;

/// Where command results go.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
}

impl Printer {
    /// A printer for human text, or for JSON when `json` is set.
    pub fn new(json: bool) -> Printer {
        Printer { json }
    }

    /// Whether machine-readable output was asked for.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints `value` as one JSON document on stdout.
    pub fn print_json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// Prints a line of human text on stdout.
    pub fn line(&self, text: impl std::fmt::Display) {
        println!("{text}");
    }
}
