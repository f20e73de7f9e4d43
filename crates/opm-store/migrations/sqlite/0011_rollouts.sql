-- Rollouts (SPEC §1.10): work on nodes spread out by a policy. A rollout
-- covers the rows of its opkgs on its member nodes; a member node gets
-- work only once the rollout started it (`started_ms`). Which members
-- start is `opm_plan::decide_rollout`'s, from the policy, the state and
-- the members' rows, so a restarted server goes on where it stopped.
-- `generation` grows with every start, so two deciders (the server and
-- a node's `opm run`) cannot both start nodes from one view.
CREATE TABLE rollouts (
    id             INTEGER PRIMARY KEY,
    label          TEXT NOT NULL,
    -- The opkgs, by name, separated by single spaces.
    packages       TEXT NOT NULL,
    max_parallel   TEXT,
    max_failures   TEXT,
    canary         INTEGER CHECK (canary >= 0),
    state          TEXT NOT NULL CHECK (state IN ('running', 'paused', 'aborted', 'done')),
    -- Why it paused; empty otherwise.
    message        TEXT NOT NULL DEFAULT '',
    -- Whether some canary node has not finished: what a waiting node is told.
    canary_pending INTEGER NOT NULL DEFAULT 0 CHECK (canary_pending IN (0, 1)),
    members        INTEGER NOT NULL DEFAULT 0,
    generation     INTEGER NOT NULL DEFAULT 0,
    -- A later command for the same opkgs replaced it: it holds no node back.
    closed         INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
    created_ms     INTEGER NOT NULL,
    changed_ms     INTEGER NOT NULL
);

-- A rollout's nodes, in the order they joined (`seq` from 0): the order
-- they start in. A node added while the rollout runs joins at the end.
CREATE TABLE rollout_members (
    rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    started_ms INTEGER,
    PRIMARY KEY (rollout_id, node_id)
);
CREATE INDEX rollout_members_by_seq ON rollout_members (rollout_id, seq);
CREATE INDEX rollout_members_node ON rollout_members (node_id);

-- The audit trail learns the rollout actions: SQLite cannot change a
-- CHECK, so the table is rebuilt with its rows and ids.
CREATE TABLE audit_new (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL CHECK (action IN ('install', 'remove', 'request', 'phase',
        'node-add', 'node-remove', 'image-add', 'image-remove', 'config-set', 'retry', 'rerun',
        'rollout-resume', 'rollout-abort')),
    subject TEXT NOT NULL
);
INSERT INTO audit_new (id, at_ms, actor, action, subject)
    SELECT id, at_ms, actor, action, subject FROM audit;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_by_time ON audit (at_ms, id);
