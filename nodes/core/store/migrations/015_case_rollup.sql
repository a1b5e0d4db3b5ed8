-- A county holds a year of cases (250,000): no request or periodic job may read them all
-- (issue 11, goal 2). Two tables kept by a trigger on `cases`, so every writer of a case row
-- (the projection, a journal replay, a benchmark's bulk fill) keeps them exact:
--
-- case_tally: how many cases per status, window (origin) and handler — the list's total is a
-- sum over these few thousand rows, not count(*) over every case.
CREATE TABLE case_tally (
  status       text NOT NULL,
  origin_code  text NOT NULL,
  handler_code text NOT NULL,
  n            bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (status, origin_code, handler_code)
);

-- case_rollup: this node's own statistics per (受理地 'origin' | 办理地 'handler', day, item),
-- the counts that depend on the case alone (those that move with the clock — overdue, due
-- soon, rectification overdue — are counted from the open cases, which the partial index
-- below keeps few). Only this node's own rows (code = node_meta 'code'): the figures of the
-- units below come from their statistics documents. `changed_at`: the statistics publisher
-- recomputes only the months whose rows changed since its last refresh.
-- A new count that depends only on the case needs a column here and in case_rollup_add.
CREATE TABLE case_rollup (
  dim          text NOT NULL,
  unit_code    text NOT NULL,
  day          text NOT NULL,
  item_code    text NOT NULL,
  n            integer NOT NULL DEFAULT 0,
  accepted     integer NOT NULL DEFAULT 0,
  completed    integer NOT NULL DEFAULT 0,
  approved     integer NOT NULL DEFAULT 0,
  denied       integer NOT NULL DEFAULT 0,
  on_time      integer NOT NULL DEFAULT 0,
  on_spot      integer NOT NULL DEFAULT 0,
  promised_completed integer NOT NULL DEFAULT 0,
  early        integer NOT NULL DEFAULT 0,
  r1 integer NOT NULL DEFAULT 0, r2 integer NOT NULL DEFAULT 0, r3 integer NOT NULL DEFAULT 0,
  r4 integer NOT NULL DEFAULT 0, r5 integer NOT NULL DEFAULT 0,
  cross_unit   integer NOT NULL DEFAULT 0,
  transferred  integer NOT NULL DEFAULT 0,
  refused      integer NOT NULL DEFAULT 0,
  deferred     integer NOT NULL DEFAULT 0,
  rectified    integer NOT NULL DEFAULT 0,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dim, unit_code, day, item_code)
);
CREATE INDEX case_rollup_changed ON case_rollup (dim, unit_code, changed_at);

-- Adds (s = 1) or removes (s = -1) one case row's contribution; the rules are protocol's
-- countCase, as GET /api/stats counted them in SQL before (services/stats.ts).
CREATE FUNCTION case_rollup_add(r cases, s integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  self text := (SELECT value FROM node_meta WHERE key = 'code');
  done boolean := r.accepted_at IS NOT NULL AND r.completed_at IS NOT NULL;
  done_day text := to_char(r.completed_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD');
  accepted_day text := to_char(r.accepted_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD');
BEGIN
  INSERT INTO case_tally (status, origin_code, handler_code, n) VALUES (r.status, r.origin_code, r.handler_code, s)
    ON CONFLICT (status, origin_code, handler_code) DO UPDATE SET n = case_tally.n + EXCLUDED.n;
  IF r.stat_day IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO case_rollup AS t (dim, unit_code, day, item_code, n, accepted, completed, approved, denied, on_time, on_spot,
      promised_completed, early, r1, r2, r3, r4, r5, cross_unit, transferred, refused, deferred, rectified)
    SELECT d.dim, d.code, r.stat_day, r.item_code, s,
      s * (r.accepted_at IS NOT NULL)::int,
      s * done::int,
      s * (done AND r.decision IS DISTINCT FROM 'denied')::int,
      s * (done AND r.decision IS NOT DISTINCT FROM 'denied')::int,
      s * coalesce(done AND r.due_date IS NOT NULL AND done_day <= r.due_date, false)::int,
      s * coalesce(done AND done_day = accepted_day, false)::int,
      s * (done AND r.kind = 'promised')::int,
      s * coalesce(done AND r.kind = 'promised' AND r.due_date IS NOT NULL AND done_day < r.due_date, false)::int,
      s * (r.rating IS NOT DISTINCT FROM 1)::int, s * (r.rating IS NOT DISTINCT FROM 2)::int, s * (r.rating IS NOT DISTINCT FROM 3)::int,
      s * (r.rating IS NOT DISTINCT FROM 4)::int, s * (r.rating IS NOT DISTINCT FROM 5)::int,
      s * r.cross_unit::int, s * (r.transfers > 0)::int, s * (r.status = 'refused')::int, s * r.deferred::int,
      s * (r.rect_status IS NOT DISTINCT FROM 'closed')::int
    FROM (VALUES ('origin', r.origin_code), ('handler', r.handler_code)) AS d (dim, code)
    WHERE d.code = self
    ON CONFLICT (dim, unit_code, day, item_code) DO UPDATE SET
      n = t.n + EXCLUDED.n, accepted = t.accepted + EXCLUDED.accepted, completed = t.completed + EXCLUDED.completed,
      approved = t.approved + EXCLUDED.approved, denied = t.denied + EXCLUDED.denied, on_time = t.on_time + EXCLUDED.on_time,
      on_spot = t.on_spot + EXCLUDED.on_spot, promised_completed = t.promised_completed + EXCLUDED.promised_completed,
      early = t.early + EXCLUDED.early, r1 = t.r1 + EXCLUDED.r1, r2 = t.r2 + EXCLUDED.r2, r3 = t.r3 + EXCLUDED.r3,
      r4 = t.r4 + EXCLUDED.r4, r5 = t.r5 + EXCLUDED.r5, cross_unit = t.cross_unit + EXCLUDED.cross_unit,
      transferred = t.transferred + EXCLUDED.transferred, refused = t.refused + EXCLUDED.refused,
      deferred = t.deferred + EXCLUDED.deferred, rectified = t.rectified + EXCLUDED.rectified, changed_at = now();
END
$$;

CREATE FUNCTION cases_rollup_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM case_rollup_add(OLD, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM case_rollup_add(NEW, 1);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER cases_rollup AFTER INSERT OR UPDATE OR DELETE ON cases FOR EACH ROW EXECUTE FUNCTION cases_rollup_trigger();

-- What is already held, counted once.
SELECT case_rollup_add(c, 1) FROM cases c;

-- Lists page by (created_at, id), newest first (keyset: every page costs its own rows).
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_status_created ON cases (status, created_at, id);
CREATE INDEX cases_origin_created ON cases (origin_code, created_at, id);

-- The open cases (what moves with the clock: overdue, due soon, rectification overdue).
CREATE INDEX cases_open ON cases (stat_day) WHERE status IN ('submitted', 'accepted') OR rect_status IN ('open', 'replied');

-- Closed cases are compacted oldest-touched first, from a cursor (docs/compact-cases.ts).
CREATE INDEX cases_updated ON cases (updated_at, id);
