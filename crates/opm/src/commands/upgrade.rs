//! `opm upgrade [PKG...] [--node N | --image I | --group G]
//! [--allow-downgrade]`: start the upgrades of finished rows to their
//! opkg's wanted version (SPEC §1.9); the rules are
//! `opm_engine::upgrade`'s and `opm_plan::upgrade_verdict`'s.

use opm_engine::upgrade::{UpgradeRequest, UpgradeScope, upgrade};
use opm_store::OpenMode;

use crate::cli::UpgradeArgs;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{block_on, now_ms};

/// Runs `opm upgrade`.
pub fn run(args: UpgradeArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let scope = match (args.scope.node, args.scope.image, args.scope.group) {
        (Some(node), None, None) => UpgradeScope::Node(node),
        (None, Some(image), None) => UpgradeScope::Image(image),
        (None, None, Some(group)) => UpgradeScope::Group(group),
        // clap allows at most one.
        _ => UpgradeScope::All,
    };
    let request = UpgradeRequest {
        packages: args.packages,
        scope,
        allow_downgrade: args.allow_downgrade,
        rollout: args.rollout.policy(settings.rollout),
    };
    let report = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let report = upgrade(&store, &request, now_ms()).await;
        store.close().await;
        report.map_err(store_error)
    })?;
    if printer.json() {
        printer.print_json(&report)?;
    } else {
        printer.table(
            &["target", "kind", "package", "upgrade"],
            report
                .rows
                .iter()
                .map(|line| {
                    vec![
                        line.target.name.to_string(),
                        line.target.kind.name().to_owned(),
                        line.package.to_string(),
                        line.verdict.to_string(),
                    ]
                })
                .collect(),
            "no rows to upgrade; install opkgs first with 'opm install PKG'",
        );
    }
    if let Some(refusal) = report.refusal() {
        return Err(bad_input(refusal));
    }
    if !printer.json() {
        if report.started == 0 && report.moved == 0 {
            printer.line(format_args!("nothing to upgrade"));
        } else {
            printer.line(format_args!(
                "{} row(s) set back to run install-bin-pkgs again at the new version{}; \
                 'opm run' (and the nodes' agents) carry the upgrade out",
                report.started,
                if report.moved > 0 {
                    format!(
                        " ({} moved meanwhile and were left as they are)",
                        report.moved
                    )
                } else {
                    String::new()
                }
            ));
        }
    }
    Ok(Exit::Success)
}
