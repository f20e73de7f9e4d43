//! The process group a script runs in, and the guard that ties it to opm's life.
//!
//! Every run gets a fresh process group led by a *guard*: a tiny host shell,
//! `trap '' TERM INT HUP; read -r line; kill -s KILL 0`, whose stdin is a pipe
//! whose only writer is opm. The script is then started inside the guard's
//! group. When opm goes away for any reason (even `kill -9`) the kernel closes
//! the pipe, `read` returns, and the guard kills the whole group: the script and
//! every child it left in the group.
//!
//! Why not a parent-death signal (`PR_SET_PDEATHSIG`, `setpriv --pdeathsig`)?
//! It fires when the *thread* that forked exits, not the process, so a script
//! started from a short-lived runtime thread would die early; and it only
//! reaches the direct child, never the script's own children. The pipe does
//! neither: it closes exactly when the opm process ends, and the guard kills
//! the group. No `unsafe` `pre_exec` is needed for any of it.
//!
//! The guard ignores SIGTERM so it outlives the polite first signal of a
//! cleanup; it stays unreaped until the group is done, so the group id (its
//! pid) cannot be reused while opm still signals it.
//!
//! Limits: a process that leaves the group on purpose (`setsid`, as daemons
//! do) is out of reach of group signals; that is how daemons are meant to be
//! started by scripts, and output capture does not wait for them forever.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;

/// The guard's program, run by the host shell.
pub(crate) const GUARD_SCRIPT: &str = "trap '' TERM INT HUP; read -r line; kill -s KILL 0";

/// `$0` of the guard, so `ps` shows what it is.
pub(crate) const GUARD_NAME: &str = "opm-script-guard";

/// How often the group is checked for survivors during a cleanup.
const POLL: Duration = Duration::from_millis(20);

/// What cleaning up a group took, recorded in the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCleanup {
    /// Nothing was left in the group when the script ended.
    Empty,
    /// Leftover processes ended after SIGTERM, within the grace period.
    Terminated,
    /// Leftover processes were still alive after the grace period and got SIGKILL.
    Killed,
}

/// The argv of the guard, as data.
pub(crate) fn guard_argv(shell: &Path) -> Vec<String> {
    vec![
        shell.display().to_string(),
        "-c".to_owned(),
        GUARD_SCRIPT.to_owned(),
        GUARD_NAME.to_owned(),
    ]
}

/// A running guard and the group it leads.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    guard: Child,
    guard_stdin: Option<ChildStdin>,
    pgid: i32,
    /// Members can only have pids from here up: the guard's pid, then the
    /// kernel's last pid when a look found the group empty.
    floor: i32,
    /// While set, dropping kills the group (the run was abandoned midway).
    armed: bool,
}

impl ProcessGroup {
    /// Starts a guard in a new process group.
    pub(crate) fn start(shell: &Path) -> std::io::Result<ProcessGroup> {
        let argv = guard_argv(shell);
        let mut guard = Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pid = guard
            .id()
            .ok_or_else(|| std::io::Error::other("guard exited before it could be used"))?;
        let pgid = i32::try_from(pid).map_err(std::io::Error::other)?;
        let guard_stdin = guard.stdin.take();
        Ok(ProcessGroup {
            guard,
            guard_stdin,
            pgid,
            floor: pgid,
            armed: true,
        })
    }

    /// Whether the guard still waits on its pipe (it has not exited), so
    /// its group can take another script.
    pub(crate) fn is_waiting(&mut self) -> bool {
        matches!(self.guard.try_wait(), Ok(None))
    }

    /// The group id, to start the script in.
    pub(crate) fn id(&self) -> i32 {
        self.pgid
    }

    /// Ends whatever is left in the group besides the guard: SIGTERM, up to
    /// `grace` for it to take effect, then SIGKILL to the whole group.
    pub(crate) async fn terminate(&mut self, grace: Duration) -> GroupCleanup {
        if self.is_empty() {
            return GroupCleanup::Empty;
        }
        // The group exists while the guard is unreaped, so ESRCH cannot happen;
        // any other error leaves SIGKILL below to do the job.
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            if self.is_empty() {
                return GroupCleanup::Terminated;
            }
        }
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        GroupCleanup::Killed
    }

    /// Whether no process but the guard is left in the group; then later
    /// looks start from the pid the kernel had handed out by this one.
    fn is_empty(&mut self) -> bool {
        let last = last_pid();
        let empty = survivors(self.pgid, self.floor, last) == Some(0);
        if let (true, Some(last)) = (empty, last) {
            self.floor = last;
        }
        empty
    }

    /// Lets the guard finish (it kills what may remain of the group, by then
    /// at most itself) and reaps it.
    pub(crate) async fn close(mut self) {
        self.guard_stdin = None;
        // Reaping may fail only if the child was already reaped; nothing is left.
        let _ = self.guard.wait().await;
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            // The run was abandoned (its future dropped): kill at once. The
            // unreaped guard keeps the group id from being reused.
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        }
    }
}

