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

impl Phase {
    /// What the operator should hear when the phase moves from `self` to
    /// `to`: moving backwards does not undo the stages its gates let run,
    /// and skipping phases lets the later gates' stages run with the
    /// skipped phases' work never done.
    pub fn change_warning(self, to: Phase) -> Option<String> {
        let position = |phase: Phase| Phase::ALL.iter().position(|p| *p == phase);
        let (from_at, to_at) = (position(self)?, position(to)?);
        if to_at < from_at {
            Some(format!(
                "the phase moves backwards ({self} to {to}): stages that ran under later \
                 phases are not undone, and rows still waiting for those phases wait again"
            ))
        } else if to_at > from_at + 1 {
            let skipped: Vec<&str> = Phase::ALL[from_at + 1..to_at]
                .iter()
                .map(|phase| phase.name())
                .collect();
            Some(format!(
                "the phase skips {} ({self} to {to}): the stages gated by the phases \
                 skipped run now without them",
                skipped.join(", ")
            ))
        } else {
            None
        }
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

    #[test]
    fn moving_backwards_or_skipping_warns_and_one_step_does_not() {
        assert_eq!(Phase::SetupWizard.change_warning(Phase::BuildImage), None);
        assert_eq!(Phase::Complete.change_warning(Phase::Complete), None);
        let back = Phase::Complete.change_warning(Phase::Netboot).unwrap();
        assert!(back.contains("backwards (complete to netboot)"), "{back}");
        let skip = Phase::BuildImage
            .change_warning(Phase::PostInstall)
            .unwrap();
        assert!(skip.contains("skips addclients, netboot"), "{skip}");
    }
}
