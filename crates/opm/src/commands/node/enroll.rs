//! `opm node enroll NAME --out FILE` (and `opm node add --enroll FILE`):
//! an enrolment file for a compute node's agent. What goes into it is
//! resolved here from the flags and the settings; making and writing it
//! is `opm_api::enrol::issue`.

use std::path::{Path, PathBuf};

use opm_api::enrol::{self, Issue, Issued};
use opm_engine::{Clock as _, SystemClock};
use opm_model::{Name, Role};
use opm_store::{AnyStore, OpenMode};

use crate::cli::EnrolmentArgs;
use crate::exit::{Exit, bad_input, enrol_error};
use crate::printer::Printer;
use crate::runtime;
use crate::settings::Settings;
use crate::state::block_on;

/// An enrolment checked and ready to be written, with the head node's name.
pub struct Planned {
    issue: Issue,
    head: Name,
}

/// Resolves and checks everything an enrolment of `node` into `out`
/// needs, before anything is changed: this is the head node, the URL,
/// the CA certificate when the URL is https, no file in the way.
pub fn plan(
    node: Name,
    out: &Path,
    args: &EnrolmentArgs,
    settings: &Settings,
) -> anyhow::Result<Planned> {
    let me = runtime::identity(settings)?;
    if me.role != Role::Server {
        return Err(bad_input(format!(
            "enrolment files are made on the head node, and {} says this machine is {} {}",
            settings.conf.display(),
            me.role,
            me.name
        )));
    }
    let server = args
        .server_url
        .clone()
        .or_else(|| settings.server_url.clone())
        .ok_or_else(|| {
            bad_input(format!(
                "no URL for the node to reach opm server at: pass --server-url https://HEAD:7060, \
                 or set server_url in the settings file ({})",
                settings.settings_file.display()
            ))
        })?;
    enrol::check_server(&server).map_err(enrol_error)?;
    enrol::check_out(out, args.overwrite).map_err(enrol_error)?;
    let ca_cert = match &settings.ca_cert {
        Some(path) if server.starts_with("https://") => {
            Some(enrol::read_ca(path).map_err(enrol_error)?)
        }
        _ => None,
    };
    Ok(Planned {
        issue: Issue {
            node,
            server,
            ca_cert,
            lifetime_ms: args.expires,
            out: out.to_path_buf(),
            overwrite: args.overwrite,
        },
        head: me.name,
    })
}

/// Writes a planned enrolment.
pub async fn issue(store: &AnyStore, planned: &Planned) -> anyhow::Result<Issued> {
    enrol::issue(store, &planned.issue, &planned.head, SystemClock.now_ms())
        .await
        .map_err(enrol_error)
}

/// Says what [`issue`] wrote, and what to do with it, in words.
pub fn say(issued: &Issued, printer: Printer) {
    let ca = if issued.ca_cert {
        " with the CA certificate"
    } else {
        ""
    };
    printer.line(format_args!(
        "wrote {}: node {}'s enrolment for {}{ca}; it works once, until {}",
        issued.file.display(),
        issued.node,
        issued.server,
        issued.expires
    ));
    printer.line(format_args!(
        "copy it to {} and run there, as root: opm agent enroll {}",
        issued.node,
        file_name(&issued.file).display()
    ));
}

/// The file's own name, as it is after copying it to the node.
fn file_name(path: &Path) -> PathBuf {
    path.file_name()
        .map_or_else(|| path.to_path_buf(), PathBuf::from)
}

/// Runs `opm node enroll`.
pub fn run(
    name: Name,
    out: &Path,
    args: &EnrolmentArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let planned = plan(name, out, args, settings)?;
    let issued = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let issued = issue(&store, &planned).await;
        store.close().await;
        issued
    })?;
    if printer.json() {
        printer.print_json(&issued)?;
    } else {
        say(&issued, printer);
    }
    Ok(Exit::Success)
}
