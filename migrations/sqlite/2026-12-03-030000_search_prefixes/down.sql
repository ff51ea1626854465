DROP TABLE products_fts;
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, description, category,
    content = 'products', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO products_fts (rowid, name, description, category)
SELECT id, name, description, category FROM products WHERE deleted_at IS NULL;
