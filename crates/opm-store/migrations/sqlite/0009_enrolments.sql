-- Node enrolments (opm node enroll): one-use tokens that an agent trades at
-- first contact for a token of its own. Only hashes are kept, of both. A
-- redeemed enrolment stays, so a second use is told "already used", and the
-- agent's hash is kept with it, so the same agent asking again after a crash
-- is recognised. A newer enrolment of a node replaces the older ones.
CREATE TABLE enrolments (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    agent_hash TEXT
);
CREATE INDEX enrolments_by_node ON enrolments (node_id, id);
