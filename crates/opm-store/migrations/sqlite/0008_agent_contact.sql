-- Each compute node's agent as the server last heard from it (its last
-- poll): when, which opm version, from which address; NULL until an agent
-- of the node has polled. Shown by `opm node list` (LAST SEEN, AGENT).
ALTER TABLE nodes ADD COLUMN agent_seen_ms INTEGER;
ALTER TABLE nodes ADD COLUMN agent_version TEXT;
ALTER TABLE nodes ADD COLUMN agent_address TEXT;
