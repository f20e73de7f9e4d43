//! The daemons' logging, one setup for `opm server`, `opm agent` and `opm
//! run`: tracing events on stderr with their level and a timestamp (none
//! when journald reads the stream, `JOURNAL_STREAM` set, since it stamps
//! every line itself), as text or as one JSON object a line
//! (`--log-format json`). `OPM_LOG`, else `RUST_LOG`, chooses what is
//! logged in `tracing`'s filter syntax; without either, opm's own crates
//! log at the level `-q`/`-v` set (info by default) and every other crate
//! only warnings, so `-v` shows opm's debug lines, not the HTTP library's.

use std::fmt;
use std::io::IsTerminal as _;

use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// opm's own crates, as `tracing` names their targets.
const OPM_CRATES: [&str; 9] = [
    "opm",
    "opm_api",
    "opm_demo",
    "opm_engine",
    "opm_model",
    "opm_native",
    "opm_opkg",
    "opm_plan",
    "opm_store",
];

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Text: timestamp, level, where, message.
    #[default]
    Text,
    /// One JSON object a line: timestamp, level, target, message, fields.
    Json,
}

/// The filter in force: `opm_log` (OPM_LOG), else `rust_log` (RUST_LOG),
/// else opm's crates at the level of `verbosity` (0 quiet, 1 normal, 2+
/// verbose) and the rest at warn (error when quiet).
pub fn directives(opm_log: Option<&str>, rust_log: Option<&str>, verbosity: u8) -> String {
    if let Some(directives) = given(opm_log).or(given(rust_log)) {
        return directives.to_owned();
    }
    let (ours, others) = match verbosity {
        0 => ("error", "error"),
        1 => ("info", "warn"),
        2 => ("debug", "warn"),
        _ => ("trace", "warn"),
    };
    let mut directives = others.to_owned();
    for name in OPM_CRATES {
        directives.push_str(&format!(",{name}={ours}"));
    }
    directives
}

/// A variable's value, unless unset or blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}

/// Sends the process's log events to stderr, as [`directives`] filters
/// them, in `format`. A filter that does not parse is said once and the
/// default is used instead.
pub fn init(verbosity: u8, format: LogFormat) {
    let opm_log = std::env::var("OPM_LOG").ok();
    let rust_log = std::env::var("RUST_LOG").ok();
    let wanted = directives(opm_log.as_deref(), rust_log.as_deref(), verbosity);
    let filter = EnvFilter::try_new(&wanted).unwrap_or_else(|error| {
        eprintln!("warning: ignoring the log filter '{wanted}' (OPM_LOG or RUST_LOG): {error}");
        EnvFilter::new(directives(None, None, verbosity))
    });
    let timestamps = std::env::var_os("JOURNAL_STREAM").is_none();
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal());
    // A second setup in one process (tests) keeps the first.
    let _ = match (format, timestamps) {
        (LogFormat::Text, true) => builder.try_init(),
        (LogFormat::Text, false) => builder.without_time().try_init(),
        (LogFormat::Json, timestamps) => builder.event_format(JsonLines { timestamps }).try_init(),
    };
}

/// Formats each event as one JSON object on one line.
struct JsonLines {
    timestamps: bool,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut object = serde_json::Map::new();
        if self.timestamps {
            let mut stamp = String::new();
            SystemTime.format_time(&mut Writer::new(&mut stamp))?;
            object.insert("timestamp".to_owned(), stamp.into());
        }
        let meta = event.metadata();
        object.insert("level".to_owned(), meta.level().as_str().into());
        object.insert("target".to_owned(), meta.target().into());
        let mut fields = Fields(serde_json::Map::new());
        event.record(&mut fields);
        object.extend(fields.0);
        writeln!(writer, "{}", serde_json::Value::Object(object))
    }
}

/// An event's fields as JSON values (`message` among them).
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn opm_log_beats_rust_log_beats_the_verbosity() {
        assert_eq!(
            directives(Some("opm_api=trace"), Some("debug"), 1),
            "opm_api=trace"
        );
        assert_eq!(directives(None, Some("debug"), 1), "debug");
        // Set but empty counts as unset.
        assert_eq!(directives(Some(" "), Some("debug"), 1), "debug");
        let normal = directives(None, None, 1);
        assert!(normal.starts_with("warn,"), "{normal}");
        assert!(normal.contains(",opm_api=info"), "{normal}");
        assert!(directives(None, None, 2).contains(",opm_engine=debug"));
        assert!(directives(None, None, 3).contains(",opm=trace"));
        let quiet = directives(None, None, 0);
        assert!(
            quiet.starts_with("error,") && quiet.contains(",opm=error"),
            "{quiet}"
        );
    }
}
