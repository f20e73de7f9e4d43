//! Commands as data: every package-manager run is first built as an
//! [`Invocation`] (program, arguments, a complete environment), which unit
//! tests compare as plain values, and only then run.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
    /// How long the run may take before its process group is killed;
    /// `None` waits for as long as the tool runs.
    pub limit: Option<Duration>,
}

impl Invocation {
    /// A run of `program` with no arguments yet.
    #[must_use]
    pub fn new(program: &str) -> Self {
        Self {
            program: program.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            limit: None,
        }
    }

    /// Sets the time limit.
    #[must_use]
    pub fn within(mut self, limit: Option<Duration>) -> Self {
        self.limit = limit;
        self
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

    /// Runs to completion (or to its time limit) and captures everything it
    /// prints. A non-zero exit is not an error here: the backend decides
    /// what it means.
    ///
    /// # Errors
    /// [`NativeError::ToolMissing`] when the program cannot be started,
    /// [`NativeError::Wait`] when waiting for it fails.
    pub fn run(&self) -> Result<Ran> {
        tracing::debug!(command = %self.display(), "running");
        let Some(limit) = self.limit else {
            let output = self
                .to_command()
                .output()
                .map_err(|source| self.missing(source))?;
            return Ok(Ran {
                status: output.status,
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                timed_out: None,
            });
        };
        let mut command = self.to_command();
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so the limit ends the tool's children too.
            command.process_group(0);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| self.missing(source))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let (status, timed_out) = self.wait(&mut child, limit)?;
        Ok(Ran {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
            timed_out,
        })
    }

    fn wait(&self, child: &mut Child, limit: Duration) -> Result<(ExitStatus, Option<Duration>)> {
        let failed = |source| NativeError::Wait {
            tool: self.program.clone(),
            source,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().map_err(failed)? {
                return Ok((status, None));
            }
            if started.elapsed() >= limit {
                let group = i32::try_from(child.id()).map(nix::unistd::Pid::from_raw);
                if let Ok(group) = group {
                    // The group may be gone already; the wait below tells.
                    let _ignored =
                        nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                }
                let status = child.wait().map_err(failed)?;
                return Ok((status, Some(limit)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn missing(&self, source: std::io::Error) -> NativeError {
        NativeError::ToolMissing {
            tool: self.program.clone(),
            source,
        }
    }
}

/// Reads a pipe to its end on a thread of its own, so a tool that fills one
/// pipe while we wait never blocks.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // What was read before an error is still worth showing.
            let _ignored = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
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
    /// The time limit, when the run was killed for reaching it.
    pub timed_out: Option<Duration>,
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
        match self.timed_out {
            Some(limit) => format!("killed at its time limit of {limit:?}"),
            None => describe(self.status),
        }
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
    fn a_run_past_its_limit_is_killed_with_its_children_and_keeps_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "echo started; sleep 300 & echo $! > {}; wait",
            pid_file.display()
        );
        let ran = Invocation::new("sh")
            .args(["-c", &script])
            .within(Some(Duration::from_millis(300)))
            .run()
            .unwrap();
        assert_eq!(ran.timed_out, Some(Duration::from_millis(300)));
        assert_eq!(ran.describe_status(), "killed at its time limit of 300ms");
        assert_eq!(ran.stdout, "started\n");
        // The grandchild went with the group: gone, or a zombie waiting for
        // whoever adopted it to reap it.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        let alive = || {
            std::fs::read_to_string(&stat)
                .is_ok_and(|text| !text.rsplit(") ").next().unwrap_or("").starts_with('Z'))
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "sleep survived the limit");
    }

    #[test]
    fn a_run_within_its_limit_is_untouched() {
        let ran = Invocation::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 4"])
            .within(Some(Duration::from_secs(600)))
            .run()
            .unwrap();
        assert_eq!(ran.timed_out, None);
        assert_eq!(ran.combined(), "out\nerr\n");
        assert_eq!(ran.describe_status(), "exit status 4");
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
