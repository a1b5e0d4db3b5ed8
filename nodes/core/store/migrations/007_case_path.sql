-- 通办 (issue 8): a case may be decided in another subtree and transferred (转办), so its path
-- is the union of the routes from its origin to every handler it has had.
-- doc_routes.handlers: every handler, the first being the application's (the link reads it).
ALTER TABLE doc_routes ADD COLUMN handlers text[];
UPDATE doc_routes SET handlers = ARRAY[handler_code];
ALTER TABLE doc_routes ALTER COLUMN handlers SET NOT NULL;
-- cases.handler_code is the handler now; first_handler_code the one the window chose.
ALTER TABLE cases ADD COLUMN first_handler_code text;
UPDATE cases SET first_handler_code = handler_code;
-- 异地件: decided by a unit that is not the window's own ancestor-or-self; and transfers made.
ALTER TABLE cases ADD COLUMN cross_unit boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN transfers integer NOT NULL DEFAULT 0;
CREATE INDEX cases_handler_day ON cases (handler_code, stat_day);
CREATE INDEX cases_handler_updated ON cases (handler_code, updated_at);
-- Statistics by where a case was taken in (受理地, 'origin') and where it is decided (办理地, 'handler').
ALTER TABLE stats_rows ADD COLUMN dim text NOT NULL DEFAULT 'origin';
ALTER TABLE stats_rows DROP CONSTRAINT stats_rows_pkey;
ALTER TABLE stats_rows ADD PRIMARY KEY (node_code, dim, day, item_code);
DROP INDEX stats_rows_month;
CREATE INDEX stats_rows_month ON stats_rows (node_code, dim, month);
