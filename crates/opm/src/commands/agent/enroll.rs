//! `opm agent enroll FILE`: make this machine the node an enrolment file
//! names. Reading and installing the file is `opm_api::enrol`; here the
//! destinations are taken from the settings in force and the settings
//! file is told where they are.

use std::path::{Path, PathBuf};

use opm_api::enrol::{self, Destinations};
use opm_engine::{Clock as _, SystemClock};

use crate::exit::{Exit, enrol_error};
use crate::printer::Printer;
use crate::settings::{DEFAULT_CA_CERT, DEFAULT_TOKEN_FILE, Settings, write_keys};

/// Runs `opm agent enroll`.
pub fn run(
    file: &Path,
    force: bool,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let enrolment = enrol::read_enrolment(file).map_err(enrol_error)?;
    let absolute = |path: PathBuf| std::path::absolute(&path).unwrap_or(path);
    let to = Destinations {
        conf: settings.conf.clone(),
        token_file: absolute(
            settings
                .token_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_TOKEN_FILE)),
        ),
        ca_cert: absolute(
            settings
                .ca_cert
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CA_CERT)),
        ),
    };
    let installed =
        enrol::install(&enrolment, file, &to, force, SystemClock.now_ms()).map_err(enrol_error)?;
    let mut keys = vec![
        ("server", installed.server.clone()),
        ("token_file", installed.token_file.display().to_string()),
    ];
    if let Some(ca) = &installed.ca_cert {
        keys.push(("ca_cert", ca.display().to_string()));
    }
    write_keys(&settings.settings_file, &keys)?;
    if printer.json() {
        printer.print_json(&installed)?;
        return Ok(Exit::Success);
    }
    printer.line(format_args!(
        "enrolled this machine as node {} of {} (the enrolment works once, until {})",
        installed.node, installed.server, installed.expires
    ));
    printer.line(format_args!(
        "  {}: client {}",
        installed.conf.display(),
        installed.node
    ));
    printer.line(format_args!(
        "  {}: the enrolment's token; the agent trades it for its own at first contact",
        installed.token_file.display()
    ));
    if let Some(ca) = &installed.ca_cert {
        printer.line(format_args!(
            "  {}: the CA certificate that vouches for the server",
            ca.display()
        ));
    }
    let names: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
    printer.line(format_args!(
        "  {}: {}",
        settings.settings_file.display(),
        names.join(", ")
    ));
    printer.line("start the agent now and at every boot:");
    printer.line("  systemctl enable --now opm-agent");
    Ok(Exit::Success)
}
