-- A counter of changes to what every decision reads besides the rows: the
-- head node, images, groups, opkgs, their relations and selections. The
-- store keeps those facts in memory and reads only this counter (with the
-- phase) while it is unchanged, so whatever writes them, this process or
-- another, is seen on the next read.
ALTER TABLE cluster ADD COLUMN facts_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER facts_images_insert AFTER INSERT ON images
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_images_update AFTER UPDATE ON images
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_images_delete AFTER DELETE ON images
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_groups_insert AFTER INSERT ON groups
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_groups_update AFTER UPDATE ON groups
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_groups_delete AFTER DELETE ON groups
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkgs_insert AFTER INSERT ON opkgs
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkgs_update AFTER UPDATE ON opkgs
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkgs_delete AFTER DELETE ON opkgs
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkg_relations_insert AFTER INSERT ON opkg_relations
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkg_relations_update AFTER UPDATE ON opkg_relations
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_opkg_relations_delete AFTER DELETE ON opkg_relations
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_selections_insert AFTER INSERT ON selections
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_selections_update AFTER UPDATE ON selections
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_selections_delete AFTER DELETE ON selections
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
-- Of the nodes, only the head is a fact: adding compute nodes in bulk
-- bumps nothing.
CREATE TRIGGER facts_nodes_insert AFTER INSERT ON nodes WHEN NEW.head = 1
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_nodes_update AFTER UPDATE OF name, head ON nodes
WHEN OLD.head = 1 OR NEW.head = 1
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
CREATE TRIGGER facts_nodes_delete AFTER DELETE ON nodes WHEN OLD.head = 1
BEGIN UPDATE cluster SET facts_version = facts_version + 1 WHERE id = 1; END;
