-- The steps of stage attempts (SPEC §1.1): each package install or removal,
-- each script, settling the configuration values and assigning clients, with
-- its own result, exit code and output, so a stage cut short resumes at the
-- first step that did not pass. Written when a step starts and when it ends.
CREATE TABLE steps (
    id           INTEGER PRIMARY KEY,
    attempt_id   INTEGER NOT NULL REFERENCES history (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position >= 0),
    action       TEXT NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('running', 'passed', 'failed', 'carried')),
    -- For a carried step: the attempt it passed in.
    passed_in    INTEGER,
    started_ms   INTEGER NOT NULL,
    ended_ms     INTEGER,
    exit_code    INTEGER,
    output       TEXT NOT NULL DEFAULT '',
    output_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX steps_attempt ON steps (attempt_id, position);

-- A retry that runs the failed stage from its first step (`opm retry
-- --whole-stage`) rather than resume it at the step that failed.
ALTER TABLE history ADD COLUMN whole_stage INTEGER NOT NULL DEFAULT 0 CHECK (whole_stage IN (0, 1));
