-- A counter of changes to what every decision reads besides the rows: the
-- head node, images, groups, opkgs, their relations and selections. The
-- store keeps those facts in memory and reads only this counter (with the
-- phase) while it is unchanged, so whatever writes them, this process or
-- another, is seen on the next read.
ALTER TABLE cluster ADD COLUMN facts_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION opm_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- Once per statement: a bulk import bumps the counter once.
CREATE TRIGGER facts_images AFTER INSERT OR UPDATE OR DELETE ON images
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_groups AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_opkgs AFTER INSERT OR UPDATE OR DELETE ON opkgs
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_opkg_relations AFTER INSERT OR UPDATE OR DELETE ON opkg_relations
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_selections AFTER INSERT OR UPDATE OR DELETE ON selections
    FOR EACH STATEMENT EXECUTE FUNCTION opm_facts_changed();
-- Of the nodes, only the head is a fact: adding compute nodes in bulk
-- bumps nothing.
CREATE TRIGGER facts_nodes_insert AFTER INSERT ON nodes
    FOR EACH ROW WHEN (NEW.head = 1) EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_nodes_update AFTER UPDATE OF name, head ON nodes
    FOR EACH ROW WHEN (OLD.head = 1 OR NEW.head = 1) EXECUTE FUNCTION opm_facts_changed();
CREATE TRIGGER facts_nodes_delete AFTER DELETE ON nodes
    FOR EACH ROW WHEN (OLD.head = 1) EXECUTE FUNCTION opm_facts_changed();