/// One line of `/proc/<pid>/stat`, as far as group cleanup needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// The process id.
    pub(crate) pid: i32,
    /// The state letter (`R`, `S`, `Z`, …).
    pub(crate) state: char,
    /// The process group id.
    pub(crate) pgrp: i32,
}

/// Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses,
/// so fields are counted from its last `)`.
pub(crate) fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let open = text.find(" (")?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let mut fields = text.get(close + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcStat { pid, state, pgrp })
}

/// Pids probed one by one at most; a wider range is listed from `/proc`.
const PROBE_MAX: i32 = 64;

/// The pid the kernel handed out last, if it can be read.
fn last_pid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
}

/// Live (non-zombie) processes in group `pgid` other than its leader, the
/// guard, looking only at pids from `floor` up to `last` (the kernel's
/// last pid, read before the look); `None` when `/proc` cannot be read,
/// which callers treat as "maybe".
///
/// Every member was started after the guard (the script in its group,
/// then its children), and pids are handed out upwards, so members are at
/// or above `floor` (the guard's pid, or the last pid of an earlier look
/// that found the group empty) unless the counter wrapped since, which a
/// `last` below `floor` shows; then, or when the counter cannot be read,
/// every pid is a candidate. (A full turn of pid_max between two looks
/// would slip past this; with Linux's 4,194,304 pids that is not a real
/// case.) A narrow range is probed pid by pid; a wide one is listed from
/// `/proc`: reading every process's stat after each script was the
/// largest cost of a run of many short scripts (B3), and listing `/proc`
/// the next.
pub(crate) fn survivors(pgid: i32, floor: i32, last: Option<i32>) -> Option<usize> {
    let member = |pid: i32| {
        // A process may exit between listing and reading: skip it.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|text| parse_proc_stat(&text))
            .is_some_and(|stat| {
                stat.pgrp == pgid && stat.pid != pgid && stat.state != 'Z' && stat.state != 'X'
            })
    };
    match last {
        Some(last) if last >= floor && last - floor < PROBE_MAX => {
            // /proc itself answers even when no such pid is alive.
            std::fs::metadata("/proc/self").ok()?;
            Some((floor..=last).filter(|pid| member(*pid)).count())
        }
        _ => {
            let first = match last {
                Some(last) if last >= floor => floor,
                _ => 0,
            };
            let entries = std::fs::read_dir("/proc").ok()?;
            Some(
                entries
                    .flatten()
                    .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|pid| *pid >= first && member(*pid))
                    .count(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_argv_runs_the_guard_script_in_the_host_shell() {
        assert_eq!(
            guard_argv(Path::new("/bin/sh")),
            [
                "/bin/sh",
                "-c",
                "trap '' TERM INT HUP; read -r line; kill -s KILL 0",
                "opm-script-guard"
            ]
        );
    }

    #[test]
    fn proc_stat_lines_are_parsed() {
        let line = "4242 (sleep) S 4200 4201 4200 0 -1 4194560 91 0 0 0 0 0 0 0 20 0 1 0";
        assert_eq!(
            parse_proc_stat(line),
            Some(ProcStat {
                pid: 4242,
                state: 'S',
                pgrp: 4201
            })
        );
    }

    #[test]
    fn proc_stat_survives_odd_command_names() {
        let line = "7 (a) b (c) Z 1 9 9 0 -1";
        assert_eq!(
            parse_proc_stat(line),
            Some(ProcStat {
                pid: 7,
                state: 'Z',
                pgrp: 9
            })
        );
    }

    #[test]
    fn broken_proc_stat_lines_are_rejected() {
        for bad in [
            "",
            "12",
            "x (y) S 1 2",
            "12 (y) S 1",
            "12 (y) S 1 notanumber",
        ] {
            assert_eq!(parse_proc_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn survivors_of_an_unused_group_is_zero() {
        // Group ids are pids; i32::MAX is above any pid_max Linux allows.
        for last in [None, Some(1), last_pid()] {
            assert_eq!(survivors(i32::MAX, 1, last), Some(0), "{last:?}");
        }
    }

    /// A member started after the last look is found whether the range is
    /// probed or listed; one below the floor is not looked for.
    #[tokio::test]
    async fn survivors_are_found_in_either_range() {
        let mut group = ProcessGroup::start(Path::new("/bin/sh")).unwrap();
        let before = last_pid().unwrap();
        use std::os::unix::process::CommandExt as _;
        let mut member = std::process::Command::new("sleep")
            .arg("30")
            .process_group(group.id())
            .spawn()
            .unwrap();
        let last = last_pid();
        let pid = i32::try_from(member.id()).unwrap();
        assert_eq!(survivors(group.id(), before, last), Some(1), "probed");
        assert_eq!(survivors(group.id(), 0, last), Some(1), "listed");
        assert_eq!(
            survivors(group.id(), group.id(), None),
            Some(1),
            "no counter"
        );
        assert_eq!(
            survivors(group.id(), pid + 1, last.map(|l| l.max(pid + 1))),
            Some(0)
        );
        member.kill().unwrap();
        member.wait().unwrap();
        assert!(group.is_waiting());
    }
}
