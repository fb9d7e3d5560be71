-- Sallyport schema, version 9, PostgreSQL dialect. Keep in step with
-- 0009_host_names_lowercase.sqlite.sql.
--
-- Inventory names are DNS names: case does not matter, and stock ssh
-- lowercases the host it is given (so `ssh -J gw Web01` asked for
-- "web01", which an inventory holding "Web01" did not find). From this
-- version the store keeps host names in lowercase and looks them up in
-- lowercase. Hosts stored with capitals are renamed, with their labels,
-- unless their lowercase name is taken (by another host, or by another
-- spelling of the same name: the smallest spelling is renamed); those are
-- left as they are, for an administrator to delete.

CREATE TEMP TABLE host_renames AS
  SELECT h.name AS old_name, lower(h.name) AS new_name FROM hosts h
  WHERE h.name <> lower(h.name)
    AND NOT EXISTS (SELECT 1 FROM hosts t WHERE t.name = lower(h.name))
    AND h.name = (SELECT MIN(u.name) FROM hosts u
                  WHERE lower(u.name) = lower(h.name));
INSERT INTO hosts (name, address, port, trust, host_key, created_at_us,
                   updated_at_us)
  SELECT r.new_name, h.address, h.port, h.trust, h.host_key, h.created_at_us,
         h.updated_at_us
  FROM hosts h JOIN host_renames r ON h.name = r.old_name;
INSERT INTO host_labels (host_name, key, value)
  SELECT r.new_name, l.key, l.value
  FROM host_labels l JOIN host_renames r ON l.host_name = r.old_name;
DELETE FROM hosts WHERE name IN (SELECT old_name FROM host_renames);
DROP TABLE host_renames;
