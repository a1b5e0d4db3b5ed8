-- Names of the units below (from their statistics documents), for dashboards and link status.
CREATE TABLE units (
  code text PRIMARY KEY,
  name text NOT NULL
);
