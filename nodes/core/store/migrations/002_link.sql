-- Per-link sync position, written in the same transaction as the data it covers.
-- `received`: the peer's last sequence this node has applied (the peer resumes sending after it).
-- `acked`: this node's last sequence the peer has acknowledged (for "waiting" figures).
-- `peer_epoch`: the peer store's identity; a new epoch means its sequence restarted (repair).
CREATE TABLE link_cursors (
  peer           text PRIMARY KEY,
  received       bigint NOT NULL DEFAULT 0,
  acked          bigint NOT NULL DEFAULT 0,
  peer_epoch     text NOT NULL DEFAULT '',
  last_sync_at   timestamptz,
  bytes_sent     bigint NOT NULL DEFAULT 0,
  bytes_received bigint NOT NULL DEFAULT 0
);

-- Routing of each case document, so the link can choose what goes where without loading docs.
CREATE TABLE doc_routes (
  doc_id       text PRIMARY KEY,
  origin_code  text NOT NULL,
  handler_code text NOT NULL
);

-- Projection of statistics documents (own and descendants'): counts per node, day and item.
CREATE TABLE stats_rows (
  node_code text NOT NULL,
  month     text NOT NULL,
  day       text NOT NULL,
  item_code text NOT NULL,
  counts    jsonb NOT NULL,
  PRIMARY KEY (node_code, day, item_code)
);
CREATE INDEX stats_rows_month ON stats_rows (node_code, month);
