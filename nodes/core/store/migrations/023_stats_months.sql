-- Dashboards read months, not days (issue 11, goal 2: every GET /api/stats under 200 ms at a
-- 250,000-case county). case_rollup (015) holds this node's own counts per day and item; a year
-- read from it is ~3,000 rows spread over ~1,900 pages (each case change rewrites its day's row
-- and PGlite runs no autovacuum): 180–300 ms. Two tables kept beside it hold the same counts
-- per month and item, and per day over all items: a range reads its whole months from the first
-- (a year is 12 rows an item) and the days of its partial first and last months from case_rollup
-- or, when items are not asked for, from the second (services/stats.ts ownCounts).
--
-- Kept by triggers on case_rollup itself, whoever writes it (the case trigger of 015 or its
-- per-statement successor). Only the counts change on an update, never the key, and the pages
-- are half filled: updates stay on their page (HOT) and the tables stay a few pages.
CREATE TABLE case_rollup_month (
  dim          text NOT NULL,
  unit_code    text NOT NULL,
  month        text NOT NULL,
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
  r1           integer NOT NULL DEFAULT 0,
  r2           integer NOT NULL DEFAULT 0,
  r3           integer NOT NULL DEFAULT 0,
  r4           integer NOT NULL DEFAULT 0,
  r5           integer NOT NULL DEFAULT 0,
  cross_unit   integer NOT NULL DEFAULT 0,
  transferred  integer NOT NULL DEFAULT 0,
  refused      integer NOT NULL DEFAULT 0,
  deferred     integer NOT NULL DEFAULT 0,
  rectified    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (dim, unit_code, month, item_code)
) WITH (fillfactor = 50);

CREATE TABLE case_rollup_daysum (
  dim          text NOT NULL,
  unit_code    text NOT NULL,
  day          text NOT NULL,
  n            integer NOT NULL DEFAULT 0,
  accepted     integer NOT NULL DEFAULT 0,
  completed    integer NOT NULL DEFAULT 0,
  approved     integer NOT NULL DEFAULT 0,
  denied       integer NOT NULL DEFAULT 0,
  on_time      integer NOT NULL DEFAULT 0,
  on_spot      integer NOT NULL DEFAULT 0,
  promised_completed integer NOT NULL DEFAULT 0,
  early        integer NOT NULL DEFAULT 0,
  r1           integer NOT NULL DEFAULT 0,
  r2           integer NOT NULL DEFAULT 0,
  r3           integer NOT NULL DEFAULT 0,
  r4           integer NOT NULL DEFAULT 0,
  r5           integer NOT NULL DEFAULT 0,
  cross_unit   integer NOT NULL DEFAULT 0,
  transferred  integer NOT NULL DEFAULT 0,
  refused      integer NOT NULL DEFAULT 0,
  deferred     integer NOT NULL DEFAULT 0,
  rectified    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (dim, unit_code, day)
) WITH (fillfactor = 50);

-- What is held, summed once.
INSERT INTO case_rollup_month (dim, unit_code, month, item_code, n, accepted, completed, approved, denied, on_time, on_spot, promised_completed, early, r1, r2, r3, r4, r5,
    cross_unit, transferred, refused, deferred, rectified)
  SELECT dim, unit_code, substr(day, 1, 7), item_code, sum(n), sum(accepted), sum(completed), sum(approved), sum(denied), sum(on_time), sum(on_spot),
    sum(promised_completed), sum(early), sum(r1), sum(r2), sum(r3), sum(r4), sum(r5), sum(cross_unit),
    sum(transferred), sum(refused), sum(deferred), sum(rectified)
  FROM case_rollup GROUP BY 1, 2, 3, 4;

INSERT INTO case_rollup_daysum (dim, unit_code, day, n, accepted, completed, approved, denied, on_time, on_spot, promised_completed, early, r1, r2, r3, r4, r5,
    cross_unit, transferred, refused, deferred, rectified)
  SELECT dim, unit_code, day, sum(n), sum(accepted), sum(completed), sum(approved), sum(denied), sum(on_time), sum(on_spot),
    sum(promised_completed), sum(early), sum(r1), sum(r2), sum(r3), sum(r4), sum(r5), sum(cross_unit),
    sum(transferred), sum(refused), sum(deferred), sum(rectified)
  FROM case_rollup GROUP BY 1, 2, 3;

