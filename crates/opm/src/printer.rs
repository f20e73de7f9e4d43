//! Output on stdout: human text or JSON, chosen once from the settings.
//! Tables are plain text without borders so they read well in a terminal
//! and stay easy to `grep`/`awk` in scripts that do not use `--json`.

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

/// Writes `text` to stdout. A reader that has gone away (`opm status |
/// head`) ends the command quietly, as it would end `cat`, instead of a
/// panic; any other write error is said on stderr the same way.
pub fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write the output: {error}");
            std::process::exit(1);
        }
        std::process::exit(0);
    }
}

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
        out(&format!("{}\n", serde_json::to_string_pretty(value)?));
        Ok(())
    }

    /// Prints a line of human text on stdout.
    pub fn line(&self, text: impl std::fmt::Display) {
        out(&format!("{text}\n"));
    }

    /// Prints rows under a header as an aligned table on stdout; prints
    /// `empty` instead when there are no rows.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>, empty: &str) {
        if rows.is_empty() {
            out(&format!("{empty}\n"));
            return;
        }
        out(&format!("{}\n", render_table(header, rows)));
    }
}

/// An aligned, borderless table; lines carry no trailing spaces.
pub fn render_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::render_table;

    #[test]
    fn table_aligns_columns_without_trailing_space() {
        let text = render_table(
            &["target", "package"],
            vec![
                vec!["node n1".to_owned(), "slurm".to_owned()],
                vec!["image oscarimage".to_owned(), "c3".to_owned()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|line| !line.ends_with(' ')));
        let column = lines[0].find("PACKAGE").unwrap();
        assert_eq!(lines[1].find("slurm"), Some(column));
        assert_eq!(lines[2].find("c3"), Some(column));
    }
}
