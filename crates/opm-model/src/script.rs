//! The opkg API scripts opm runs (SPEC §1.1, §1.5, §1.7): one spelling each,
//! plus the legacy names OSCAR still honoured.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which native package ships a file (SPEC §1.7, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// `opkg-<p>`: installed on the head node.
    Api,
    /// `opkg-<p>-server`.
    Server,
    /// `opkg-<p>-client`: installed on nodes and into images.
    Client,
}

impl Part {
    /// Every part.
    pub const ALL: [Part; 3] = [Part::Api, Part::Server, Part::Client];

    /// The part a script file belongs to, by its name (`server-*`, `client-*`,
    /// everything else in the api package).
    pub fn of_file(file_name: &str) -> Part {
        if file_name.starts_with("server-") {
            Part::Server
        } else if file_name.starts_with("client-") {
            Part::Client
        } else {
            Part::Api
        }
    }

    /// The native package name of this part of opkg `package`.
    pub fn native_name(self, package: &str) -> String {
        match self {
            Part::Api => format!("opkg-{package}"),
            Part::Server => format!("opkg-{package}-server"),
            Part::Client => format!("opkg-{package}-client"),
        }
    }

    /// The name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Part::Api => "api",
            Part::Server => "server",
            Part::Client => "client",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API script that opm runs at some stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Script {
    /// Stage 2, before the api package's install completes.
    ApiPreInstall,
    /// Stage 2, after the api package is installed.
    ApiPostInstall,
    /// Stage 3, before configuration values are settled.
    ApiPreConfigure,
    /// Stage 3, after configuration values are settled.
    ApiPostConfigure,
    /// Stage 4 on the server, after `opkg-<p>-server` is installed.
    ServerPostInstall,
    /// Stage 4 on a node or (chrooted) in an image, after `opkg-<p>-client`.
    ClientPostInstall,
    /// Stage 5 on the server, once per image, with the image root as `$1`.
    ApiPostImage,
    /// Stage 6 on the server, once compute nodes are defined.
    ApiPostClientdef,
    /// Stage 7 on the server, after the nodes are deployed.
    ApiPostDeploy,
    /// Uninstall on the server, first.
    ApiPreUninstall,
    /// Uninstall on the server, before `opkg-<p>-server` is removed.
    ServerPreUninstall,
    /// Uninstall on the server, after `opkg-<p>-server` is removed.
    ServerPostUninstall,
    /// Uninstall on the server, before `opkg-<p>` is removed.
    ApiPostUninstall,
    /// Uninstall on a node or image, before `opkg-<p>-client` is removed.
    ClientPreUninstall,
    /// Uninstall on a node or image, after `opkg-<p>-client` is removed.
    ClientPostUninstall,
}

/// A script name that is neither canonical nor a known legacy alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown script '{given}'")]
pub struct UnknownScript {
    /// What was given.
    pub given: String,
}

impl Script {
    /// Every script opm runs.
    pub const ALL: [Script; 15] = [
        Script::ApiPreInstall,
        Script::ApiPostInstall,
        Script::ApiPreConfigure,
        Script::ApiPostConfigure,
        Script::ServerPostInstall,
        Script::ClientPostInstall,
        Script::ApiPostImage,
        Script::ApiPostClientdef,
        Script::ApiPostDeploy,
        Script::ApiPreUninstall,
        Script::ServerPreUninstall,
        Script::ServerPostUninstall,
        Script::ApiPostUninstall,
        Script::ClientPreUninstall,
        Script::ClientPostUninstall,
    ];

