DROP TABLE products;
DROP FUNCTION emporium_search_document(TEXT, TEXT, TEXT);
DROP TEXT SEARCH CONFIGURATION emporium_search;
