-- no-transaction
-- Versions, pins and drift (SPEC §1.9). Runs outside sqlx's transaction
-- because adding 'drifted' to the rows' status CHECK means rebuilding the
-- table, and SQLite honours `PRAGMA foreign_keys = OFF` only outside a
-- transaction: with foreign keys on, dropping the old table would run
-- history's ON DELETE SET NULL and cut every attempt off its row. The
-- rebuild itself is one transaction of its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- Every imported version of an opkg; `opkgs` keeps what the last import
-- said (summary, source) and the version its rows should have.
CREATE TABLE opkg_versions (
    opkg_id        INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    version        TEXT NOT NULL,
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL,
    imported_at_ms INTEGER NOT NULL,
    PRIMARY KEY (opkg_id, version)
);
INSERT INTO opkg_versions (opkg_id, version, summary, source, imported_at_ms)
    SELECT id, version, summary, source, imported_at_ms FROM opkgs;
-- The pinned version (`opm opkg pin`), NULL when not pinned, and the
-- wanted one: the pin, else the newest imported (opm compares versions as
-- dpkg does, which SQL cannot, so it is kept here at import and pin).
ALTER TABLE opkgs ADD COLUMN pinned TEXT;
ALTER TABLE opkgs ADD COLUMN wanted_version TEXT NOT NULL DEFAULT '';
UPDATE opkgs SET wanted_version = version;

CREATE TRIGGER facts_opkg_versions_insert AFTER INSERT ON opkg_versions
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkg_versions_update AFTER UPDATE ON opkg_versions
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkg_versions_delete AFTER DELETE ON opkg_versions
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;

-- The rows again, with 'drifted' among the statuses (the message says what
-- differs) and their versions: the one the current stage was reached with,
-- the one their coming stages install (NULL: the opkg's wanted version),
-- and, while an upgrade is under way, the one it started from.
CREATE TABLE rows_new (
    id               INTEGER PRIMARY KEY,
    node_id          INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    image_id         INTEGER REFERENCES images (id) ON DELETE CASCADE,
    opkg_id          INTEGER NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    requested        INTEGER NOT NULL CHECK (requested BETWEEN 1 AND 8),
    current          INTEGER CHECK (current BETWEEN 1 AND 8),
    status           TEXT NOT NULL DEFAULT 'ok'
                     CHECK (status IN ('ok', 'running', 'error', 'drifted')),
    message          TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT,
    lease_token      INTEGER,
    lease_expires_ms INTEGER,
    updated_ms       INTEGER NOT NULL,
    version          TEXT,
    work_version     TEXT,
    upgrade_from     TEXT,
    CHECK ((node_id IS NULL) <> (image_id IS NULL))
);
-- Rows past the bottom were reached with the only version opm knew of.
INSERT INTO rows_new (id, node_id, image_id, opkg_id, requested, current, status, message,
                      lease_owner, lease_token, lease_expires_ms, updated_ms,
                      version, work_version, upgrade_from)
    SELECT r.id, r.node_id, r.image_id, r.opkg_id, r.requested, r.current, r.status, r.message,
           r.lease_owner, r.lease_token, r.lease_expires_ms, r.updated_ms,
           CASE WHEN r.current > 1 THEN o.version END,
           CASE WHEN r.current > 1 THEN o.version END,
           NULL
    FROM rows r JOIN opkgs o ON o.id = r.opkg_id;
DROP TABLE rows;
ALTER TABLE rows_new RENAME TO rows;
CREATE UNIQUE INDEX rows_node_opkg ON rows (node_id, opkg_id) WHERE node_id IS NOT NULL;
CREATE UNIQUE INDEX rows_image_opkg ON rows (image_id, opkg_id) WHERE image_id IS NOT NULL;
CREATE INDEX rows_opkg ON rows (opkg_id);
CREATE INDEX rows_lease ON rows (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX rows_pending ON rows (id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;
CREATE INDEX rows_pending_node ON rows (node_id, id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;
CREATE INDEX rows_pending_image ON rows (image_id, id)
    WHERE status <> 'ok' OR current IS NULL OR requested <> current;

COMMIT;
PRAGMA foreign_keys = ON;
