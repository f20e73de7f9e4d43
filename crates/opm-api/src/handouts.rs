//! What the server handed out under each node's lease: a start report is
//! taken only for a stage the node's last poll got, under that poll's
//! lease token. So an agent (an old or buggy one, or a stolen token) that
//! holds a current lease still cannot begin a stage the planner did not
//! decide for it: one behind a closed gate or an unmet dependency.
//!
//! The ledger lives in the server's memory: after a restart it is empty,
//! the agent's next start is refused as not handed out (409), and the agent
//! polls again and gets its work under a new lease, as after any lease
//! moved on.

use std::collections::BTreeMap;
use std::sync::Mutex;

use opm_model::{Name, Stage};

/// The stages handed out per node, under the newest lease token seen.
#[derive(Debug, Default)]
pub struct Handouts {
    by_node: Mutex<BTreeMap<Name, Handout>>,
}

/// One node's batch: its lease token and each row's stage.
#[derive(Debug)]
struct Handout {
    token: u64,
    stages: BTreeMap<i64, Stage>,
}

impl Handouts {
    /// Notes that `node`'s poll got `stages` (row id, stage) under lease
    /// `token`. An older token than the one noted (two polls of one node
    /// crossing) changes nothing: its reports are stale anyway.
    pub fn hand_out(
        &self,
        node: &Name,
        token: u64,
        stages: impl IntoIterator<Item = (i64, Stage)>,
    ) {
        let mut by_node = self
            .by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_node.get(node).is_some_and(|noted| noted.token > token) {
            return;
        }
        by_node.insert(
            node.clone(),
            Handout {
                token,
                stages: stages.into_iter().collect(),
            },
        );
    }

    /// Whether `stage` of row `row` was handed out to `node` under lease
    /// `token`.
    pub fn was_handed_out(&self, node: &Name, token: u64, row: i64, stage: Stage) -> bool {
        self.by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(node)
            .is_some_and(|noted| noted.token == token && noted.stages.get(&row) == Some(&stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::NameKind;

    #[test]
    fn only_the_newest_batch_of_a_node_counts() {
        let n1 = Name::new(NameKind::Node, "n1").unwrap();
        let n2 = Name::new(NameKind::Node, "n2").unwrap();
        let handouts = Handouts::default();
        assert!(!handouts.was_handed_out(&n1, 1, 10, Stage::ShouldBeInstalled));
        handouts.hand_out(&n1, 5, [(10, Stage::ShouldBeInstalled)]);
        assert!(handouts.was_handed_out(&n1, 5, 10, Stage::ShouldBeInstalled));
        // Another stage, row, token or node: not handed out.
        assert!(!handouts.was_handed_out(&n1, 5, 10, Stage::InstallBinPkgs));
        assert!(!handouts.was_handed_out(&n1, 5, 11, Stage::ShouldBeInstalled));
        assert!(!handouts.was_handed_out(&n1, 4, 10, Stage::ShouldBeInstalled));
        assert!(!handouts.was_handed_out(&n2, 5, 10, Stage::ShouldBeInstalled));
        // A newer batch replaces the old one; an older one arriving late
        // does not.
        handouts.hand_out(&n1, 6, [(11, Stage::RunConfigurator)]);
        handouts.hand_out(&n1, 5, [(10, Stage::ShouldBeInstalled)]);
        assert!(!handouts.was_handed_out(&n1, 5, 10, Stage::ShouldBeInstalled));
        assert!(handouts.was_handed_out(&n1, 6, 11, Stage::RunConfigurator));
    }
}
