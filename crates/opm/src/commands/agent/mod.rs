//! `opm agent [--once]`: a compute node's daemon (SPEC §1.6): its work
//! comes from the server, goes into `--root`, and is reported back.
//! `opm agent enroll FILE` sets the node up first (`enroll.rs`).

mod enroll;

use opm_model::Role;

use crate::cli::{AgentArgs, AgentCommand};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::report::print_report;
use crate::runtime::{self, agent_error};
use crate::sd_notify::Notifier;
use crate::settings::Settings;

/// Runs `opm agent`.
pub fn run(args: AgentArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    if let Some(AgentCommand::Enroll { file, force }) = &args.command {
        return enroll::run(file, *force, settings, printer);
    }
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
    runtime::init_logging(settings);
    runtime::multi_thread()?.block_on(async {
        let agent = runtime::agent(args, me, settings).await?;
        if once {
            let report = agent.once().await.map_err(agent_error)?;
            return print_report(&report, "opm retry, on the head node", printer);
        }
        // Type=notify: ready once the server answers, stopping on a signal.
        let notifier = Notifier::from_env("opm agent");
        let stop = runtime::stop_signal();
        let connected = || {
            let status = format!("connected to {}", agent.server());
            eprintln!("opm agent: {status}");
            notifier.ready(&status);
        };
        tokio::select! {
            served = agent.serve(connected) => served.map_err(agent_error).map(|()| Exit::Success),
            () = stop => {
                notifier.stopping("stopping");
                Ok(Exit::Success)
            }
        }
    })
}
