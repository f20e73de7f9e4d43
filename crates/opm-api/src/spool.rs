//! The agent's spool: finish reports the server has not acknowledged yet,
//! in a JSON file written whole and renamed into place, so a report
//! survives a dropped connection, a server restart or the agent's own
//! crash, and is sent again until the server has it. Beside it, the journal
//! of the stages under way: each step recorded as it starts and as it
//! ends, so a stage cut short by the agent's death resumes at the first
//! step that did not pass (SPEC §1.1). The spool's lock file also keeps a
//! second agent off the node.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use opm_model::StepRecord;
use opm_model::api::FinishReport;
use serde::{Deserialize, Serialize};

/// The steps of one attempt under way on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The row (one attempt per row is under way at a time).
    pub row: i64,
    /// The attempt, as the server numbered it.
    pub attempt: i64,
    /// Its steps so far, by position.
    pub steps: Vec<StepRecord>,
}

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
        self.write(&self.path, reports)
    }

    /// Writes `value` as JSON to `path` whole: a temporary file, synced,
    /// renamed into place.
    fn write<T: Serialize + ?Sized>(&self, path: &Path, value: &T) -> Result<(), AgentError> {
        let bytes = serde_json::to_vec(value).map_err(|error| self.failed(error.to_string()))?;
        let temp = path.with_extension("tmp");
        let written = private(&temp).and_then(|mut file| {
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()
        });
        written
            .and_then(|()| std::fs::rename(&temp, path))
            .map_err(|error| self.failed(error.to_string()))
    }

    fn journal_path(&self) -> PathBuf {
        self.path.with_extension("steps")
    }

    /// The journals of the attempts under way (left by a dead agent).
    ///
    /// # Errors
    /// [`AgentError::Spool`] for a file that cannot be read or parsed.
    pub fn journals(&self) -> Result<Vec<Journal>, AgentError> {
        let path = self.journal_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                self.failed(format!("{} is not a step journal: {error}", path.display()))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.failed(error.to_string())),
        }
    }

    /// Keeps `journal` durably, in place of any earlier one of its row.
    ///
    /// # Errors
    /// [`AgentError::Spool`].
    pub fn keep_journal(&self, journal: &Journal) -> Result<(), AgentError> {
        let mut journals = self.journals()?;
        journals.retain(|kept| kept.row != journal.row);
        journals.push(journal.clone());
        self.write(&self.journal_path(), &journals)
    }

    /// Forgets the journal of `row` (its finish report is in the spool).
    ///
    /// # Errors
    /// [`AgentError::Spool`].
    pub fn drop_journal(&self, row: i64) -> Result<(), AgentError> {
        let mut journals = self.journals()?;
        let before = journals.len();
        journals.retain(|kept| kept.row != row);
        if journals.len() == before {
            return Ok(());
        }
        self.write(&self.journal_path(), &journals)
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
            output_bytes: Some(5),
            message: None,
            transient: false,
            steps: Vec::new(),
            version: None,
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
    fn journals_survive_a_reopen_one_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let spool = Spool::open(&path).unwrap();
        assert!(spool.journals().unwrap().is_empty());
        let journal = |row, attempt| Journal {
            row,
            attempt,
            steps: vec![StepRecord {
                position: 0,
                action: "run client-post-install".to_owned(),
                result: opm_model::StepResult::Passed,
                passed_in: None,
                started_ms: 1,
                ended_ms: Some(2),
                exit_code: Some(0),
                output: "done\n".to_owned(),
                output_bytes: Some(5),
            }],
        };
        spool.keep_journal(&journal(1, 10)).unwrap();
        spool.keep_journal(&journal(2, 11)).unwrap();
        spool.keep_journal(&journal(1, 12)).unwrap();
        drop(spool);
        let again = Spool::open(&path).unwrap();
        assert_eq!(again.journals().unwrap(), [journal(2, 11), journal(1, 12)]);
        again.drop_journal(2).unwrap();
        again.drop_journal(7).unwrap();
        assert_eq!(again.journals().unwrap(), [journal(1, 12)]);
        std::fs::write(dir.path().join("agent.steps"), "[{").unwrap();
        let error = again.journals().unwrap_err();
        assert!(
            error.to_string().contains("is not a step journal"),
            "{error}"
        );
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
