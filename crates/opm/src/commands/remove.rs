//! `opm remove PKG... [--with-dependents]`: request opkgs
//! `should_not_be_installed` everywhere they are; refused while other
//! opkgs depend on them unless their dependents go too.

use opm_engine::requests;

use super::request::{print_changes, with_store};
use crate::cli::RemoveArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::{load, now_ms, request_error};

/// Runs `opm remove PKG... [--with-dependents]`.
pub fn run(args: RemoveArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let packages = requests::unique(args.packages);
    let changes = with_store(settings, async |store| {
        let mut snapshot = load(store).await?;
        requests::remove(
            store,
            &mut snapshot,
            &packages,
            args.with_dependents,
            now_ms(),
        )
        .await
        .map_err(request_error)
    })?;
    print_changes(
        printer,
        &changes,
        "not installed or requested; nothing to change",
    )?;
    Ok(Exit::Success)
}