    /// The canonical file name in `<pkgdir>/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Script::ApiPreInstall => "api-pre-install",
            Script::ApiPostInstall => "api-post-install",
            Script::ApiPreConfigure => "api-pre-configure",
            Script::ApiPostConfigure => "api-post-configure",
            Script::ServerPostInstall => "server-post-install",
            Script::ClientPostInstall => "client-post-install",
            Script::ApiPostImage => "api-post-image",
            Script::ApiPostClientdef => "api-post-clientdef",
            Script::ApiPostDeploy => "api-post-deploy",
            Script::ApiPreUninstall => "api-pre-uninstall",
            Script::ServerPreUninstall => "server-pre-uninstall",
            Script::ServerPostUninstall => "server-post-uninstall",
            Script::ApiPostUninstall => "api-post-uninstall",
            Script::ClientPreUninstall => "client-pre-uninstall",
            Script::ClientPostUninstall => "client-post-uninstall",
        }
    }

    /// Older names OSCAR's package scripts still used for the same hook
    /// (OSCAR::Package %PHASES), oldest last.
    pub fn legacy_names(self) -> &'static [&'static str] {
        match self {
            Script::ApiPreInstall => &["setup"],
            Script::ApiPreConfigure => &["pre_configure"],
            Script::ApiPostConfigure => &["post_configure"],
            Script::ServerPostInstall => &[
                "server-post_install",
                "post_server_install",
                "post_server_rpm_install",
            ],
            Script::ClientPostInstall => &[
                "client-post_install",
                "post_client_rpm_install",
                "post_rpm_install",
            ],
            Script::ApiPostImage => &["post_rpm_nochroot"],
            Script::ApiPostClientdef => &["api-post-clients", "post_clients"],
            Script::ApiPostDeploy => &["post_install"],
            Script::ServerPostUninstall => &["post_server_rpm_uninstall"],
            Script::ClientPostUninstall => &["post_client_rpm_uninstall"],
            Script::ApiPostInstall
            | Script::ApiPreUninstall
            | Script::ServerPreUninstall
            | Script::ApiPostUninstall
            | Script::ClientPreUninstall => &[],
        }
    }

    /// The script a file name stands for, canonical or legacy.
    pub fn from_file_name(name: &str) -> Option<Script> {
        Script::ALL
            .into_iter()
            .find(|s| s.file_name() == name || s.legacy_names().contains(&name))
    }

    /// The native package that ships this script.
    pub fn part(self) -> Part {
        Part::of_file(self.file_name())
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

impl TryFrom<String> for Script {
    type Error = UnknownScript;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Script::from_file_name(&value).ok_or(UnknownScript { given: value })
    }
}

impl From<Script> for &'static str {
    fn from(script: Script) -> Self {
        script.file_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_legacy_names_resolve() {
        for script in Script::ALL {
            assert_eq!(Script::from_file_name(script.file_name()), Some(script));
            for legacy in script.legacy_names() {
                assert_eq!(Script::from_file_name(legacy), Some(script));
            }
        }
        // SPEC §9 trap 6: the prototype's wrong names map to the real hooks.
        assert_eq!(
            Script::from_file_name("api-post-clients"),
            Some(Script::ApiPostClientdef)
        );
        assert_eq!(
            Script::from_file_name("post_install"),
            Some(Script::ApiPostDeploy)
        );
        assert_eq!(
            Script::from_file_name("api-post-install"),
            Some(Script::ApiPostInstall)
        );
        assert_eq!(Script::from_file_name("SLURM.pm"), None);
    }

    #[test]
    fn names_are_unique_across_all_scripts() {
        let mut seen = std::collections::HashSet::new();
        for script in Script::ALL {
            for name in
                std::iter::once(script.file_name()).chain(script.legacy_names().iter().copied())
            {
                assert!(seen.insert(name), "{name} names two scripts");
            }
        }
    }

    #[test]
    fn parts_follow_the_prefix() {
        assert_eq!(Script::ServerPreUninstall.part(), Part::Server);
        assert_eq!(Script::ClientPostInstall.part(), Part::Client);
        assert_eq!(Script::ApiPostImage.part(), Part::Api);
        assert_eq!(Part::of_file("post_clients"), Part::Api);
        assert_eq!(Part::Server.native_name("slurm"), "opkg-slurm-server");
        assert_eq!(Part::Api.native_name("slurm"), "opkg-slurm");
        assert_eq!(Part::Client.native_name("slurm"), "opkg-slurm-client");
    }
}
