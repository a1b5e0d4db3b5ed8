-- The provincial platform exchange (数据汇聚, docs/province-api.md). One row per record owed to
-- the province, written in the transaction that projects the case, so a record is never lost
-- between the case and the push: pending until the province acknowledges it (acked_at), or
-- failed when it refused it for good (last_error says why; retried only by hand).
CREATE TABLE province_outbox (
  record_key text PRIMARY KEY,
  kind       text NOT NULL,
  case_id    text NOT NULL,
  payload    jsonb NOT NULL,
  state      text NOT NULL DEFAULT 'pending',
  attempts   integer NOT NULL DEFAULT 0,
  next_at    timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at   timestamptz
);

-- The pusher reads the pending records that are due, oldest first.
CREATE INDEX province_outbox_due ON province_outbox (state, next_at);

-- The exchange's last success and last error, for the status page and /healthz.
CREATE TABLE province_status (
  id            integer PRIMARY KEY CHECK (id = 1),
  last_success  timestamptz,
  last_error    text,
  last_error_at timestamptz
);
