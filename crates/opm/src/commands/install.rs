//! `opm install PKG... [--group G]`: request opkgs `finished` on the head
//! node and its images; compute nodes of the group follow at
//! run-script-post-clients (SPEC §1.4). Decided by the same rules as the
//! engine, checked in full, then written.

use opm_engine::requests;

use super::request::{print_changes, with_store};
use crate::cli::InstallArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::{load, now_ms, request_error};

/// Runs `opm install PKG... [--group G]`.
pub fn run(args: InstallArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let packages = requests::unique(args.packages);
    let changes = with_store(settings, async |store| {
        let mut snapshot = load(store).await?;
        let changes = requests::install(
            store,
            &mut snapshot,
            &packages,
            args.group.clone(),
            now_ms(),
        )
        .await
        .map_err(request_error)?;
        for (package, dependency) in snapshot.missing_dependencies(&packages) {
            eprintln!(
                "warning: {package} depends on {dependency}, which is not requested; \
                 its stages wait until you run 'opm install {dependency}'"
            );
        }
        Ok(changes)
    })?;
    print_changes(printer, &changes, "already requested; nothing to change")?;
    Ok(Exit::Success)
}
