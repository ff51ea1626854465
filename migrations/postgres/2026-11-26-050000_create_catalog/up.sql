-- PostgreSQL twin of migrations/sqlite/2026-11-26-050000_create_catalog: the same table and
-- indexes; full-text search is a GIN index over a weighted tsvector instead of FTS5.
-- The catalog. Deleting a product sets deleted_at: it leaves listings, search, detail and
-- carts, while order lines keep their own copies of its name and price.
CREATE TABLE products (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    -- lower(name), for case-insensitive name sorting through an index. Byte order (COLLATE
    -- "C"), as SQLite sorts, whatever locale the database was created with.
    name_key TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_cents BIGINT NOT NULL CHECK (price_cents > 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    category TEXT COLLATE "C" NOT NULL,
    -- lower(category), for the case-insensitive category filter and the category counts.
    category_key TEXT COLLATE "C" NOT NULL,
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

-- Full-text search over live products, the twin of SQLite's FTS5 table: words are split and
-- lower-cased and lose their diacritics (unaccent, as FTS5's remove_diacritics), and the
-- name, description and category carry weights A, B and C, which the query ranks 10 : 1 : 2
-- as SQLite's bm25(10.0, 1.0, 2.0) does (see crates/db/src/fts.rs).
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION emporium_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION emporium_search
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part,
        numword, numhword, hword_numpart
    WITH unaccent, simple;

CREATE FUNCTION emporium_search_document(name TEXT, description TEXT, category TEXT)
RETURNS tsvector LANGUAGE SQL IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('emporium_search'::regconfig, name), 'A')
        || setweight(to_tsvector('emporium_search'::regconfig, description), 'B')
        || setweight(to_tsvector('emporium_search'::regconfig, category), 'C')
$$;

CREATE INDEX products_search ON products
    USING GIN (emporium_search_document(name, description, category))
    WHERE deleted_at IS NULL;
