-- Service practices (issue 9). 容缺受理: the case was accepted with materials owed (deferred),
-- and how many are still owed. 差评整改: the rectification a bad rating opened — its state
-- (open, replied, closed) and due date — counted by the statistics.
ALTER TABLE cases ADD COLUMN deferred boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN owed integer NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN rect_status text;
ALTER TABLE cases ADD COLUMN rect_due text;
