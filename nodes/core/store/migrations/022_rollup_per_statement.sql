-- The rollup of migration 015 kept per statement, not per row (issue 11, goal 1). A link's batch
-- projects its cases in one statement (docs/projection.ts projectCases), but the row trigger ran
-- case_rollup_add for every case in it: two upserts each, each a plan run inside PGlite's one
-- thread. Here the trigger fires once per statement with the rows it changed (transition tables)
-- and sums them first, so a batch of 32 cases is two upserts of a few grouped rows.
--
-- case_rollup_apply is the one place the rollup is written: a later count, or a table kept
-- beside case_rollup, is added there (CREATE OR REPLACE), not to case_rollup_add — that one
-- stays for a single row (kept for any caller of 015's function; the trigger no longer uses it).
CREATE FUNCTION case_rollup_apply(gone cases[], came cases[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_tally (status, origin_code, handler_code, n)
    SELECT (d.r).status, (d.r).origin_code, (d.r).handler_code, sum(d.s)
    FROM (SELECT g AS r, -1 AS s FROM unnest(gone) AS g UNION ALL SELECT c, 1 FROM unnest(came) AS c) AS d
    GROUP BY 1, 2, 3
    ON CONFLICT (status, origin_code, handler_code) DO UPDATE SET n = case_tally.n + EXCLUDED.n;
  INSERT INTO case_rollup AS t (dim, unit_code, day, item_code, n, accepted, completed, approved, denied, on_time, on_spot,
      promised_completed, early, r1, r2, r3, r4, r5, cross_unit, transferred, refused, deferred, rectified)
    SELECT v.dim, v.unit_code, v.day, v.item_code, sum(v.n), sum(v.accepted), sum(v.completed), sum(v.approved), sum(v.denied),
      sum(v.on_time), sum(v.on_spot), sum(v.promised_completed), sum(v.early), sum(v.r1), sum(v.r2), sum(v.r3), sum(v.r4), sum(v.r5),
      sum(v.cross_unit), sum(v.transferred), sum(v.refused), sum(v.deferred), sum(v.rectified)
    FROM (SELECT g AS r, -1 AS s FROM unnest(gone) AS g UNION ALL SELECT c, 1 FROM unnest(came) AS c) AS d,
      case_rollup_values(d.r, d.s) AS v
    GROUP BY 1, 2, 3, 4
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

-- One trigger per event: a trigger with transition tables takes one event (PostgreSQL 15 and
-- PGlite alike). An INSERT … ON CONFLICT DO UPDATE fires both, each with its own rows.
CREATE FUNCTION cases_rollup_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE came cases[];
BEGIN
  SELECT array_agg(n::cases) INTO came FROM new_rows AS n;
  IF came IS NOT NULL THEN PERFORM case_rollup_apply(NULL, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION cases_rollup_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone cases[]; came cases[];
BEGIN
  SELECT array_agg(o::cases) INTO gone FROM old_rows AS o;
  SELECT array_agg(n::cases) INTO came FROM new_rows AS n;
  IF gone IS NOT NULL OR came IS NOT NULL THEN PERFORM case_rollup_apply(gone, came); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION cases_rollup_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE gone cases[];
BEGIN
  SELECT array_agg(o::cases) INTO gone FROM old_rows AS o;
  IF gone IS NOT NULL THEN PERFORM case_rollup_apply(gone, NULL); END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER cases_rollup ON cases;

CREATE TRIGGER cases_rollup_ins AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_rollup_inserted();

CREATE TRIGGER cases_rollup_upd AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_rollup_updated();

CREATE TRIGGER cases_rollup_del AFTER DELETE ON cases REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cases_rollup_deleted();
