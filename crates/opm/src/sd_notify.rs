//! The service manager's notification protocol (sd_notify(3)), spoken by
//! `opm server` and `opm agent` so their units can be `Type=notify`:
//! `READY=1` once the daemon does its job (listening; the server answered),
//! `STOPPING=1` once it was asked to stop, with a `STATUS=` line for
//! `systemctl status`. Each message is one datagram to the unix socket
//! `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace);
//! without that variable (a shell, a test, another init system) nothing is
//! sent. Children inherit the variable, but systemd's default
//! `NotifyAccess=main` ignores what they send.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

/// The variable systemd names its socket in.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Where a daemon's notifications go, if anywhere.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// `opm server`, `opm agent`: who says it, in warnings.
    daemon: &'static str,
    socket: Option<SocketAddr>,
}

impl Notifier {
    /// The notifier systemd asked for through `NOTIFY_SOCKET`.
    pub fn from_env(daemon: &'static str) -> Notifier {
        Notifier::from_value(daemon, std::env::var_os(NOTIFY_SOCKET))
    }

    /// The notifier for a `NOTIFY_SOCKET` of `value`: one that sends
    /// nothing when it is unset or empty, or (said on stderr) unusable:
    /// the daemon still works, and the service manager's start timeout
    /// tells the admin.
    fn from_value(daemon: &'static str, value: Option<OsString>) -> Notifier {
        let socket = match value {
            Some(value) if !value.is_empty() => match socket_addr(&value) {
                Ok(socket) => Some(socket),
                Err(error) => {
                    eprintln!("{daemon}: not telling the service manager anything: {error}");
                    None
                }
            },
            _ => None,
        };
        Notifier { daemon, socket }
    }

    /// `READY=1`: the daemon does its job now; `status` says how.
    pub fn ready(&self, status: &str) {
        self.tell("READY=1", status);
    }

    /// `STOPPING=1`: the daemon was asked to stop and is winding down.
    pub fn stopping(&self, status: &str) {
        self.tell("STOPPING=1", status);
    }

    /// Sends `state` with `status`; a failure is said on stderr and
    /// otherwise ignored: the daemon goes on either way.
    fn tell(&self, state: &str, status: &str) {
        // A newline in the status would start another assignment.
        let message = format!("{state}\nSTATUS={}", status.replace('\n', " "));
        if let Err(error) = self.send(&message) {
            eprintln!(
                "{}: cannot tell the service manager {state}: {error}",
                self.daemon
            );
        }
    }

    /// Sends one datagram; nothing when there is no socket to send it to.
    fn send(&self, message: &str) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let sent = UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), socket)?;
        if sent != message.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of the {} bytes of a notification",
                message.len()
            )));
        }
        Ok(())
    }
}

/// The address `NOTIFY_SOCKET` names: `/path` or `@abstract-name`.
fn socket_addr(value: &OsStr) -> io::Result<SocketAddr> {
    match value.as_bytes().split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name),
        Some((b'/', _)) => SocketAddr::from_pathname(Path::new(value)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{NOTIFY_SOCKET}='{}' is neither an absolute path nor @name",
                value.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use super::Notifier;

    fn received(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buffer = [0u8; 4096];
        let length = socket.recv(&mut buffer).unwrap();
        String::from_utf8(buffer[..length].to_vec()).unwrap()
    }

    #[test]
    fn messages_reach_a_socket_named_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::from_value("test", Some(path.into_os_string()));
        notifier.ready("listening on\nhttp://x");
        assert_eq!(received(&socket), "READY=1\nSTATUS=listening on http://x");
        notifier.stopping("stopping");
        assert_eq!(received(&socket), "STOPPING=1\nSTATUS=stopping");
    }

    #[test]
    fn messages_reach_an_abstract_socket() {
        let name = format!("opm-sd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::from_value("test", Some(OsString::from(format!("@{name}"))));
        notifier.ready("up");
        assert_eq!(received(&socket), "READY=1\nSTATUS=up");
    }

    #[test]
    fn unset_empty_or_relative_sends_nothing() {
        for value in [None, Some(""), Some("notify"), Some("./notify")] {
            let notifier = Notifier::from_value("test", value.map(OsString::from));
            assert!(notifier.socket.is_none(), "{value:?}");
            notifier.send("READY=1").unwrap();
        }
    }

    #[test]
    fn a_socket_nobody_listens_on_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let notifier = Notifier::from_value("test", Some(dir.path().join("gone").into_os_string()));
        assert!(notifier.send("READY=1").is_err());
    }
}
