DROP TRIGGER catalog_version_on_stock;
DROP TRIGGER catalog_version_on_change;
DROP TRIGGER catalog_version_on_delete;
DROP TRIGGER catalog_version_on_insert;
DROP TABLE catalog_version;
