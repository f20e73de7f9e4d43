//! The vocabulary of rollouts (SPEC §1.10): a [`Limit`] given as a count
//! or a percentage of the rollout's nodes, the [`RolloutPolicy`] an
//! operator asks for (`--max-parallel`, `--max-failures`, `--canary`) and
//! the [`RolloutState`] a rollout is in. The rule that applies them is
//! `opm_plan::rollout`'s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of nodes, or a percentage of a rollout's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// So many nodes.
    Count(u32),
    /// This percentage (0 to 100) of the rollout's nodes.
    Percent(u8),
}

impl Limit {
    /// The limit for a rollout of `total` nodes, rounded down: 10% of 15
    /// nodes is 1.
    pub fn of(self, total: usize) -> usize {
        match self {
            Limit::Count(count) => usize::try_from(count).unwrap_or(usize::MAX),
            Limit::Percent(percent) => total.saturating_mul(usize::from(percent)) / 100,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Count(count) => write!(f, "{count}"),
            Limit::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

/// A [`Limit`] that is neither a count nor a percentage from 0 to 100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a number of nodes or a percentage from 0% to 100% (e.g. 5 or 10%)")]
pub struct BadLimit(pub String);

impl FromStr for Limit {
    type Err = BadLimit;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadLimit(text.to_owned());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(percent) = text.strip_suffix('%') {
            if !digits(percent) {
                return Err(bad());
            }
            match percent.parse::<u8>() {
                Ok(percent) if percent <= 100 => Ok(Limit::Percent(percent)),
                _ => Err(bad()),
            }
        } else if digits(text) {
            text.parse().map(Limit::Count).map_err(|_| bad())
        } else {
            Err(bad())
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How work on nodes is spread out; every part optional. A policy with no
/// part set is no rollout: every node starts at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutPolicy {
    /// At most this many nodes change at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<Limit>,
    /// When more nodes than this have failed, no new node starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<Limit>,
    /// So many nodes first; the others only after all of them finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<u32>,
}

impl RolloutPolicy {
    /// Whether the policy bounds anything (otherwise no rollout is kept).
    pub fn is_set(&self) -> bool {
        self.max_parallel.is_some() || self.max_failures.is_some() || self.canary.is_some()
    }

    /// Checks what a count or percentage alone cannot say.
    ///
    /// # Errors
    /// A `max_parallel` that would start no node (0 or 0%), naming it.
    pub fn check(&self) -> Result<(), String> {
        match self.max_parallel {
            Some(Limit::Count(0) | Limit::Percent(0)) => Err(
                "max-parallel 0 would start no node; give at least 1 (or 1%), or leave it out"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// This policy, with each part it leaves out taken from `defaults`
    /// (the settings file's).
    pub fn or(self, defaults: RolloutPolicy) -> RolloutPolicy {
        RolloutPolicy {
            max_parallel: self.max_parallel.or(defaults.max_parallel),
            max_failures: self.max_failures.or(defaults.max_failures),
            canary: self.canary.or(defaults.canary),
        }
    }
}

impl fmt::Display for RolloutPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(limit) = self.max_parallel {
            parts.push(format!("max-parallel {limit}"));
        }
        if let Some(limit) = self.max_failures {
            parts.push(format!("max-failures {limit}"));
        }
        if let Some(canary) = self.canary {
            parts.push(format!("canary {canary}"));
        }
        if parts.is_empty() {
            f.write_str("no limits")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RolloutState {
    /// Nodes start as the policy allows.
    Running,
    /// Too many nodes failed: no new node starts until `opm rollout resume`.
    Paused,
    /// `opm rollout abort`: no new node starts; finished nodes stay as they are.
    Aborted,
    /// Every node finished.
    Done,
}

impl RolloutState {
    /// Every state.
    pub const ALL: [RolloutState; 4] = [
        RolloutState::Running,
        RolloutState::Paused,
        RolloutState::Aborted,
        RolloutState::Done,
    ];

    /// The state's name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Aborted => "aborted",
            RolloutState::Done => "done",
        }
    }

    /// Whether the rollout still holds back nodes it has not started
    /// (all but `done`: an aborted rollout keeps them back until a new
    /// command for its opkgs replaces it).
    pub fn holds(self) -> bool {
        self != RolloutState::Done
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`RolloutState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rollout state '{0}'")]
pub struct UnknownRolloutState(pub String);

impl FromStr for RolloutState {
    type Err = UnknownRolloutState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RolloutState::ALL
            .into_iter()
            .find(|state| state.name() == text)
            .ok_or_else(|| UnknownRolloutState(text.to_owned()))
    }
}

impl Serialize for RolloutState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RolloutState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_counts_or_percentages() {
        assert_eq!("3".parse(), Ok(Limit::Count(3)));
        assert_eq!("10%".parse(), Ok(Limit::Percent(10)));
        assert_eq!("100%".parse(), Ok(Limit::Percent(100)));
        for bad in ["", "%", "-1", "101%", "1.5", "10 %", "x%", "+3", "1e3"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad:?}");
        }
        assert_eq!(Limit::Percent(10).of(15), 1);
        assert_eq!(Limit::Percent(10).of(10_000), 1000);
        assert_eq!(Limit::Count(4).of(2), 4);
    }

    #[test]
    fn a_policy_starts_at_least_one_node() {
        let zero = RolloutPolicy {
            max_parallel: Some(Limit::Percent(0)),
            ..RolloutPolicy::default()
        };
        assert!(zero.check().is_err());
        assert!(RolloutPolicy::default().check().is_ok());
        assert!(!RolloutPolicy::default().is_set());
    }

    #[test]
    fn states_round_trip_by_name() {
        for state in RolloutState::ALL {
            assert_eq!(state.name().parse(), Ok(state));
        }
    }
}
