-- Retention: outbox-relay deletes published outbox events and expired idempotency keys in
-- small batches, oldest first; these indexes find them without scanning the tables.
-- Migrations run in one transaction, so the index builds block writes to both tables while
-- they run: seconds for millions of rows. On a very large outbox, create them CONCURRENTLY by
-- hand first (same names); IF NOT EXISTS then makes this migration a no-op.
CREATE INDEX IF NOT EXISTS outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);