-- Rows of case_rollup that went (their old values) and came (their new ones), added to both.
CREATE FUNCTION case_rollup_spread(gone case_rollup[], came case_rollup[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_rollup_month AS t (dim, unit_code, month, item_code, n, accepted, completed, approved, denied, on_time, on_spot, promised_completed, early, r1, r2, r3, r4, r5,
      cross_unit, transferred, refused, deferred, rectified)
    SELECT (d.r).dim, (d.r).unit_code, substr((d.r).day, 1, 7), (d.r).item_code, sum(d.s * (d.r).n), sum(d.s * (d.r).accepted), sum(d.s * (d.r).completed), sum(d.s * (d.r).approved), sum(d.s
      * (d.r).denied), sum(d.s * (d.r).on_time), sum(d.s * (d.r).on_spot), sum(d.s * (d.r).promised_completed),
      sum(d.s * (d.r).early), sum(d.s * (d.r).r1), sum(d.s * (d.r).r2), sum(d.s * (d.r).r3), sum(d.s * (d.r).r4),
      sum(d.s * (d.r).r5), sum(d.s * (d.r).cross_unit), sum(d.s * (d.r).transferred), sum(d.s * (d.r).refused),
      sum(d.s * (d.r).deferred), sum(d.s * (d.r).rectified)
    FROM (SELECT g AS r, -1 AS s FROM unnest(gone) AS g UNION ALL SELECT c, 1 FROM unnest(came) AS c) AS d
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (dim, unit_code, month, item_code) DO UPDATE SET n = t.n + EXCLUDED.n, accepted = t.accepted + EXCLUDED.accepted, completed = t.completed + EXCLUDED.completed,
      approved = t.approved + EXCLUDED.approved, denied = t.denied + EXCLUDED.denied, on_time = t.on_time +
      EXCLUDED.on_time, on_spot = t.on_spot + EXCLUDED.on_spot, promised_completed = t.promised_completed +
      EXCLUDED.promised_completed, early = t.early + EXCLUDED.early, r1 = t.r1 + EXCLUDED.r1, r2 = t.r2 +
      EXCLUDED.r2, r3 = t.r3 + EXCLUDED.r3, r4 = t.r4 + EXCLUDED.r4, r5 = t.r5 + EXCLUDED.r5, cross_unit =
      t.cross_unit + EXCLUDED.cross_unit, transferred = t.transferred + EXCLUDED.transferred, refused = t.refused +
      EXCLUDED.refused, deferred = t.deferred + EXCLUDED.deferred, rectified = t.rectified + EXCLUDED.rectified;
  INSERT INTO case_rollup_daysum AS t (dim, unit_code, day, n, accepted, completed, approved, denied, on_time, on_spot, promised_completed, early, r1, r2, r3, r4, r5,
      cross_unit, transferred, refused, deferred, rectified)
    SELECT (d.r).dim, (d.r).unit_code, (d.r).day, sum(d.s * (d.r).n), sum(d.s * (d.r).accepted), sum(d.s * (d.r).completed), sum(d.s * (d.r).approved), sum(d.s
      * (d.r).denied), sum(d.s * (d.r).on_time), sum(d.s * (d.r).on_spot), sum(d.s * (d.r).promised_completed),
      sum(d.s * (d.r).early), sum(d.s * (d.r).r1), sum(d.s * (d.r).r2), sum(d.s * (d.r).r3), sum(d.s * (d.r).r4),
      sum(d.s * (d.r).r5), sum(d.s * (d.r).cross_unit), sum(d.s * (d.r).transferred), sum(d.s * (d.r).refused),
      sum(d.s * (d.r).deferred), sum(d.s * (d.r).rectified)
    FROM (SELECT g AS r, -1 AS s FROM unnest(gone) AS g UNION ALL SELECT c, 1 FROM unnest(came) AS c) AS d
    GROUP BY 1, 2, 3
    ON CONFLICT (dim, unit_code, day) DO UPDATE SET n = t.n + EXCLUDED.n, accepted = t.accepted + EXCLUDED.accepted, completed = t.completed + EXCLUDED.completed,
      approved = t.approved + EXCLUDED.approved, denied = t.denied + EXCLUDED.denied, on_time = t.on_time +
      EXCLUDED.on_time, on_spot = t.on_spot + EXCLUDED.on_spot, promised_completed = t.promised_completed +
      EXCLUDED.promised_completed, early = t.early + EXCLUDED.early, r1 = t.r1 + EXCLUDED.r1, r2 = t.r2 +
      EXCLUDED.r2, r3 = t.r3 + EXCLUDED.r3, r4 = t.r4 + EXCLUDED.r4, r5 = t.r5 + EXCLUDED.r5, cross_unit =
      t.cross_unit + EXCLUDED.cross_unit, transferred = t.transferred + EXCLUDED.transferred, refused = t.refused +
      EXCLUDED.refused, deferred = t.deferred + EXCLUDED.deferred, rectified = t.rectified + EXCLUDED.rectified;
END
$$;

-- One trigger per event (a trigger with transition tables takes one); an upsert fires both.
CREATE FUNCTION case_rollup_spread_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE came case_rollup[];
BEGIN
  SELECT array_agg(x::case_rollup) INTO came FROM new_rows AS x;
  IF came IS NOT NULL THEN PERFORM case_rollup_spread(NULL, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION case_rollup_spread_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone case_rollup[]; came case_rollup[];
BEGIN
  SELECT array_agg(x::case_rollup) INTO gone FROM old_rows AS x;
  SELECT array_agg(x::case_rollup) INTO came FROM new_rows AS x;
  IF gone IS NOT NULL OR came IS NOT NULL THEN PERFORM case_rollup_spread(gone, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION case_rollup_spread_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone case_rollup[];
BEGIN
  SELECT array_agg(x::case_rollup) INTO gone FROM old_rows AS x;
  IF gone IS NOT NULL THEN PERFORM case_rollup_spread(gone, NULL); END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER case_rollup_spread_ins AFTER INSERT ON case_rollup REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_spread_inserted();

CREATE TRIGGER case_rollup_spread_upd AFTER UPDATE ON case_rollup REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_spread_updated();

CREATE TRIGGER case_rollup_spread_del AFTER DELETE ON case_rollup REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION case_rollup_spread_deleted();

-- The figures that move with the clock (overdue, due soon, rectification overdue) are counted
-- from the open cases; at a 250,000-case county some 7,800 are open, one heap page each, so
-- reading them took 50–220 ms. case_clock holds what those counts need of them, grouped: per
-- dimension, the node's own unit, stat day and item, a due date (`what` 'due': open, by its due
-- date; 'rect': a rectification open, by its due date) and how many. A few pages; a group whose
-- cases all closed is removed, so it holds the open cases only.
CREATE TABLE case_clock (
  dim        text NOT NULL,
  unit_code  text NOT NULL,
  day        text NOT NULL,
  item_code  text NOT NULL,
  what       text NOT NULL,
  at         text NOT NULL,
  n          integer NOT NULL,
  PRIMARY KEY (dim, unit_code, day, item_code, what, at)
) WITH (fillfactor = 50);

-- One case row's groups, times s (1 to add, -1 to remove); '' for a case without a stat day
-- (counted when the range is open, as the cases were).
CREATE FUNCTION case_clock_values(r cases, s integer)
RETURNS TABLE (dim text, unit_code text, day text, item_code text, what text, at text, n integer)
LANGUAGE sql STABLE AS $$
  SELECT d.dim, d.code, coalesce(r.stat_day, ''), r.item_code, w.what, w.at, s
  FROM (VALUES ('origin', r.origin_code), ('handler', r.handler_code)) AS d (dim, code),
    (VALUES ('due', CASE WHEN r.status IN ('submitted', 'accepted') THEN r.due_date END),
            ('rect', CASE WHEN r.rect_status IN ('open', 'replied') THEN r.rect_due END)) AS w (what, at)
  WHERE w.at IS NOT NULL AND d.code = (SELECT value FROM node_meta WHERE key = 'code')
$$;

INSERT INTO case_clock (dim, unit_code, day, item_code, what, at, n)
  SELECT v.dim, v.unit_code, v.day, v.item_code, v.what, v.at, sum(v.n)
  FROM cases c, case_clock_values(c, 1) v
  WHERE c.status IN ('submitted', 'accepted') OR c.rect_status IN ('open', 'replied')
  GROUP BY 1, 2, 3, 4, 5, 6;

-- The case rows that went and came, as groups: only a change of what the clock counts writes
-- (most changes of a case net to nothing here); a group down to 0 is removed.
CREATE FUNCTION case_clock_apply(gone cases[], came cases[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE delta case_clock[];
BEGIN
  SELECT array_agg(ROW(x.dim, x.unit_code, x.day, x.item_code, x.what, x.at, x.n)::case_clock) INTO delta
  FROM (SELECT v.dim, v.unit_code, v.day, v.item_code, v.what, v.at, sum(v.n)::int AS n
    FROM (SELECT g AS r, -1 AS s FROM unnest(gone) AS g UNION ALL SELECT c, 1 FROM unnest(came) AS c) AS d,
      case_clock_values(d.r, d.s) AS v
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(v.n) <> 0) AS x;
  IF delta IS NULL THEN RETURN; END IF;
  INSERT INTO case_clock AS t SELECT * FROM unnest(delta)
    ON CONFLICT (dim, unit_code, day, item_code, what, at) DO UPDATE SET n = t.n + EXCLUDED.n;
  DELETE FROM case_clock t USING unnest(delta) AS d
    WHERE t.n = 0 AND t.dim = d.dim AND t.unit_code = d.unit_code AND t.day = d.day AND t.item_code = d.item_code AND t.what = d.what AND t.at = d.at;
END
$$;

CREATE FUNCTION cases_clock_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE came cases[];
BEGIN
  SELECT array_agg(x::cases) INTO came FROM new_rows AS x WHERE x.status IN ('submitted', 'accepted') OR x.rect_status IN ('open', 'replied');
  IF came IS NOT NULL THEN PERFORM case_clock_apply(NULL, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION cases_clock_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone cases[]; came cases[];
BEGIN
  SELECT array_agg(x::cases) INTO gone FROM old_rows AS x WHERE x.status IN ('submitted', 'accepted') OR x.rect_status IN ('open', 'replied');
  SELECT array_agg(x::cases) INTO came FROM new_rows AS x WHERE x.status IN ('submitted', 'accepted') OR x.rect_status IN ('open', 'replied');
  IF gone IS NOT NULL OR came IS NOT NULL THEN PERFORM case_clock_apply(gone, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION cases_clock_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone cases[];
BEGIN
  SELECT array_agg(x::cases) INTO gone FROM old_rows AS x WHERE x.status IN ('submitted', 'accepted') OR x.rect_status IN ('open', 'replied');
  IF gone IS NOT NULL THEN PERFORM case_clock_apply(gone, NULL); END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER cases_clock_ins AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_clock_inserted();

CREATE TRIGGER cases_clock_upd AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_clock_updated();

CREATE TRIGGER cases_clock_del AFTER DELETE ON cases REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_clock_deleted();

-- The children's rollups (020) read along the unit asked for: its rows by key (a drill-down's
-- total, groupBy=day of the children) or by parent (groupBy=child), month sums and days apart.
-- 020's indexes led with the period: a city's year by day read 200,000 unit rows to keep 1,460
-- (380 ms), a county's units by month 46,000 to keep 540. Items by child and month likewise.
DROP INDEX stats_rollup_unit;

DROP INDEX stats_rollup_up;

DROP INDEX stats_rollup_months;

CREATE INDEX stats_rollup_key_months ON stats_rollup (dim, kind, key, month) WHERE day = month AND kind <> 'i';

CREATE INDEX stats_rollup_key_days ON stats_rollup (dim, kind, key, day) WHERE day <> month AND kind <> 'i';

CREATE INDEX stats_rollup_up_months ON stats_rollup (dim, kind, up, month) WHERE day = month AND up IS NOT NULL;

CREATE INDEX stats_rollup_up_days ON stats_rollup (dim, kind, up, day) WHERE day <> month AND up IS NOT NULL;

-- Item rows only: with no statistics (PGlite never analyzes) the planner took these for unit
-- rows too, whatever the key asked for.
DROP INDEX stats_rollup_days;

CREATE INDEX stats_rollup_months ON stats_rollup (dim, kind, child_code, month) WHERE day = month AND kind = 'i';

CREATE INDEX stats_rollup_days ON stats_rollup (dim, kind, month, day) WHERE day <> month AND kind = 'i';
