-- Idempotency keys (issue 7, class 8): a client names each write with a key of its choice
-- (header Idempotency-Key); the key, who sent it, a hash of the request and the first answer
-- are recorded in the same transaction as the change, so a retry (after a lost reply, a 503,
-- a full disk) answers the first result and stores nothing twice.
CREATE TABLE request_keys (
  user_name text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_name, key)
);
CREATE INDEX request_keys_created ON request_keys (created_at);
