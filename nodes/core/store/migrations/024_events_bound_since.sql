-- Case events name their case inside what is signed (protocol/event-binding.ts): an event
-- signed for one case cannot be copied into another. Events signed before this version name
-- none. A node believes such an unbound event only if it is dated no later than a grace period
-- after the node took this version (time for the rest of the tree to upgrade) and not before
-- its case was taken in: so no case taken in after the grace period can be given a decision
-- copied from another case, and an old node left running is told to upgrade.
-- The point is recorded once, by the server's clock, when this migration runs (for a new store:
-- its creation), and never moved afterwards.
INSERT INTO node_meta (key, value) VALUES ('events_bound_since', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (key) DO NOTHING;
