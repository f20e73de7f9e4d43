//! Commands as data: every package-manager run is first built as an
//! [`Invocation`] (program, arguments, a complete environment), which unit
//! tests compare as plain values, and only then run.

use std::process::{Command, ExitStatus, Stdio};

use crate::error::{NativeError, Result};

/// The `PATH` every tool runs with; the caller's environment is never passed on.
pub const CLEAN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// One program run, fully described: nothing from the caller's environment
/// leaks in, so the same value always means the same run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The program, looked up in [`CLEAN_PATH`].
    pub program: String,
    /// The arguments.
    pub args: Vec<String>,
    /// The whole environment (beyond `PATH` and `LC_ALL=C`, which are always set).
    pub env: Vec<(String, String)>,
}

impl Invocation {
    /// A run of `program` with no arguments yet.
    #[must_use]
    pub fn new(program: &str) -> Self {
        Self {
            program: program.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one environment variable.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The command line as one string, for logs and errors.
    #[must_use]
    pub fn display(&self) -> String {
        let mut text = self.program.clone();
        for arg in &self.args {
            text.push(' ');
            text.push_str(arg);
        }
        text
    }

    /// A `std` command for this invocation, with the clean environment and
    /// no stdin (a package manager must never wait for an answer).
    #[must_use]
    pub fn to_command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", CLEAN_PATH)
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null());
        command
    }

    /// Runs to completion and captures everything it prints. A non-zero
    /// exit is not an error here: the backend decides what it means.
    ///
    /// # Errors
    /// [`NativeError::ToolMissing`] when the program cannot be started.
    pub fn run(&self) -> Result<Ran> {
        tracing::debug!(command = %self.display(), "running");
        let output = self
            .to_command()
            .output()
            .map_err(|source| NativeError::ToolMissing {
                tool: self.program.clone(),
                source,
            })?;
        Ok(Ran {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Ran {
    /// How it ended.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Ran {
    /// Whether it exited with status 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout then stderr, as one text for errors and output parsers.
    #[must_use]
    pub fn combined(&self) -> String {
        let mut text = self.stdout.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.stderr);
        text
    }

    /// How it ended, in words.
    #[must_use]
    pub fn describe_status(&self) -> String {
        describe(self.status)
    }
}

/// An exit status in words: `exit status 1` or `killed by signal 9`.
#[must_use]
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without a status".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_program_arguments_and_environment_as_values() {
        let invocation = Invocation::new("dpkg")
            .args(["--root=/r", "-i"])
            .env("DPKG_ROOT", "/r");
        assert_eq!(invocation.display(), "dpkg --root=/r -i");
        assert_eq!(
            invocation.env,
            vec![("DPKG_ROOT".to_owned(), "/r".to_owned())]
        );
    }

    #[test]
    fn runs_with_a_clean_environment() {
        let ran = Invocation::new("sh")
            .args(["-c", "env | sort"])
            .env("ONLY", "this")
            .run()
            .unwrap();
        assert!(ran.success());
        let names: Vec<&str> = ran
            .stdout
            .lines()
            .filter_map(|line| line.split('=').next())
            .filter(|name| !["PWD", "SHLVL", "_"].contains(name))
            .collect();
        assert_eq!(names, ["LC_ALL", "ONLY", "PATH"]);
    }

    #[test]
    fn captures_both_streams_and_the_status() {
        let ran = Invocation::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run()
            .unwrap();
        assert!(!ran.success());
        assert_eq!(ran.combined(), "out\nerr\n");
        assert_eq!(ran.describe_status(), "exit status 3");
    }

    #[test]
    fn a_missing_program_is_named() {
        let error = Invocation::new("opm-no-such-tool").run().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("opm-no-such-tool is not installed"),
            "{error}"
        );
    }
}
