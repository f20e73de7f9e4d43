//! `opm server tls init [--names ...] [--dir DIR]`: a small CA and a server
//! certificate for the head node's names (`opm_api::tls_init` makes and
//! writes them), and on stdout the settings lines that use them, so
//! `opm server tls init >> /etc/opm/opm.toml` does the rest.

use std::path::PathBuf;

use opm_api::tls_init::{self, TlsInitError};
use opm_engine::{Clock as _, SystemClock};

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime;
use crate::settings::Settings;

/// The port the printed lines name: opm server's default.
const PORT: u16 = 7060;

fn tls_error(error: TlsInitError) -> anyhow::Error {
    match error {
        TlsInitError::Write { .. } | TlsInitError::Make(_) => anyhow::Error::new(error),
        _ => bad_input(error.to_string()),
    }
}

/// A TOML string: the value quoted, `\` and `"` escaped.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Runs `opm server tls init`.
pub fn run(
    names: Option<&str>,
    dir: Option<PathBuf>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    // The head node's name names the CA, and is the one name by default.
    let head = runtime::identity(settings).map(|me| me.name.to_string());
    let names = match (names, &head) {
        (Some(names), _) => tls_init::parse_names(names).map_err(tls_error)?,
        (None, Ok(head)) => vec![head.clone()],
        (None, Err(error)) => {
            return Err(bad_input(format!(
                "{error:#}; or pass --names with the names nodes reach the head node by"
            )));
        }
    };
    let head = head.unwrap_or_else(|_| names[0].clone());
    let dir = match dir {
        Some(dir) => dir,
        None => settings
            .settings_file
            .parent()
            .map_or_else(|| PathBuf::from("tls"), |parent| parent.join("tls")),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let made = tls_init::make(&names, &head, SystemClock.now_ms()).map_err(tls_error)?;
    let written = tls_init::write(&dir, &made).map_err(tls_error)?;
    if printer.json() {
        printer.print_json(&written)?;
        return Ok(Exit::Success);
    }
    let path = |path: &PathBuf| quoted(&path.display().to_string());
    printer.line(format_args!(
        "# opm server tls init: a CA and a certificate for {} in {}",
        names.join(", "),
        dir.display()
    ));
    printer.line(format_args!(
        "# (ca.key signs certificates: keep it). Lines for the head node's settings file ({}):",
        settings.settings_file.display()
    ));
    printer.line(format_args!(
        "listen = {}",
        quoted(&format!("0.0.0.0:{PORT}"))
    ));
    printer.line(format_args!("tls_cert = {}", path(&written.server_cert)));
    printer.line(format_args!("tls_key = {}", path(&written.server_key)));
    printer.line(format_args!("ca_cert = {}", path(&written.ca_cert)));
    let host = if names[0].contains(':') {
        format!("[{}]", names[0])
    } else {
        names[0].clone()
    };
    printer.line(format_args!(
        "server_url = {}",
        quoted(&format!("https://{host}:{PORT}"))
    ));
    Ok(Exit::Success)
}
