//! `opm agent [--once]`: a compute node's daemon (SPEC §1.6): its work
//! comes from the server, goes into `--root`, and is reported back.

use opm_model::Role;

use crate::cli::AgentArgs;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::report::print_report;
use crate::runtime::{self, agent_error};
use crate::settings::Settings;

/// Runs `opm agent`.
pub fn run(args: AgentArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let me = runtime::identity(settings)?;
    if me.role != Role::Client {
        return Err(bad_input(format!(
            "opm agent runs on a compute node, and {} says this machine is {} {}",
            settings.conf.display(),
            me.role,
            me.name
        )));
    }
    let once = args.once;
    let agent = runtime::agent(args, me, settings)?;
    runtime::init_logging(settings);
    runtime::multi_thread()?.block_on(async {
        if once {
            let report = agent.once().await.map_err(agent_error)?;
            return print_report(&report, "opm retry, on the head node", printer);
        }
        tokio::select! {
            served = agent.serve() => served.map_err(agent_error).map(|()| Exit::Success),
            () = runtime::stop_signal() => Ok(Exit::Success),
        }
    })
}
