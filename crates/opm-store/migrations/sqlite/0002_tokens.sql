-- API bearer tokens: only their SHA-256 hashes are kept. One admin token
-- (node_id NULL) and at most one token per node; a new one replaces the old.
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    node_id    INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX tokens_one_per_node ON tokens (node_id) WHERE node_id IS NOT NULL;
CREATE UNIQUE INDEX tokens_one_admin ON tokens ((node_id IS NULL)) WHERE node_id IS NULL;
