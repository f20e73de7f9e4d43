//! Who holds a lease: `host:pid:start-time`, so a lease left by a process
//! that died on this same machine can be taken over at once instead of
//! waiting out its TTL (a pid alone could have been reused by then).

use std::fmt;
use std::path::Path;

/// A lease owner: the host, the process id and the process's start time
/// (clock ticks since boot, field 22 of `/proc/<pid>/stat`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The machine's host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The process's start time in clock ticks since boot.
    pub start: u64,
}

/// What is known about a lease owner from this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The owner process runs on this machine.
    Alive,
    /// The owner was a process of this machine that is gone: its lease may
    /// be taken over now.
    Dead,
    /// The owner is on another machine or not in `host:pid:start` form:
    /// only its lease's expiry tells.
    Unknown,
}

impl Owner {
    /// Parses `host:pid:start`; `None` for anything else (another tool's
    /// owner string is simply not ours to judge).
    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.rsplitn(3, ':');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?;
        if host.is_empty() {
            return None;
        }
        Some(Owner {
            host: host.to_owned(),
            pid,
            start,
        })
    }

    /// This process, on the host named `host`.
    ///
    /// # Errors
    /// When this process's own `/proc` entry cannot be read.
    pub fn this_process(host: &str) -> std::io::Result<Owner> {
        let pid = std::process::id();
        let start = start_time(Path::new("/proc"), pid)?.ok_or_else(|| {
            std::io::Error::other(format!("/proc/{pid}/stat has no start time field"))
        })?;
        Ok(Owner {
            host: host.to_owned(),
            pid,
            start,
        })
    }

    /// Whether `self` (parsed from a lease) still runs, judged from `host`
    /// with the process table under `proc_dir` (normally `/proc`).
    pub fn liveness(&self, host: &str, proc_dir: &Path) -> Liveness {
        if self.host != host {
            return Liveness::Unknown;
        }
        match start_time(proc_dir, self.pid) {
            Ok(Some(start)) if start == self.start => Liveness::Alive,
            // Gone, or the pid now belongs to a later process.
            Ok(_) => Liveness::Dead,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Liveness::Dead,
            Err(_) => Liveness::Unknown,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.pid, self.start)
    }
}

/// The host name of this machine, from the kernel (the lease owner's host
/// part; the node's opm name comes from opm.conf, never from here).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The start time of process `pid` from `<proc_dir>/<pid>/stat`; `Ok(None)`
/// when the file does not have the field.
fn start_time(proc_dir: &Path, pid: u32) -> std::io::Result<Option<u64>> {
    let stat = std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat"))?;
    Ok(parse_start_time(&stat))
}

/// Field 22 (starttime) of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces and parentheses, so
/// fields are counted after the last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: starttime is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_and_hosts_may_hold_colons() {
        let owner = Owner::parse("head:4242:987654").unwrap();
        assert_eq!(owner.host, "head");
        assert_eq!(owner.pid, 4242);
        assert_eq!(owner.start, 987_654);
        assert_eq!(owner.to_string(), "head:4242:987654");
        let odd = Owner::parse("fe80::1:7:9").unwrap();
        assert_eq!((odd.host.as_str(), odd.pid, odd.start), ("fe80::1", 7, 9));
    }

    #[test]
    fn foreign_owner_strings_are_not_parsed() {
        for bad in ["", "agent-n3", ":1:2", "h:x:2", "h:1:y", "h:1", "h:-1:2"] {
            assert_eq!(Owner::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    55512 1000 10 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(55512));
        assert_eq!(parse_start_time("1234 (x) S 1"), None);
        assert_eq!(parse_start_time("no parenthesis"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_dead() {
        let host = "here";
        let me = Owner::this_process(host).unwrap();
        let proc_dir = Path::new("/proc");
        assert_eq!(me.liveness(host, proc_dir), Liveness::Alive);
        assert_eq!(me.liveness("elsewhere", proc_dir), Liveness::Unknown);
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(reused.liveness(host, proc_dir), Liveness::Dead);
    }

    #[test]
    fn a_missing_process_is_dead() {
        let empty = tempfile::tempdir().unwrap();
        let gone = Owner {
            host: "here".to_owned(),
            pid: 7,
            start: 1,
        };
        assert_eq!(gone.liveness("here", empty.path()), Liveness::Dead);
    }
}
