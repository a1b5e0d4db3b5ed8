-- 附件: scanned materials, stored once each, named by the SHA-256 of their bytes. The case's
-- signed `attached` event (in case_events) says which case names which file; these tables hold
-- the bytes, in the 16 KB pieces the link moves them in, so a transfer cut off resumes from the
-- pieces already here. `complete` once every piece is here and the whole hashes to its name.
CREATE TABLE attachment_blobs (
  hash     text PRIMARY KEY,
  size     integer NOT NULL,
  mime     text NOT NULL,
  complete boolean NOT NULL DEFAULT false,
  added_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attachment_pieces (
  hash     text NOT NULL,
  "offset" integer NOT NULL,
  bytes    bytea NOT NULL,
  PRIMARY KEY (hash, "offset")
);

-- The pieces this node has sent each peer: what still waits to go up is the rest, and a
-- piece already sent is counted once however often a cut makes the peer ask again.
CREATE TABLE attachment_sent (
  peer     text NOT NULL,
  hash     text NOT NULL,
  "offset" integer NOT NULL,
  bytes    integer NOT NULL,
  PRIMARY KEY (peer, hash, "offset")
);

CREATE INDEX case_events_attached ON case_events (type) WHERE type = 'attached';
