//! Who runs this CLI, for the audit trail: the user who ran `sudo` when
//! there is one (`SUDO_USER`), else the name of the process's user. It
//! names honest operators, it is no security boundary: whoever runs opm
//! on the database host can write the database anyway. Through `--remote`
//! the server records the admin token's name instead (it cannot see the
//! Unix user behind the call).

use nix::unistd::{Uid, User};
use opm_engine::operate::Actor;

/// The actor of this process.
pub fn unix_actor() -> Actor {
    if let Some(user) = std::env::var_os("SUDO_USER").filter(|user| !user.is_empty()) {
        return Actor(user.to_string_lossy().into_owned());
    }
    let uid = Uid::current();
    match User::from_uid(uid) {
        Ok(Some(user)) => Actor(user.name),
        // No passwd entry (a container's arbitrary uid): the number is
        // still who it was.
        _ => Actor(format!("uid {uid}")),
    }
}
