//! Running one script: checks, start inside a guarded process group, capture,
//! timeout, cleanup of the whole group, outcome.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;
use tokio::time::Instant;

use super::capture::{CapturedOutput, DEFAULT_CAPTURE_LIMIT, capture};
use super::check;
use super::error::ScriptError;
use super::group::{GroupCleanup, ProcessGroup};
use super::invocation::ScriptInvocation;
use super::outcome::{ExitStatusKind, ScriptOutcome};
use super::site_env::SiteEnv;

/// How the runner runs scripts, the same for every script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// The `chroot` program (coreutils) used for image scripts.
    pub chroot_program: PathBuf,
    /// The host shell that runs the process-group guard.
    pub shell: PathBuf,
    /// After SIGTERM, how long the group gets before SIGKILL; also how long
    /// output is still read once the group is gone.
    pub kill_grace: Duration,
    /// Bytes kept at each end of each output stream.
    pub capture_limit: usize,
    /// The site's variables for every script; callers pass them to
    /// [`InvocationBuilder::site_env`](super::InvocationBuilder::site_env).
    pub env: SiteEnv,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig {
            chroot_program: PathBuf::from("/usr/sbin/chroot"),
            shell: PathBuf::from("/bin/sh"),
            kill_grace: Duration::from_secs(5),
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            env: SiteEnv::default(),
        }
    }
}

/// Idle guards kept for the next scripts, at most.
const IDLE_GUARDS: usize = 8;

/// Runs scripts per SPEC §1.7; cheap to clone, safe to use from many tasks.
#[derive(Debug, Clone, Default)]
pub struct ScriptRunner {
    config: RunnerConfig,
    /// Guards whose group a script left empty, for the next scripts: a run
    /// of many short scripts (B3) spent as much starting guard shells as
    /// running the scripts. Clones share them.
    idle: Arc<Mutex<Vec<ProcessGroup>>>,
}

impl ScriptRunner {
    /// A runner with this configuration.
    pub fn new(config: RunnerConfig) -> ScriptRunner {
        ScriptRunner {
            config,
            idle: Arc::default(),
        }
    }

    /// An idle guard whose shell still waits, or a new one.
    fn guard(&self) -> Result<ProcessGroup, ScriptError> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while let Some(mut group) = idle.pop() {
            if group.is_waiting() {
                return Ok(group);
            }
        }
        drop(idle);
        ProcessGroup::start(&self.config.shell).map_err(|source| ScriptError::Guard {
            shell: self.config.shell.clone(),
            source,
        })
    }

    /// Keeps a guard for the next script when its group is known empty;
    /// otherwise lets it end.
    async fn put_back(&self, group: ProcessGroup, cleanup: GroupCleanup) {
        if cleanup == GroupCleanup::Empty {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if idle.len() < IDLE_GUARDS {
                idle.push(group);
                return;
            }
        }
        group.close().await;
    }

    /// Its configuration.
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Runs one script to its end (exit, signal or timeout).
    ///
    /// `Ok` whenever the script ran, successful or not (see
    /// [`ScriptOutcome::into_result`]); `Err` when it could not be started.
    /// Dropping the returned future kills the script's whole process group.
    pub async fn run(&self, invocation: &ScriptInvocation) -> Result<ScriptOutcome, ScriptError> {
        check::before_start(invocation)?;
        let spec = invocation.command(&self.config.chroot_program);
        let mut group = self.guard()?;

        let started = Instant::now();
        let spawned = Command::new(&spec.program)
            .args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .current_dir(&spec.current_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(group.id())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                group.close().await;
                return Err(check::start_error(invocation, &spec.program, error));
            }
        };
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            group.close().await;
            return Err(ScriptError::Spawn {
                path: spec.program,
                source: std::io::Error::other("stdout or stderr pipe missing"),
            });
        };

        let (stop, stop_received) = watch::channel(None);
        let limit = self.config.capture_limit;
        let grace = self.config.kill_grace;
        let supervise = async {
            let waited = tokio::time::timeout(invocation.timeout, child.wait()).await;
            // A timed-out run lasted its timeout, whatever the cleanup adds.
            let duration = match waited {
                Ok(_) => started.elapsed(),
                Err(_) => invocation.timeout,
            };
            // Whatever happened, the rest of the group goes before we report.
            let cleanup = group.terminate(grace).await;
            let exit = match waited {
                Ok(Ok(status)) => Ok(ExitStatusKind::from_status(status)),
                Ok(Err(source)) => Err(source),
                Err(_elapsed) => {
                    // Killed by the cleanup above; reap it.
                    let _ = child.wait().await;
                    Ok(ExitStatusKind::TimedOut(invocation.timeout))
                }
            };
            // Output of processes that escaped the group is not waited for long.
            let _ = stop.send(Some(Instant::now() + grace));
            (exit, duration, cleanup)
        };
        let ((exit, duration, cleanup), stdout, stderr) = tokio::join!(
            supervise,
            capture(stdout, limit, stop_received.clone()),
            capture(stderr, limit, stop_received),
        );
        self.put_back(group, cleanup).await;
        let exit = exit.map_err(|source| ScriptError::Wait {
            path: invocation.host_path(&invocation.script),
            source,
        })?;
        Ok(ScriptOutcome {
            script: invocation.script.clone(),
            exit,
            duration,
            output: CapturedOutput { stdout, stderr },
            cleanup,
        })
    }
}
