//! One package-manager run per root at a time, across processes (SPEC §9
//! trap 12): an advisory lock on `var/lib/opm/root.lock` inside the root,
//! holding a line that says who holds it.
//!
//! The lock is the operating system's (`flock` through `File::try_lock`), so a
//! killed holder never leaves a stale lock behind; the text in the file only
//! names the holder for the waiting side's message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{NativeError, Result};
use crate::root::Root;

/// Where the lock file lives, relative to the root.
pub const LOCK_FILE: &str = "var/lib/opm/root.lock";

/// How often a waiting process tries again.
const POLL: Duration = Duration::from_millis(100);

/// A held root lock; dropping it lets go.
#[derive(Debug)]
pub struct RootLock {
    file: File,
    path: PathBuf,
}

impl RootLock {
    /// Takes the root's lock, waiting up to `timeout` for another holder to
    /// finish. `purpose` (e.g. `dpkg install a, b`) is recorded for others to read.
    ///
    /// # Errors
    /// [`NativeError::RootNotWritable`] when the lock file cannot be created,
    /// [`NativeError::Busy`] naming the holder after `timeout`, and
    /// [`NativeError::Lock`] when locking itself fails.
    pub fn acquire(root: &Root, purpose: &str, timeout: Duration) -> Result<Self> {
        // A root removed since it was checked would otherwise read as unwritable.
        if !root.path().is_dir() {
            return Err(NativeError::RootMissing(root.path().to_owned()));
        }
        root.create_dirs(&["var/lib/opm"])?;
        let path = root.join(LOCK_FILE);
        let lock_error = |source| NativeError::Lock {
            root: root.path().to_owned(),
            lock: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| root.not_writable(path.clone(), source))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(POLL.min(timeout.saturating_sub(started.elapsed())));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(NativeError::Busy {
                        root: root.path().to_owned(),
                        lock: path.clone(),
                        holder: holder_of(&mut file),
                        waited: started.elapsed(),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(lock_error(source)),
            }
        }
        let line = holder_line(std::process::id(), purpose, SystemTime::now());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(line.as_bytes()))
            .map_err(|source| root.not_writable(path.clone(), source))?;
        Ok(Self { file, path })
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        // The lock goes with the file handle; clearing the holder line keeps
        // a later reader from naming a process that is long gone.
        let _ignored = self.file.set_len(0);
    }
}

/// The line a holder writes: its process id, what it does and since when.
#[must_use]
pub fn holder_line(pid: u32, purpose: &str, since: SystemTime) -> String {
    let seconds = since
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    format!("pid {pid}: {purpose} (since unix time {seconds})\n")
}

fn holder_of(file: &mut File) -> String {
    let mut text = String::new();
    let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => "another process".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_line_names_pid_purpose_and_time() {
        let since = UNIX_EPOCH + Duration::from_secs(42);
        assert_eq!(
            holder_line(7, "dpkg install a", since),
            "pid 7: dpkg install a (since unix time 42)\n"
        );
    }

    #[test]
    fn a_second_holder_waits_then_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let first = RootLock::acquire(&root, "dpkg install a", Duration::ZERO).unwrap();
        let error =
            RootLock::acquire(&root, "apt install b", Duration::from_millis(250)).unwrap_err();
        let NativeError::Busy { holder, waited, .. } = &error else {
            panic!("{error}");
        };
        assert!(
            holder.starts_with(&format!("pid {}: dpkg install a", std::process::id())),
            "{holder}"
        );
        assert!(*waited >= Duration::from_millis(250));
        assert!(error.to_string().contains("is busy"), "{error}");
        drop(first);
        RootLock::acquire(&root, "apt install b", Duration::ZERO).unwrap();
    }

    #[test]
    fn another_process_holding_the_lock_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        drop(RootLock::acquire(&root, "create the file", Duration::ZERO).unwrap());
        let lock = root.join(LOCK_FILE);
        // util-linux flock(1) takes the same kind of lock from another process.
        let Ok(mut holder) = std::process::Command::new("flock")
            .arg("--exclusive")
            .arg(&lock)
            .args(["--command", "echo held; sleep 2"])
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("SKIPPED: another_process_holding_the_lock_is_waited_for: no flock(1)");
            return;
        };
        let mut line = [0_u8; 5];
        holder.stdout.take().unwrap().read_exact(&mut line).unwrap();
        let error = RootLock::acquire(&root, "opm", Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(&error, NativeError::Busy { holder, .. } if holder == "another process"),
            "{error}"
        );
        RootLock::acquire(&root, "opm", Duration::from_secs(60)).unwrap();
        // The lock only came free because the other process ended.
        let ended = holder.try_wait().unwrap();
        assert!(ended.is_some_and(|status| status.success()), "{ended:?}");
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let first = RootLock::acquire(&root, "first", Duration::ZERO).unwrap();
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || RootLock::acquire(&root, "second", Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        let second = waiter.join().unwrap().unwrap();
        let text = std::fs::read_to_string(second.path()).unwrap();
        assert!(text.contains(": second"), "{text}");
    }
}
