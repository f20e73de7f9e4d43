//! What a finished script run produced: how it ended, how long it took, its output.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::capture::CapturedOutput;
use super::error::ScriptError;
use super::group::GroupCleanup;

/// Lines of each stream quoted in a failure message.
const MESSAGE_LINES: usize = 20;

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatusKind {
    /// The script exited with this code (0 = success).
    Code(i32),
    /// The script was killed by this signal number.
    Signal(i32),
    /// The script ran past its timeout; its process group was killed.
    TimedOut(Duration),
}

impl ExitStatusKind {
    /// Maps a wait status from the operating system.
    pub fn from_status(status: std::process::ExitStatus) -> ExitStatusKind {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatusKind::Code(code),
            (None, Some(signal)) => ExitStatusKind::Signal(signal),
            // Neither exited nor signalled means stopped/continued, which a
            // plain wait never reports; count it as a failure code.
            (None, None) => ExitStatusKind::Code(-1),
        }
    }
}

/// The result of a script that ran (whether or not it succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutcome {
    /// The script as the contract names it (inside the image in chroot mode).
    pub script: PathBuf,
    /// How it ended.
    pub exit: ExitStatusKind,
    /// Wall time from start to exit (or to the timeout).
    pub duration: Duration,
    /// Its stdout and stderr.
    pub output: CapturedOutput,
    /// What cleaning up its process group took.
    pub cleanup: GroupCleanup,
}

impl ScriptOutcome {
    /// True when the script exited with code 0.
    pub fn is_success(&self) -> bool {
        self.exit == ExitStatusKind::Code(0)
    }

    /// `Ok` for a success, else [`ScriptError::Failed`] carrying this outcome.
    pub fn into_result(self) -> Result<ScriptOutcome, ScriptError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(ScriptError::Failed {
                outcome: Box::new(self),
            })
        }
    }

    /// One message saying how the run ended, followed by the tail of its output.
    pub fn failure_message(&self) -> String {
        let script = self.script.display();
        let mut message = match self.exit {
            ExitStatusKind::Code(0) => format!("script {script} succeeded"),
            ExitStatusKind::Code(code) => format!(
                "script {script} failed with exit code {code} after {}",
                format_duration(self.duration)
            ),
            ExitStatusKind::Signal(number) => format!(
                "script {script} was killed by signal {number} ({}) after {}",
                signal_name(number),
                format_duration(self.duration)
            ),
            ExitStatusKind::TimedOut(limit) => format!(
                "script {script} timed out after {} and its process group was killed; raise the script timeout if it needs longer",
                format_duration(limit)
            ),
        };
        for (name, stream) in [
            ("stderr", &self.output.stderr),
            ("stdout", &self.output.stdout),
        ] {
            if !stream.is_empty() {
                let _ = write!(
                    message,
                    "\nlast {name}:\n{}",
                    stream.last_lines(MESSAGE_LINES)
                );
            }
        }
        message
    }
}

/// The signal's name (`SIGKILL`), or `unknown` for a number Linux does not name.
pub fn signal_name(number: i32) -> &'static str {
    Signal::try_from(number).map_or("unknown", Signal::as_str)
}

/// A short human duration: `0.2s`, `12.0s`, `2m5s`, `30m`, `1h`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        let _ = write!(text, "{hours}h");
    }
    if minutes > 0 {
        let _ = write!(text, "{minutes}m");
    }
    if seconds > 0 {
        let _ = write!(text, "{seconds}s");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::capture::CaptureBuffer;

    fn outcome(exit: ExitStatusKind, stderr: &[u8]) -> ScriptOutcome {
        let mut buffer = CaptureBuffer::new(1024);
        buffer.push(stderr);
        ScriptOutcome {
            script: PathBuf::from("/pkg/api-post-install"),
            exit,
            duration: Duration::from_millis(1500),
            output: CapturedOutput {
                stdout: CaptureBuffer::new(16).finish(false),
                stderr: buffer.finish(false),
            },
            cleanup: GroupCleanup::Empty,
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(200)), "0.2s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m5s");
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
    }

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(200), "unknown");
    }

    #[test]
    fn only_exit_code_zero_is_success() {
        assert!(outcome(ExitStatusKind::Code(0), b"").is_success());
        assert!(outcome(ExitStatusKind::Code(0), b"").into_result().is_ok());
        for exit in [
            ExitStatusKind::Code(1),
            ExitStatusKind::Signal(9),
            ExitStatusKind::TimedOut(Duration::from_secs(1)),
        ] {
            assert!(!outcome(exit, b"").is_success(), "{exit:?}");
        }
    }

    #[test]
    fn failure_message_names_code_and_quotes_output_tail() {
        let error = outcome(ExitStatusKind::Code(3), b"step one\nno space left\n")
            .into_result()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "script /pkg/api-post-install failed with exit code 3 after 1.5s\nlast stderr:\nstep one\nno space left"
        );
    }

    #[test]
    fn failure_message_names_signal_and_timeout() {
        let killed = outcome(ExitStatusKind::Signal(11), b"").failure_message();
        assert_eq!(
            killed,
            "script /pkg/api-post-install was killed by signal 11 (SIGSEGV) after 1.5s"
        );
        let hung =
            outcome(ExitStatusKind::TimedOut(Duration::from_secs(1800)), b"").failure_message();
        assert!(
            hung.starts_with(
                "script /pkg/api-post-install timed out after 30m and its process group was killed"
            ),
            "{hung}"
        );
    }
}
