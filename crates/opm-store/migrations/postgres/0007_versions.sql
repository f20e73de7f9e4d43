-- Versions, pins and drift (SPEC §1.9).

-- Every imported version of an opkg; `opkgs` keeps what the last import
-- said (summary, source) and the version its rows should have.
CREATE TABLE opkg_versions (
    opkg_id        BIGINT NOT NULL REFERENCES opkgs (id) ON DELETE CASCADE,
    version        TEXT NOT NULL,
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL,
    imported_at_ms BIGINT NOT NULL,
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

CREATE TRIGGER facts_opkg_versions AFTER INSERT OR UPDATE OR DELETE ON opkg_versions
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();

-- 'drifted' among the statuses (the message says what differs), and the
-- rows' versions: the one the current stage was reached with, the one
-- their coming stages install (NULL: the opkg's wanted version), and,
-- while an upgrade is under way, the one it started from.
ALTER TABLE rows DROP CONSTRAINT rows_status_check;
ALTER TABLE rows ADD CONSTRAINT rows_status_check
    CHECK (status IN ('ok', 'running', 'error', 'drifted'));
ALTER TABLE rows ADD COLUMN version TEXT;
ALTER TABLE rows ADD COLUMN work_version TEXT;
ALTER TABLE rows ADD COLUMN upgrade_from TEXT;
-- Rows past the bottom were reached with the only version opm knew of.
UPDATE rows r SET version = o.version, work_version = o.version
    FROM opkgs o WHERE o.id = r.opkg_id AND r.current > 1;
