-- The locks an attempt's begin or finish takes before it reads (see the
-- store's locks.rs): its target's advisory lock shared, then its row. They
-- go with BEGIN in one simple query, whose statements carry their ids
-- inlined and so were parsed and planned anew on every call; in a function
-- PL/pgSQL plans them once per session. Each statement of a volatile
-- function takes a snapshot of its own, so the row lock is taken after the
-- target's, and the caller's next statement reads after both.
CREATE FUNCTION opm_lock_row(locked BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(CASE WHEN r.node_id IS NOT NULL
        THEN r.node_id * 2 + 2 ELSE r.image_id * 2 + 3 END) FROM rows r WHERE r.id = locked;
    PERFORM 1 FROM rows r WHERE r.id = locked FOR UPDATE;
END;
$$;

-- The same for the row of stage attempt `attempt`.
CREATE FUNCTION opm_lock_attempt(attempt BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM opm_lock_row(h.row_id) FROM history h WHERE h.id = attempt;
END;
$$;
