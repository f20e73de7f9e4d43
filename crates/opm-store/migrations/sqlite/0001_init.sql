-- The opm state store, SQLite dialect. Stages are stored as their ODA ids
-- (1-8), phases and statuses by the names opm-model spells.

-- Marks the file as opm's, so another program's database is refused.
CREATE TABLE opm_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO opm_meta (key, value) VALUES ('application', 'opm');

CREATE TABLE images (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL
);

CREATE TABLE nodes (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    head     INTEGER NOT NULL DEFAULT 0 CHECK (head IN (0, 1)),
    image_id INTEGER REFERENCES images (id) ON DELETE RESTRICT
);
-- At most one head node.
CREATE UNIQUE INDEX nodes_one_head ON nodes (head) WHERE head = 1;
CREATE INDEX nodes_image ON nodes (image_id);

CREATE TABLE groups (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO groups (name) VALUES ('oscar_clients');

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    node_id  INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, node_id)
);
CREATE INDEX group_members_node ON group_members (node_id);

CREATE TABLE opkgs (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    version        TEXT NOT NULL,
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL,
    imported_at_ms INTEGER NOT NULL
);

-- Resolved opkg-to-opkg relations; the other side may not be imported yet.
CREATE TABLE opkg_relations (
    opkg_id INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('depends', 'conflicts')),
    other   TEXT NOT NULL,
    PRIMARY KEY (opkg_id, kind, other)
);

CREATE TABLE selections (
    opkg_id  INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (opkg_id, group_id)
);

-- One row per (target, opkg); a target is a node or an image, never both.
CREATE TABLE rows (
    id               INTEGER PRIMARY KEY,
    node_id          INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    image_id         INTEGER REFERENCES images (id) ON DELETE CASCADE,
    opkg_id          INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    requested        INTEGER NOT NULL CHECK (requested BETWEEN 1 AND 8),
    current          INTEGER CHECK (current BETWEEN 1 AND 8),
    status           TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'running', 'error')),
    message          TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT,
    lease_token      INTEGER,
    lease_expires_ms INTEGER,
    updated_ms       INTEGER NOT NULL,
    CHECK ((node_id IS NULL) <> (image_id IS NULL))
);
CREATE UNIQUE INDEX rows_node_opkg ON rows (node_id, opkg_id) WHERE node_id IS NOT NULL;
CREATE UNIQUE INDEX rows_image_opkg ON rows (image_id, opkg_id) WHERE image_id IS NOT NULL;
CREATE INDEX rows_opkg ON rows (opkg_id);
-- Running rows by the lease they run under, for renewals.
CREATE INDEX rows_lease ON rows (lease_token) WHERE lease_token IS NOT NULL;
-- Only rows that need work (or wait in error) are in these, so a pass over a
-- converged cluster reads nothing. Queries repeat this WHERE verbatim.
CREATE INDEX rows_pending ON rows (id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;
CREATE INDEX rows_pending_node ON rows (node_id, id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;
CREATE INDEX rows_pending_image ON rows (image_id, id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;

-- One lease per target; tokens come from lease_counter and only grow.
CREATE TABLE leases (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER UNIQUE REFERENCES nodes (id) ON DELETE CASCADE,
    image_id   INTEGER UNIQUE REFERENCES images (id) ON DELETE CASCADE,
    owner      TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    CHECK ((node_id IS NULL) <> (image_id IS NULL))
);

CREATE TABLE lease_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO lease_counter (id, last) VALUES (1, 0);

-- Attempts and operator events; names are copied so history outlives the
-- node, image or opkg it talks about.
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    row_id       INTEGER REFERENCES rows (id) ON DELETE SET NULL,
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('node', 'image')),
    target_name  TEXT NOT NULL,
    opkg         TEXT NOT NULL,
    event        TEXT NOT NULL CHECK (event IN ('attempt', 'retry', 'rerun')),
    stage        INTEGER CHECK (stage BETWEEN 1 AND 8),
    result       TEXT CHECK (result IN ('running', 'passed', 'failed', 'interrupted')),
    lease_token  INTEGER,
    started_ms   INTEGER NOT NULL,
    ended_ms     INTEGER,
    exit_code    INTEGER,
    output       TEXT NOT NULL DEFAULT '',
    output_bytes INTEGER NOT NULL DEFAULT 0,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX history_row ON history (row_id, id);
CREATE INDEX history_target ON history (target_kind, target_name, id);
CREATE INDEX history_opkg ON history (opkg, id);

CREATE TABLE cluster (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    phase      TEXT NOT NULL,
    changed_ms INTEGER NOT NULL
);
INSERT INTO cluster (id, phase, changed_ms) VALUES (1, 'setup_wizard', 0);

-- Configuration values: opkg-wide (image_id NULL) or per image.
CREATE TABLE config_values (
    opkg_id  INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    image_id INTEGER REFERENCES images (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL
);
CREATE UNIQUE INDEX config_opkg_wide ON config_values (opkg_id, name) WHERE image_id IS NULL;
CREATE UNIQUE INDEX config_per_image ON config_values (opkg_id, image_id, name) WHERE image_id IS NOT NULL;
