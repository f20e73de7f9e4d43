//! `opm conf check`: validate an opm.conf.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use opm_model::{MAX_CONF_BYTES, OpmConf};
use serde::Serialize;

use crate::cli::ConfCommand;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

#[derive(Serialize)]
struct ConfReport<'a> {
    role: &'a str,
    name: &'a str,
}

/// Runs `opm conf ...`.
pub fn run(command: ConfCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ConfCommand::Check { path } => {
            let path = path.unwrap_or_else(|| settings.conf.clone());
            let bytes = read_capped(&path)
                .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
            let conf = OpmConf::parse_bytes(&bytes)
                .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
            if printer.json() {
                printer.print_json(&ConfReport {
                    role: conf.role.name(),
                    name: conf.name.as_str(),
                })?;
            } else {
                printer.line(format_args!("role: {}", conf.role));
                printer.line(format_args!("name: {}", conf.name));
            }
            Ok(Exit::Success)
        }
    }
}

/// Reads an opm.conf for every command that does: at most one byte more
/// than an opm.conf may hold, so a huge or endless file (`/dev/zero`) is
/// refused instead of read into memory. A
/// named pipe or a socket is refused before it is opened: opening a pipe
/// nobody writes to waits forever.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let kind = std::fs::metadata(path)?.file_type();
    let unreadable = if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(kind) = unreadable {
        return Err(std::io::Error::other(format!(
            "it is {kind}, not a file; give the path of the opm.conf file itself"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONF_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
