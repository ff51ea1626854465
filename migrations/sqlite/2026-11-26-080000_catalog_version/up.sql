-- A number that changes whenever anything a listing or search depends on changes: a product
-- added, deleted, renamed, re-described, re-priced or re-categorised, or its stock crossing
-- zero (in_stock). Cached totals and ranked search results are valid for one version.
CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

CREATE TRIGGER catalog_version_on_insert AFTER INSERT ON products BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER catalog_version_on_delete AFTER DELETE ON products BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER catalog_version_on_change
AFTER UPDATE OF name, name_key, description, price_cents, category, category_key, deleted_at ON products
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

-- Stock changes at every checkout; only crossing zero changes what in_stock=true matches.
CREATE TRIGGER catalog_version_on_stock
AFTER UPDATE OF stock ON products WHEN (old.stock > 0) <> (new.stock > 0)
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;
