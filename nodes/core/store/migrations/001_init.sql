-- The node's identity: level, code, name, parent; set on first start and checked on every other.
CREATE TABLE node_meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);

-- Every Yjs update this node stores, in local sequence order. The link streams from here by
-- sequence; `uid` (a hash of doc id and bytes) makes re-applying the same update a no-op.
CREATE TABLE doc_updates (
  seq        bigserial PRIMARY KEY,
  doc_id     text NOT NULL,
  update     bytea NOT NULL,
  origin     text NOT NULL,
  uid        text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX doc_updates_doc ON doc_updates (doc_id, seq);

-- Projection of case documents: lists, queues and statistics are SQL over these rows.
CREATE TABLE cases (
  id             text PRIMARY KEY,
  item_code      text NOT NULL,
  item_version   integer NOT NULL,
  origin_code    text NOT NULL,
  handler_code   text NOT NULL,
  kind           text NOT NULL,
  status         text NOT NULL,
  decision       text,
  applicant_name text NOT NULL,
  applicant_phone text NOT NULL,
  created_at     timestamptz NOT NULL,
  accepted_at    timestamptz,
  completed_at   timestamptz,
  delivered_at   timestamptz,
  due_date       text,
  rating         integer,
  flagged        integer NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_status ON cases (status, due_date);
CREATE INDEX cases_handler ON cases (handler_code, status);
CREATE INDEX cases_origin ON cases (origin_code, accepted_at);

CREATE TABLE case_events (
  case_id  text NOT NULL REFERENCES cases (id),
  event_id text NOT NULL,
  type     text NOT NULL,
  lamport  integer NOT NULL,
  author   text NOT NULL,
  user_name text NOT NULL,
  at       timestamptz NOT NULL,
  body     jsonb NOT NULL,
  PRIMARY KEY (case_id, event_id)
);

-- Per-node, per-day case number sequence: ids are unique without coordination.
CREATE TABLE case_seq (
  day  text PRIMARY KEY,
  next integer NOT NULL
);

-- Projection of catalogue documents.
CREATE TABLE catalogue_items (
  code    text PRIMARY KEY,
  scope   text NOT NULL,
  level   text NOT NULL,
  name    text NOT NULL,
  version integer NOT NULL,
  retired boolean NOT NULL,
  body    jsonb NOT NULL
);

CREATE TABLE calendars (
  year integer PRIMARY KEY,
  body jsonb NOT NULL
);

CREATE TABLE users (
  name          text PRIMARY KEY,
  role          text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
  token_hash text PRIMARY KEY,
  user_name  text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);
