DROP TRIGGER catalog_version_on_stock ON products;
DROP TRIGGER catalog_version_on_change ON products;
DROP TRIGGER catalog_version_on_delete ON products;
DROP TRIGGER catalog_version_on_insert ON products;
DROP FUNCTION catalog_version_bump();
DROP TABLE catalog_version;
