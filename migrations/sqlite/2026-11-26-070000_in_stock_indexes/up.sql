-- Listings filtered with in_stock=true: indexes over in-stock live products, so the page walk
-- and the total count never read a table row just to check the stock. (The filter is written
-- as the literal `stock > 0` so SQLite can match these partial indexes.)
CREATE INDEX products_instock_created ON products (created_at, id) WHERE deleted_at IS NULL AND stock > 0;
CREATE INDEX products_instock_price ON products (price_cents, id) WHERE deleted_at IS NULL AND stock > 0;
CREATE INDEX products_instock_name ON products (name_key, id) WHERE deleted_at IS NULL AND stock > 0;
CREATE INDEX products_instock_category_created ON products (category_key, created_at, id) WHERE deleted_at IS NULL AND stock > 0;
CREATE INDEX products_instock_category_price ON products (category_key, price_cents, id) WHERE deleted_at IS NULL AND stock > 0;
CREATE INDEX products_instock_category_name ON products (category_key, name_key, id) WHERE deleted_at IS NULL AND stock > 0;
