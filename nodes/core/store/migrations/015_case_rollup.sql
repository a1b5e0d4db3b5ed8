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

-- One case row's contribution to the rollup, times s (1 to add, -1 to remove): a row per
-- dimension whose unit is this node. The rules are protocol's countCase, as GET /api/stats
-- counted them in SQL before (services/stats.ts ownCountsFromCases). The trigger adds it, and
-- the backfill below sums it over the cases held (set-based: a year's 250,000 cases in one pass).
CREATE FUNCTION case_rollup_values(r cases, s integer)
RETURNS TABLE (dim text, unit_code text, day text, item_code text, n integer, accepted integer, completed integer,
  approved integer, denied integer, on_time integer, on_spot integer, promised_completed integer, early integer,
  r1 integer, r2 integer, r3 integer, r4 integer, r5 integer, cross_unit integer, transferred integer,
  refused integer, deferred integer, rectified integer)
LANGUAGE sql STABLE AS $$
  SELECT d.dim, d.code, r.stat_day, r.item_code, s,
    s * (r.accepted_at IS NOT NULL)::int,
    s * x.done::int,
    s * (x.done AND r.decision IS DISTINCT FROM 'denied')::int,
    s * (x.done AND r.decision IS NOT DISTINCT FROM 'denied')::int,
    s * coalesce(x.done AND r.due_date IS NOT NULL AND x.done_day <= r.due_date, false)::int,
    s * coalesce(x.done AND x.done_day = x.accepted_day, false)::int,
    s * (x.done AND r.kind = 'promised')::int,
    s * coalesce(x.done AND r.kind = 'promised' AND r.due_date IS NOT NULL AND x.done_day < r.due_date, false)::int,
    s * (r.rating IS NOT DISTINCT FROM 1)::int, s * (r.rating IS NOT DISTINCT FROM 2)::int, s * (r.rating IS NOT DISTINCT FROM 3)::int,
    s * (r.rating IS NOT DISTINCT FROM 4)::int, s * (r.rating IS NOT DISTINCT FROM 5)::int,
    s * r.cross_unit::int, s * (r.transfers > 0)::int, s * (r.status = 'refused')::int, s * r.deferred::int,
    s * (r.rect_status IS NOT DISTINCT FROM 'closed')::int
  FROM (VALUES ('origin', r.origin_code), ('handler', r.handler_code)) AS d (dim, code),
    (SELECT r.accepted_at IS NOT NULL AND r.completed_at IS NOT NULL AS done,
       to_char(r.completed_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD') AS done_day,
       to_char(r.accepted_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD') AS accepted_day) AS x
  WHERE r.stat_day IS NOT NULL AND d.code = (SELECT value FROM node_meta WHERE key = 'code')
$$;

-- Adds (s = 1) or removes (s = -1) one case row: its tally and its rollup rows.
CREATE FUNCTION case_rollup_add(r cases, s integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_tally (status, origin_code, handler_code, n) VALUES (r.status, r.origin_code, r.handler_code, s)
    ON CONFLICT (status, origin_code, handler_code) DO UPDATE SET n = case_tally.n + EXCLUDED.n;
  INSERT INTO case_rollup AS t (dim, unit_code, day, item_code, n, accepted, completed, approved, denied, on_time, on_spot,
      promised_completed, early, r1, r2, r3, r4, r5, cross_unit, transferred, refused, deferred, rectified)
    SELECT * FROM case_rollup_values(r, s)
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

-- What is already held, counted once (set-based: one row at a time took 408 s for 250,000 cases).
INSERT INTO case_tally (status, origin_code, handler_code, n) SELECT status, origin_code, handler_code, count(*) FROM cases GROUP BY 1, 2, 3;

INSERT INTO case_rollup (dim, unit_code, day, item_code, n, accepted, completed, approved, denied, on_time, on_spot,
    promised_completed, early, r1, r2, r3, r4, r5, cross_unit, transferred, refused, deferred, rectified)
  SELECT v.dim, v.unit_code, v.day, v.item_code, sum(v.n), sum(v.accepted), sum(v.completed), sum(v.approved), sum(v.denied),
    sum(v.on_time), sum(v.on_spot), sum(v.promised_completed), sum(v.early), sum(v.r1), sum(v.r2), sum(v.r3), sum(v.r4), sum(v.r5),
    sum(v.cross_unit), sum(v.transferred), sum(v.refused), sum(v.deferred), sum(v.rectified)
  FROM cases c, case_rollup_values(c, 1) v GROUP BY 1, 2, 3, 4;

-- Lists page by (created_at, id), newest first (keyset: every page costs its own rows).
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_status_created ON cases (status, created_at, id);
CREATE INDEX cases_origin_created ON cases (origin_code, created_at, id);

-- The open cases (what moves with the clock: overdue, due soon, rectification overdue).
CREATE INDEX cases_open ON cases (stat_day) WHERE status IN ('submitted', 'accepted') OR rect_status IN ('open', 'replied');

-- Closed cases are compacted oldest-touched first, from a cursor (docs/compact-cases.ts).
CREATE INDEX cases_updated ON cases (updated_at, id);
