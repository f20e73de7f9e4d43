//! `opm settings`: show what flags, environment, file and defaults add up to.

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Prints the resolved settings.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    if printer.json() {
        printer.print_json(settings)?;
        return Ok(Exit::Success);
    }
    let backend = settings
        .backend
        .and_then(|b| serde_json::to_value(b).ok())
        .and_then(|v| v.as_str().map(str::to_owned));
    match settings.db {
        Some(_) => printer.line(format_args!("db: {}", settings.shown_db())),
        None => printer.line(format_args!("db: (default)")),
    }
    printer.line(format_args!("conf: {}", settings.conf.display()));
    printer.line(format_args!("root: {}", settings.root.display()));
    printer.line(format_args!("repo: {}", settings.repos.join(", ")));
    printer.line(format_args!(
        "backend: {}",
        backend.as_deref().unwrap_or("(detect)")
    ));
    printer.line(format_args!(
        "side_by_side_scripts: {}",
        settings.side_by_side_scripts
    ));
    printer.line(format_args!(
        "verify_interval: {}",
        settings.verify_interval
    ));
    match &settings.drain_commands {
        Some([drain, drained, resume]) => {
            printer.line(format_args!("drain_command: {drain}"));
            printer.line(format_args!("drained_command: {drained}"));
            printer.line(format_args!("resume_command: {resume}"));
        }
        None => printer.line(format_args!("drain_command: (none: nodes are not drained)")),
    }
    printer.line(format_args!("drain_timeout: {}", settings.drain_timeout));
    let script_env: Vec<String> = settings
        .script_env
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    printer.line(format_args!("script_env: {}", script_env.join(", ")));
    printer.line(format_args!(
        "script_env_pass: {}",
        settings.script_env_pass.join(", ")
    ));
    printer.line(format_args!("verbosity: {}", settings.verbosity));
    Ok(Exit::Success)
}
