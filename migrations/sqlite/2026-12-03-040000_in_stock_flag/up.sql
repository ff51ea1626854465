-- The in-stock listing indexes key on a flag that moves only when the stock crosses zero.
-- They were partial on `stock > 0`, and SQLite rewrites the entry of every index whose WHERE
-- names a column an UPDATE sets, so each checkout's stock decrement deleted and re-inserted
-- six index entries per line. At a million products those are six more scattered pages to
-- read and write per order (a fifth of the writer's time). With the flag, a decrement that
-- leaves the stock above zero touches the table row only.
--
-- The triggers keep the flag equal to `stock > 0` whoever writes the row; the catalog crate
-- also writes it itself when it inserts or replaces a product, so they rarely fire.
ALTER TABLE products ADD COLUMN in_stock BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE products SET in_stock = (stock > 0);

CREATE TRIGGER products_in_stock_on_insert
AFTER INSERT ON products WHEN new.in_stock <> (new.stock > 0)
BEGIN
    UPDATE products SET in_stock = (new.stock > 0) WHERE id = new.id;
END;

CREATE TRIGGER products_in_stock_on_update
AFTER UPDATE OF stock, in_stock ON products WHEN new.in_stock <> (new.stock > 0)
BEGIN
    UPDATE products SET in_stock = (new.stock > 0) WHERE id = new.id;
END;

DROP INDEX products_instock_created;
DROP INDEX products_instock_price;
DROP INDEX products_instock_name;
DROP INDEX products_instock_category_created;
DROP INDEX products_instock_category_price;
DROP INDEX products_instock_category_name;
CREATE INDEX products_instock_created ON products (created_at, id) WHERE deleted_at IS NULL AND in_stock;
CREATE INDEX products_instock_price ON products (price_cents, id) WHERE deleted_at IS NULL AND in_stock;
CREATE INDEX products_instock_name ON products (name_key, id) WHERE deleted_at IS NULL AND in_stock;
CREATE INDEX products_instock_category_created ON products (category_key, created_at, id) WHERE deleted_at IS NULL AND in_stock;
CREATE INDEX products_instock_category_price ON products (category_key, price_cents, id) WHERE deleted_at IS NULL AND in_stock;
CREATE INDEX products_instock_category_name ON products (category_key, name_key, id) WHERE deleted_at IS NULL AND in_stock;
