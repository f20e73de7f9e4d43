//! Lifecycle stages (SPEC §1.1): one enum, one spelling, the historic ODA ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::phase::Phase;

/// A lifecycle stage of a row; ordered by its historic ODA id (1–8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Stage {
    /// 1: the uninstalled state.
    ShouldNotBeInstalled = 1,
    /// 2: the api package is installed and its install scripts ran.
    ShouldBeInstalled = 2,
    /// 3: configuration values are settled.
    RunConfigurator = 3,
    /// 4: the server or client binary package is installed.
    InstallBinPkgs = 4,
    /// 5: `api-post-image` ran for every image that has the opkg.
    RunScriptPostImage = 5,
    /// 6: `api-post-clientdef` ran and work was assigned to clients.
    RunScriptPostClients = 6,
    /// 7: `api-post-deploy` ran.
    RunScriptPostInstall = 7,
    /// 8: bookkeeping, fully installed.
    Finished = 8,
}

/// A stage name or id that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage '{given}'; expected one of: {}", Stage::names_joined())]
pub struct UnknownStage {
    /// What was given.
    pub given: String,
}

impl Stage {
    /// Every stage, lowest first.
    pub const ALL: [Stage; 8] = [
        Stage::ShouldNotBeInstalled,
        Stage::ShouldBeInstalled,
        Stage::RunConfigurator,
        Stage::InstallBinPkgs,
        Stage::RunScriptPostImage,
        Stage::RunScriptPostClients,
        Stage::RunScriptPostInstall,
        Stage::Finished,
    ];

    /// The lowest stage, where a row with an unknown current stage counts.
    pub const FIRST: Stage = Stage::ShouldNotBeInstalled;

    /// The historic ODA id (1–8).
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The stage with this ODA id.
    pub fn from_id(id: u8) -> Option<Stage> {
        Stage::ALL.get(usize::from(id).checked_sub(1)?).copied()
    }

    /// The canonical name, exactly as SPEC §1.1 spells it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::ShouldNotBeInstalled => "should_not_be_installed",
            Stage::ShouldBeInstalled => "should_be_installed",
            Stage::RunConfigurator => "run-configurator",
            Stage::InstallBinPkgs => "install-bin-pkgs",
            Stage::RunScriptPostImage => "run-script-post-image",
            Stage::RunScriptPostClients => "run-script-post-clients",
            Stage::RunScriptPostInstall => "run-script-post-install",
            Stage::Finished => "finished",
        }
    }

    /// The stage after this one, if any.
    pub fn next(self) -> Option<Stage> {
        Stage::from_id(self.id() + 1)
    }

    /// The stage before this one, if any.
    pub fn previous(self) -> Option<Stage> {
        Stage::from_id(self.id().checked_sub(1)?)
    }

    /// The cluster phase that must have been reached before this stage may
    /// run (SPEC §1.2); `None` for stages that carry no gate of their own.
    pub fn gate(self) -> Option<Phase> {
        match self {
            Stage::ShouldNotBeInstalled | Stage::Finished => None,
            Stage::ShouldBeInstalled | Stage::RunConfigurator => Some(Phase::SetupWizard),
            Stage::InstallBinPkgs => Some(Phase::BuildImage),
            Stage::RunScriptPostImage => Some(Phase::Addclients),
            Stage::RunScriptPostClients => Some(Phase::PostInstall),
            Stage::RunScriptPostInstall => Some(Phase::TestInstall),
        }
    }

    fn names_joined() -> String {
        Stage::ALL.map(Stage::name).join(", ")
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = UnknownStage;

    /// Accepts the canonical name or the ODA id; nothing else, so a
    /// misspelling is an error rather than a silent second spelling.
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownStage {
            given: given.to_owned(),
        };
        if let Some(stage) = Stage::ALL.into_iter().find(|s| s.name() == given) {
            return Ok(stage);
        }
        if !given.is_empty() && given.bytes().all(|b| b.is_ascii_digit()) {
            return given
                .parse::<u8>()
                .ok()
                .and_then(Stage::from_id)
                .ok_or_else(unknown);
        }
        Err(unknown())
    }
}

impl TryFrom<String> for Stage {
    type Error = UnknownStage;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Stage> for &'static str {
    fn from(stage: Stage) -> Self {
        stage.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for (index, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(stage.id()), index + 1);
            assert_eq!(Stage::from_id(stage.id()), Some(stage));
            assert_eq!(stage.name().parse::<Stage>(), Ok(stage));
            assert_eq!(stage.id().to_string().parse::<Stage>(), Ok(stage));
            assert_eq!(stage.to_string(), stage.name());
        }
    }

    #[test]
    fn names_are_spelled_as_the_spec_table() {
        let names: Vec<_> = Stage::ALL.map(Stage::name).to_vec();
        assert_eq!(
            names,
            [
                "should_not_be_installed",
                "should_be_installed",
                "run-configurator",
                "install-bin-pkgs",
                "run-script-post-image",
                "run-script-post-clients",
                "run-script-post-install",
                "finished"
            ]
        );
    }

    #[test]
    fn the_prototype_misspelling_is_refused() {
        // SPEC §9 trap 3: one spelling only.
        let error = "should-be-installed".parse::<Stage>().unwrap_err();
        assert!(error.to_string().contains("should_be_installed"));
        for bad in ["", "0", "9", "255", "256", "Finished", " finished", "+2"] {
            assert!(bad.parse::<Stage>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn order_follows_ids_and_neighbours_link_up() {
        assert!(Stage::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Stage::ShouldNotBeInstalled.previous(), None);
        assert_eq!(Stage::Finished.next(), None);
        for pair in Stage::ALL.windows(2) {
            assert_eq!(pair[0].next(), Some(pair[1]));
            assert_eq!(pair[1].previous(), Some(pair[0]));
        }
    }

    #[test]
    fn gates_follow_the_spec_table() {
        use Phase::*;
        let gates = Stage::ALL.map(Stage::gate);
        assert_eq!(
            gates,
            [
                None,
                Some(SetupWizard),
                Some(SetupWizard),
                Some(BuildImage),
                Some(Addclients),
                Some(PostInstall),
                Some(TestInstall),
                None
            ]
        );
    }

    #[test]
    fn serde_uses_the_names() {
        let json = serde_json::to_string(&Stage::RunConfigurator).unwrap();
        assert_eq!(json, "\"run-configurator\"");
        let back: Stage = serde_json::from_str("\"install-bin-pkgs\"").unwrap();
        assert_eq!(back, Stage::InstallBinPkgs);
        assert!(serde_json::from_str::<Stage>("\"install_bin_pkgs\"").is_err());
    }
}
