-- +goose Up
-- Every refresh sets sessions.last_used_at. While that column was in an
-- index, each refresh wrote a new index entry into every index of sessions
-- (no HOT update); a user's active sessions are few (AUTHD_MAX_SESSIONS), so
-- sorting them by last use needs no index. Free space on each page (fill
-- factor) lets the refresh's updates of sessions and refresh_tokens stay on
-- the row's page as heap-only tuples, which PostgreSQL prunes as it goes.
DROP INDEX sessions_user_active_idx;
CREATE INDEX sessions_user_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;
ALTER TABLE sessions SET (fillfactor = 80);
ALTER TABLE refresh_tokens SET (fillfactor = 80);

-- +goose Down
ALTER TABLE refresh_tokens RESET (fillfactor);
ALTER TABLE sessions RESET (fillfactor);
DROP INDEX sessions_user_active_idx;
CREATE INDEX sessions_user_active_idx ON sessions (user_id, last_used_at DESC) WHERE revoked_at IS NULL;
