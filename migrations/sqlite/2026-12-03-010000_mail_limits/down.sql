DROP TABLE mail_suppressions;
DROP TABLE mail_requests;
DROP INDEX outbox_recipient;
