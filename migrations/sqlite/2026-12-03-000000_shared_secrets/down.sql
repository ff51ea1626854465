DROP TABLE shared_secrets;
