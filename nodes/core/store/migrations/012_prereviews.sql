-- 网上预审 (online pre-reviews, protocol/prereview.ts): the applicant's details and the materials
-- they hold, staff's answer (passed, or correction with everything missing), and the case it
-- became. In this node's own store only: never a document, so never replicated — personal data
-- stays on the node the applicant chose. `status` is as answered; 已过期 is read from created_at.
CREATE TABLE prereviews (
  no text PRIMARY KEY,
  item_code text NOT NULL,
  item_name text NOT NULL,
  applicant jsonb NOT NULL,
  materials jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  missing jsonb NOT NULL DEFAULT '[]',
  note text,
  answered_by text,
  answered_at timestamptz,
  case_id text,
  accepted_at timestamptz,
  created_at timestamptz NOT NULL
);

CREATE INDEX prereviews_created ON prereviews (created_at DESC);
