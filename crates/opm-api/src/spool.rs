//! The agent's spool: finish reports the server has not acknowledged yet,
//! in a JSON file written whole and renamed into place, so a report
//! survives a dropped connection, a server restart or the agent's own
//! crash, and is sent again until the server has it. The spool's lock file
//! also keeps a second agent off the node.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use opm_model::api::FinishReport;

use crate::error::AgentError;

/// The spool file and the lock held on it.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    _lock: File,
}

impl Spool {
    /// Opens the spool at `path`, creating its directory; refuses when
    /// another agent holds it.
    ///
    /// # Errors
    /// [`AgentError::Spool`].
    pub fn open(path: &Path) -> Result<Spool, AgentError> {
        let failed = |reason: String| AgentError::Spool {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| failed(error.to_string()))?;
        }
        let lock_path = path.with_extension("lock");
        let lock = private(&lock_path).map_err(|error| failed(error.to_string()))?;
        lock.try_lock().map_err(|_| {
            failed(format!(
                "another opm agent of this node holds {}; one agent per node",
                lock_path.display()
            ))
        })?;
        Ok(Spool {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    fn failed(&self, reason: String) -> AgentError {
        AgentError::Spool {
            path: self.path.display().to_string(),
            reason,
        }
    }

    /// The reports waiting to be sent, oldest first.
    ///
    /// # Errors
    /// [`AgentError::Spool`] for a file that cannot be read or parsed.
    pub fn load(&self) -> Result<Vec<FinishReport>, AgentError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| self.failed(format!("not a spool file: {error}"))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.failed(error.to_string())),
        }
    }

    /// Replaces the spool's reports, durably.
    ///
    /// # Errors
    /// [`AgentError::Spool`].
    pub fn save(&self, reports: &[FinishReport]) -> Result<(), AgentError> {
        let bytes = serde_json::to_vec(reports).map_err(|error| self.failed(error.to_string()))?;
        let temp = self.path.with_extension("tmp");
        let written = private(&temp).and_then(|mut file| {
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()
        });
        written
            .and_then(|()| std::fs::rename(&temp, &self.path))
            .map_err(|error| self.failed(error.to_string()))
    }

    /// Adds one report.
    ///
    /// # Errors
    /// [`AgentError::Spool`].
    pub fn push(&self, report: FinishReport) -> Result<(), AgentError> {
        let mut reports = self.load()?;
        reports.push(report);
        self.save(&reports)
    }
}

/// Creates (or truncates) `path` readable by its owner alone: the spool
/// holds script output, which may hold anything. A file left by an older
/// agent gets the same mode.
fn private(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(attempt: i64) -> FinishReport {
        FinishReport {
            attempt,
            token: 7,
            passed: true,
            exit_code: None,
            output: "done\n".to_owned(),
            message: None,
            transient: false,
        }
    }

    #[test]
    fn reports_survive_a_reopen_and_one_agent_holds_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool/agent.json");
        let spool = Spool::open(&path).unwrap();
        assert!(spool.load().unwrap().is_empty());
        spool.push(report(1)).unwrap();
        spool.push(report(2)).unwrap();
        let second = Spool::open(&path).unwrap_err();
        assert!(second.to_string().contains("another opm agent"), "{second}");
        drop(spool);
        let again = Spool::open(&path).unwrap();
        assert_eq!(again.load().unwrap(), [report(1), report(2)]);
        again.save(&[]).unwrap();
        assert!(again.load().unwrap().is_empty());
    }

    #[test]
    fn the_spool_and_its_lock_are_readable_by_the_owner_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        // A spool an older agent left world-readable.
        std::fs::write(&path, "[]").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let spool = Spool::open(&path).unwrap();
        spool.push(report(1)).unwrap();
        for file in [path.clone(), path.with_extension("lock")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn a_damaged_spool_is_an_error_not_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        std::fs::write(&path, "{not json").unwrap();
        let spool = Spool::open(&path).unwrap();
        let error = spool.load().unwrap_err();
        assert!(error.to_string().contains("not a spool file"), "{error}");
    }
}
