-- The China-local day a case counts on in statistics (acceptance, else intake), so statistics
-- read only the days asked for, and a refresh only the months whose cases changed.
ALTER TABLE cases ADD COLUMN stat_day text;
UPDATE cases SET stat_day = to_char(coalesce(accepted_at, created_at) AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD');
CREATE INDEX cases_origin_day ON cases (origin_code, stat_day);
CREATE INDEX cases_origin_updated ON cases (origin_code, updated_at);
