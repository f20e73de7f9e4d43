//! `opm init`: create or migrate the database and register the head node
//! named by this machine's opm.conf. Only a server runs it: the head node is
//! the one machine that owns the database.

use std::path::Path;

use opm_model::{OpmConf, Role};
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

#[derive(Serialize)]
struct InitReport {
    database: String,
    head_node: String,
}

/// Runs `opm init`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    // opm.conf is judged before the database is touched, so a refusal
    // leaves no file behind.
    let conf = read_conf(&settings.conf)?;
    require_server(&conf, settings)?;
    let database = if settings.is_postgres() {
        settings.shown_db()
    } else {
        let path = settings.sqlite_path()?;
        if let Some(parent) = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && !p.is_dir())
        {
            return Err(bad_input(format!(
                "{}: the directory for the database does not exist; create it or point --db elsewhere",
                parent.display()
            )));
        }
        create_private(&path)?;
        path.display().to_string()
    };
    block_on(async {
        let store = settings.open_store(OpenMode::Create).await?;
        store.migrate().await.map_err(store_error)?;
        store
            .register_head_node(&conf.name)
            .await
            .map_err(store_error)?;
        store.close().await;
        Ok(())
    })?;
    let report = InitReport {
        database,
        head_node: conf.name.to_string(),
    };
    if printer.json() {
        printer.print_json(&report)?;
    } else {
        printer.line(format_args!(
            "database {} ready; head node {}",
            report.database, report.head_node
        ));
    }
    Ok(Exit::Success)
}

fn require_server(conf: &OpmConf, settings: &Settings) -> anyhow::Result<()> {
    if conf.role == Role::Server {
        return Ok(());
    }
    Err(bad_input(format!(
        "{}: this machine is {} '{}', but opm init runs on the head node only \
         (opm.conf must say 'server'); on a {} run 'opm agent' or 'opm run' instead",
        settings.conf.display(),
        conf.role,
        conf.name,
        conf.role
    )))
}

/// Creates the SQLite file readable by its owner alone before SQLite
/// opens it: it holds configuration values, script output and node token
/// digests, and SQLite gives its -wal and -shm files the same mode. An
/// existing file is left as it is.
fn create_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(bad_input(format!(
            "cannot create {}: {error}",
            path.display()
        ))),
    }
}

/// Reads opm.conf strictly; a missing or malformed file is bad input (see
/// `opm conf check` for how it is read).
fn read_conf(path: &Path) -> anyhow::Result<OpmConf> {
    let bytes = crate::runtime::read_capped(path).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e}; point --conf at this machine's opm.conf",
            path.display()
        ))
    })?;
    OpmConf::parse_bytes(&bytes).map_err(|e| bad_input(format!("{}: {e}", path.display())))
}
