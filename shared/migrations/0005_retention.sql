-- Retention: outbox-relay deletes published outbox events and expired idempotency keys in
-- small batches, oldest first; these indexes find them without scanning the tables.
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
