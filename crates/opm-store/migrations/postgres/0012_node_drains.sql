-- Nodes opm drained (or found drained) through the cluster's scheduler
-- before their packages change (issue 20), so a restarted server goes on
-- waiting, or resumes the node once its work is over. `state` is
-- opm_model::DrainState's stored name; `since_ms` is when opm asked for
-- the drain, from which drain_timeout counts and after which a failed
-- row is noted as resumed. No row: opm has not drained the node.
CREATE TABLE node_drains (
    node_id  BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    state    TEXT NOT NULL CHECK (state IN ('draining', 'drained', 'drained-by-others')),
    since_ms BIGINT NOT NULL
);
