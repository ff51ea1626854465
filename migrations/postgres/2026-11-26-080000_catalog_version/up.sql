-- PostgreSQL twin of migrations/sqlite/2026-11-26-080000_catalog_version: the same table,
-- moved by the same changes (row triggers calling one function).
-- A number that changes whenever anything a listing or search depends on changes: a product
-- added, deleted, renamed, re-described, re-priced or re-categorised, or its stock crossing
-- zero (in_stock). Cached totals and ranked search results are valid for one version.
CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

CREATE FUNCTION catalog_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER catalog_version_on_insert AFTER INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION catalog_version_bump();

CREATE TRIGGER catalog_version_on_delete AFTER DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION catalog_version_bump();

-- `UPDATE OF` fires when the column is set, as in SQLite; the WHEN clause keeps the no-op
-- updates (a column set to its own value) from moving the version needlessly.
CREATE TRIGGER catalog_version_on_change
AFTER UPDATE OF name, name_key, description, price_cents, category, category_key, deleted_at ON products
FOR EACH ROW
WHEN (old.name IS DISTINCT FROM new.name
      OR old.name_key IS DISTINCT FROM new.name_key
      OR old.description IS DISTINCT FROM new.description
      OR old.price_cents IS DISTINCT FROM new.price_cents
      OR old.category IS DISTINCT FROM new.category
      OR old.category_key IS DISTINCT FROM new.category_key
      OR old.deleted_at IS DISTINCT FROM new.deleted_at)
EXECUTE FUNCTION catalog_version_bump();

-- Stock changes at every checkout; only crossing zero changes what in_stock=true matches.
CREATE TRIGGER catalog_version_on_stock
AFTER UPDATE OF stock ON products
FOR EACH ROW WHEN ((old.stock > 0) <> (new.stock > 0))
EXECUTE FUNCTION catalog_version_bump();
