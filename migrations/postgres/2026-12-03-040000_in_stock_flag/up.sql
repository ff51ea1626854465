-- PostgreSQL twin of migrations/sqlite/2026-12-03-040000_in_stock_flag: the in-stock listing
-- indexes key on a flag that moves only when the stock crosses zero. Here it also lets a
-- stock decrement be a HOT update: PostgreSQL updates in place only when no indexed column
-- (a partial index's predicate included) changes, and `stock` no longer is one.
--
-- A BEFORE trigger keeps the flag equal to `stock > 0` whoever writes the row.
ALTER TABLE products ADD COLUMN in_stock BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE products SET in_stock = (stock > 0);

CREATE FUNCTION products_in_stock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.in_stock := NEW.stock > 0;
    RETURN NEW;
END;
$$;

CREATE TRIGGER products_in_stock
BEFORE INSERT OR UPDATE OF stock, in_stock ON products
FOR EACH ROW EXECUTE FUNCTION products_in_stock();

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
