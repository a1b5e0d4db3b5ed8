-- A user's display name (显示名, what timelines and receipts show beside the login name) and
-- work phone (printed on the receipts the user hands out). NULL: none given.
ALTER TABLE users ADD COLUMN display_name text;
ALTER TABLE users ADD COLUMN phone text;
-- Names of items counted by units below that this node's catalogue does not hold (a county's
-- local list seen from the city), from their statistics documents: dashboards name them.
CREATE TABLE item_names (
  code text PRIMARY KEY,
  name text NOT NULL
);
