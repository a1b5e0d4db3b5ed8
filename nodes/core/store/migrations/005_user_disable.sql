-- A user can be disabled (停用) by an administrator: a disabled user cannot log in and every
-- session of theirs ends at once. NULL: enabled. The time a password last changed is kept so an
-- administrator can see whether a reset took.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
CREATE INDEX tokens_user ON tokens (user_name);
