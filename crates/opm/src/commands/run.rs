//! `opm run [--jobs N] [--side-by-side]`: reconcile this machine's rows
//! until nothing more can be done now (SPEC §4), through `opm-engine`.

use std::io::IsTerminal;
use std::sync::Arc;

use opm_engine::{BarReporter, EngineError, LineReporter, Reporter};
use opm_model::Role;

use crate::cli::{AgentArgs, RunArgs};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::report::print_report;
use crate::runtime;
use crate::settings::Settings;

/// Runs `opm run`; on a compute node that is one round of its agent, as
/// `opm agent --once` runs it.
pub fn run(args: RunArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let me = runtime::identity(settings)?;
    if me.role == Role::Client {
        let agent = AgentArgs {
            script_timeout: args.script_timeout,
            ..AgentArgs::default()
        };
        let agent = runtime::agent(agent, me, settings)?;
        runtime::init_logging(settings);
        return runtime::multi_thread()?.block_on(async {
            let report = agent.once().await.map_err(runtime::agent_error)?;
            print_report(&report, "opm retry, on the head node", printer)
        });
    }
    let reporter: Arc<dyn Reporter> = if std::io::stdout().is_terminal() && !printer.json() {
        Arc::new(BarReporter::new())
    } else {
        Arc::new(LineReporter::new(std::io::stderr()))
    };
    let report = runtime::multi_thread()?.block_on(async {
        let engine = runtime::engine(settings, &args, reporter).await?;
        engine
            .run()
            .await
            .map_err(|error| pass_error(error, settings))
    })?;
    print_report(&report, "opm retry", printer)
}

/// A pass that stopped on what the caller got wrong (an opm.conf naming a
/// node the database does not know, ...) is bad input, exit 2; the store's
/// classification decides. The rest is a failure.
fn pass_error(error: EngineError, settings: &Settings) -> anyhow::Error {
    match error {
        EngineError::Store(error) if error.is_bad_input() => bad_input(format!(
            "{error} (this machine's name is read from {}; fix it there, or run 'opm init' with it)",
            settings.conf.display()
        )),
        other => anyhow::Error::new(other),
    }
}
