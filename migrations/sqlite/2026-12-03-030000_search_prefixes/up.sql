-- Prefix indexes for search. Every word a shopper types is matched as a prefix (`lapt` finds
-- "laptop"); without a prefix index FTS5 finds every indexed word starting with it and merges
-- their lists (4 ms for `smart` at a million products, more with 32 searches at once). With
-- prefixes of 2 to 5 letters indexed, such a prefix is one list (0.3 ms); longer ones match
-- few words anyway. The index is rebuilt from live products, as the triggers keep it (they
-- name the table, not its options, and carry on unchanged).
DROP TABLE products_fts;
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, description, category,
    content = 'products', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5'
);
INSERT INTO products_fts (rowid, name, description, category)
SELECT id, name, description, category FROM products WHERE deleted_at IS NULL;
