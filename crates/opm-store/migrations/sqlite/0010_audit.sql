-- The audit trail: who asked for which operator action, and when. Kept
-- apart from history because its actions are cluster-level too (phase,
-- node, image), where history's opkg and target columns have no value.
-- `actor` is the Unix user for a local CLI, the API token's name for a
-- call through the API; `subject` is what the action was about (an opkg
-- and its target, a node, an image, a config key), as the operator said it.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL CHECK (action IN ('install', 'remove', 'request', 'phase',
        'node-add', 'node-remove', 'image-add', 'image-remove', 'config-set', 'retry', 'rerun')),
    subject TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at_ms, id);
