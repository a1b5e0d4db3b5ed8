-- Statistics rolled up per subtree (issue 11, goal 2; protocol/stats-rollup.ts): the rows of
-- each child's rollup document, so a node answers its dashboard from its children's rollups —
-- a few rows per child, day and item — instead of every descendant's raw rows.
--
-- `day` is a day, or the month itself (`YYYY-MM`) for the month's sum of the same key: a range
-- of whole months reads those, so a year is twelve rows per key, not 365.
-- `up`: for unit rows (kind u, o), the unit's parent — groupBy=child under it reads them.
CREATE TABLE stats_rollup (
  dim        text NOT NULL,
  kind       text NOT NULL,
  child_code text NOT NULL,
  month      text NOT NULL,
  day        text NOT NULL,
  key        text NOT NULL,
  up         text,
  counts     jsonb NOT NULL,
  PRIMARY KEY (dim, kind, child_code, month, day, key)
);
CREATE INDEX stats_rollup_unit ON stats_rollup (dim, kind, key, month) WHERE kind <> 'i';
-- A range reads month sums and the days of partial months without walking the other rows.
CREATE INDEX stats_rollup_months ON stats_rollup (dim, kind, month) WHERE day = month;
CREATE INDEX stats_rollup_days ON stats_rollup (dim, kind, month, day) WHERE day <> month;
CREATE INDEX stats_rollup_up ON stats_rollup (dim, up, month) WHERE up IS NOT NULL;

-- The rollup documents held, one per child, dimension and month: where one is held, the raw
-- statistics rows of that child's subtree for that month (stats_rows, from nodes older than
-- rollups) are not summed again. `rejected`: entries refused as not the child's to write.
CREATE TABLE stats_rollup_docs (
  child_code text NOT NULL,
  dim        text NOT NULL,
  month      text NOT NULL,
  rows       integer NOT NULL,
  rejected   integer NOT NULL DEFAULT 0,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (child_code, dim, month)
);
