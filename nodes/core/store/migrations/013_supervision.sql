-- 电子监察 and 督办 (issue 9, practice 6).
-- case_watch: for each case this node handles (or handled), the local day its warnings may next
-- change by time alone; the watcher re-checks only the cases due (indexed), never all of them.
CREATE TABLE case_watch (
  case_id    text PRIMARY KEY,
  next_check text
);

CREATE INDEX case_watch_next ON case_watch (next_check) WHERE next_check IS NOT NULL;

-- The warnings of this node and of its descendants, projected from their watch:<code>
-- documents: case number, item, unit, type, level and since — nothing personal.
CREATE TABLE watch_entries (
  node_code text NOT NULL,
  case_id   text NOT NULL,
  type      text NOT NULL,
  item_code text NOT NULL,
  item_name text NOT NULL,
  level     text NOT NULL,
  since     text NOT NULL,
  detail    text,
  PRIMARY KEY (node_code, case_id, type)
);

-- 督办 notices this node holds (it issued them, they are addressed to it, or it relays them),
-- projected from their notice:<id> documents with their latest reply.
CREATE TABLE notices (
  id         text PRIMARY KEY,
  issuer     text NOT NULL,
  target     text NOT NULL,
  case_id    text,
  type       text,
  body       text NOT NULL,
  deadline   text NOT NULL,
  issued_at  timestamptz NOT NULL,
  issued_by  text NOT NULL,
  replies    integer NOT NULL DEFAULT 0,
  reply_text text,
  reply_at   timestamptz,
  reply_by   text
);

CREATE INDEX notices_target ON notices (target, issued_at);

CREATE INDEX notices_issuer ON notices (issuer, issued_at)
