//! Checks before a script starts, and the reading of failed starts, so that a
//! missing, non-executable or badly interpreted script gets a message that says
//! what is wrong instead of a bare "No such file or directory".

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::error::ScriptError;
use super::invocation::{CHROOT_SHELL, ScriptInvocation};

/// The interpreter named on a `#!` line, if the bytes start with one.
pub fn shebang_interpreter(first_bytes: &[u8]) -> Option<String> {
    let rest = first_bytes.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
    let line = String::from_utf8_lossy(line);
    line.split_whitespace().next().map(str::to_owned)
}

/// The first bytes of a file (enough for its `#!` line); empty if unreadable.
fn first_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        // An unreadable file only weakens the message, never the run.
        let _ = file.take(512).read_to_end(&mut bytes);
    }
    bytes
}

/// Checks what can be checked before starting: package dir, script file and
/// its execute bits, and in chroot mode the image root, its `/bin/sh` and the
/// script's interpreter inside the image.
pub(crate) fn before_start(invocation: &ScriptInvocation) -> Result<(), ScriptError> {
    if let Some(root) = &invocation.chroot {
        if !root.is_dir() {
            return Err(ScriptError::ChrootRootMissing { root: root.clone() });
        }
        if exists_in_image(root, Path::new(CHROOT_SHELL)).is_none() {
            return Err(ScriptError::ChrootShellMissing { root: root.clone() });
        }
    }
    let package_dir = invocation.host_path(&invocation.package_dir);
    if !package_dir.is_dir() {
        return Err(ScriptError::PackageDirMissing { path: package_dir });
    }
    let script = invocation.host_path(&invocation.script);
    let metadata = match std::fs::symlink_metadata(&script) {
        Ok(metadata) => metadata,
        Err(_) => return Err(ScriptError::NotFound { path: script }),
    };
    // A symlink inside an image may point to an absolute in-image path that
    // means nothing on the host; leave such scripts to the start itself.
    let metadata = if metadata.is_symlink() && invocation.chroot.is_none() {
        std::fs::metadata(&script).map_err(|_| ScriptError::NotFound {
            path: script.clone(),
        })?
    } else {
        metadata
    };
    if metadata.is_symlink() {
        return Ok(());
    }
    if !metadata.is_file() {
        return Err(ScriptError::NotAFile { path: script });
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(ScriptError::NotExecutable { path: script });
    }
    if let Some(root) = &invocation.chroot
        && let Some(interpreter) = shebang_interpreter(&first_bytes(&script))
        && exists_in_image(root, Path::new(&interpreter)).is_none()
    {
        return Err(ScriptError::BadInterpreter {
            path: script,
            interpreter,
            place: format!(" in image root {}", root.display()),
        });
    }
    Ok(())
}

/// The host path of an absolute in-image path if something is there (a
/// symlink counts: its target is resolved inside the image, not here).
fn exists_in_image(root: &Path, path: &Path) -> Option<PathBuf> {
    let host = root.join(path.strip_prefix("/").unwrap_or(path));
    std::fs::symlink_metadata(&host).ok().map(|_| host)
}

/// Turns a failed start of a host script into the error that explains it.
/// `program` is what was executed: the script, or the chroot program.
pub(crate) fn start_error(
    invocation: &ScriptInvocation,
    program: &Path,
    error: std::io::Error,
) -> ScriptError {
    let path = invocation.host_path(&invocation.script);
    if invocation.chroot.is_some() {
        // The chroot program itself failed to start; the script never got a chance.
        return ScriptError::Spawn {
            path: program.to_path_buf(),
            source: error,
        };
    }
    match (error.kind(), error.raw_os_error()) {
        // The script exists (checked before), so a missing file is its interpreter.
        (std::io::ErrorKind::NotFound, _) => ScriptError::BadInterpreter {
            interpreter: shebang_interpreter(&first_bytes(&path))
                .unwrap_or_else(|| "(unreadable)".to_owned()),
            path,
            place: String::new(),
        },
        (std::io::ErrorKind::PermissionDenied, _) => ScriptError::ExecDenied { path },
        (_, Some(code)) if code == nix::errno::Errno::ENOEXEC as i32 => {
            ScriptError::NoInterpreter { path }
        }
        _ => ScriptError::Spawn {
            path,
            source: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_interpreter_is_the_first_word() {
        assert_eq!(
            shebang_interpreter(b"#!/bin/sh\necho"),
            Some("/bin/sh".into())
        );
        assert_eq!(
            shebang_interpreter(b"#! /usr/bin/env perl -w\n"),
            Some("/usr/bin/env".into())
        );
        assert_eq!(
            shebang_interpreter(b"#!/bin/bash"),
            Some("/bin/bash".into())
        );
    }

    #[test]
    fn no_shebang_means_no_interpreter() {
        assert_eq!(shebang_interpreter(b"echo hi\n"), None);
        assert_eq!(shebang_interpreter(b"#!\n"), None);
        assert_eq!(shebang_interpreter(b""), None);
        assert_eq!(shebang_interpreter(b"\x7fELF"), None);
    }
}
