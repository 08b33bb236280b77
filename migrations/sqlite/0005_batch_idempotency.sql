-- `Idempotency-Key` on batch submissions: the same key and body return the original batch.
ALTER TABLE batches ADD COLUMN idempotency_key TEXT;
ALTER TABLE batches ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX batches_owner_idempotency ON batches (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
