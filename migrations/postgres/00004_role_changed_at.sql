-- +goose Up
-- When a user's role last changed: an instance that (re)connects to the
-- revocation feed reloads the role changes of the last access-token
-- lifetime from it, as it reloads revoked sessions, so that tokens issued
-- before a demotion lose the admin role on every instance.
ALTER TABLE users ADD COLUMN role_changed_at timestamptz;
CREATE INDEX users_role_changed_at_idx ON users (role_changed_at) WHERE role_changed_at IS NOT NULL;

-- +goose Down
DROP INDEX users_role_changed_at_idx;
ALTER TABLE users DROP COLUMN role_changed_at;
