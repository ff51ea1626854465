-- The catalog. Deleting a product sets deleted_at: it leaves listings, search, detail and
-- carts, while order lines keep their own copies of its name and price.
CREATE TABLE products (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- lower(name), for case-insensitive name sorting through an index.
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_cents BIGINT NOT NULL CHECK (price_cents > 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    category TEXT NOT NULL,
    -- lower(category), for the case-insensitive category filter and the category counts.
    category_key TEXT NOT NULL,
    image_url TEXT,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);

-- Every listing sort has an index over live products ending in id (the tie-breaker), so a
-- page is an index range walk. The category filter has its own, per sort.
CREATE INDEX products_live_created ON products (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX products_live_price ON products (price_cents, id) WHERE deleted_at IS NULL;
CREATE INDEX products_live_name ON products (name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX products_live_category_created ON products (category_key, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX products_live_category_price ON products (category_key, price_cents, id) WHERE deleted_at IS NULL;
CREATE INDEX products_live_category_name ON products (category_key, name_key, id) WHERE deleted_at IS NULL;

-- Full-text search over live products: name, description, category. External content (the
-- text lives once, in products); the triggers keep the index in step, and only fire for the
-- columns it holds, so stock changes at checkout do not touch it.
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, description, category,
    content = 'products', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Relevance (the hidden `rank` column): bm25 with a name match worth 10 description matches
-- and a category match worth 2.
INSERT INTO products_fts (products_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 2.0)');

CREATE TRIGGER products_fts_insert AFTER INSERT ON products WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO products_fts (rowid, name, description, category)
    VALUES (new.id, new.name, new.description, new.category);
END;

CREATE TRIGGER products_fts_delete AFTER DELETE ON products WHEN old.deleted_at IS NULL BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, category)
    VALUES ('delete', old.id, old.name, old.description, old.category);
END;

CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description, category, deleted_at ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, category)
    SELECT 'delete', old.id, old.name, old.description, old.category WHERE old.deleted_at IS NULL;
    INSERT INTO products_fts (rowid, name, description, category)
    SELECT new.id, new.name, new.description, new.category WHERE new.deleted_at IS NULL;
END;
