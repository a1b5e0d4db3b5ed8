-- Bounded growth (issue 11, goal 3): `case_events` held every event of every case again, as
-- JSONB (~2 KB a case at a county: as much as the case document itself). Every event is in the
-- case's document, which the case page, the timeline and the fold read; the only queries of this
-- table are the attachment lane's (link/attachment-lane.ts: which case names which file), and
-- they read `attached` events only. So the table keeps those and nothing else.

-- What is already here: the attached events copied aside, the table emptied (TRUNCATE gives the
-- space back at once; a DELETE would leave ~2 KB a case of dead rows a plain VACUUM never
-- returns), then copied back.
CREATE TEMP TABLE case_events_keep ON COMMIT DROP AS SELECT * FROM case_events WHERE type = 'attached';

TRUNCATE case_events;

INSERT INTO case_events SELECT * FROM case_events_keep;

-- What comes: whoever writes events here (the projection, a bulk fill in bench/) writes every
-- event of a case in one statement; the rows other than `attached` are dropped on the way in,
-- so the table cannot grow back whatever a writer sends.
CREATE FUNCTION case_events_attached_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.type = 'attached' THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER case_events_attached_only BEFORE INSERT ON case_events FOR EACH ROW EXECUTE FUNCTION case_events_attached_only();

-- Closed cases merged before their merged row was packed (docs/packed-update.ts) are walked
-- again from the start: the compaction job packs a lone unpacked row too.
DELETE FROM node_meta WHERE key = 'compact_cases_after';

-- Indexes of `cases` that no query uses (EXPLAIN of the lists by status, handler and origin, the
-- statistics by 受理地/办理地 and day, the watcher's, the day's sequence and restore's newest
-- change, on a 50,000-case county): ~120 B a case. (origin_code, accepted_at) and
-- (handler_code, updated_at) serve nothing; restore's max(updated_at) of one window, once, reads
-- cases_updated backwards instead of (origin_code, updated_at).
DROP INDEX IF EXISTS cases_origin;

DROP INDEX IF EXISTS cases_handler_updated;

DROP INDEX IF EXISTS cases_origin_updated;
