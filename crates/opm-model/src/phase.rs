//! The cluster install phase (SPEC §1.2), set by "some other tool".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How far the cluster's own install has progressed; ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Phase {
    /// The install wizard is being set up.
    SetupWizard,
    /// Node images are being built.
    BuildImage,
    /// Compute nodes are being defined.
    Addclients,
    /// Nodes are being network-booted and imaged.
    Netboot,
    /// Nodes are up; post-install configuration.
    PostInstall,
    /// The cluster is being tested.
    TestInstall,
    /// The cluster is set up; every gate is open.
    Complete,
}

/// A phase name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phase '{given}'; expected one of: {}", Phase::ALL.map(Phase::name).join(", "))]
pub struct UnknownPhase {
    /// What was given.
    pub given: String,
}

impl Phase {
    /// Every phase, earliest first.
    pub const ALL: [Phase; 7] = [
        Phase::SetupWizard,
        Phase::BuildImage,
        Phase::Addclients,
        Phase::Netboot,
        Phase::PostInstall,
        Phase::TestInstall,
        Phase::Complete,
    ];

    /// The canonical name, exactly as SPEC §1.2 spells it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::SetupWizard => "setup_wizard",
            Phase::BuildImage => "build_image",
            Phase::Addclients => "addclients",
            Phase::Netboot => "netboot",
            Phase::PostInstall => "post_install",
            Phase::TestInstall => "test_install",
            Phase::Complete => "complete",
        }
    }

    /// Whether a stage gated at `gate` may run while the cluster is in this
    /// phase.
    pub fn opens(self, gate: Phase) -> bool {
        self >= gate
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Phase {
    type Err = UnknownPhase;
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == given)
            .ok_or_else(|| UnknownPhase {
                given: given.to_owned(),
            })
    }
}

impl TryFrom<String> for Phase {
    type Error = UnknownPhase;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Phase> for &'static str {
    fn from(phase: Phase) -> Self {
        phase.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
        for phase in Phase::ALL {
            assert_eq!(phase.name().parse::<Phase>(), Ok(phase));
        }
        assert!("post-install".parse::<Phase>().is_err());
    }

    #[test]
    fn complete_opens_every_gate_and_setup_only_its_own() {
        for gate in Phase::ALL {
            assert!(Phase::Complete.opens(gate));
            assert_eq!(Phase::SetupWizard.opens(gate), gate == Phase::SetupWizard);
        }
    }
}
