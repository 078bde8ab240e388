-- +goose Up
-- Every refresh sets sessions.last_used_at; while that column was in an
-- index, each refresh also rewrote an index entry. A user's active sessions
-- are few (AUTHD_MAX_SESSIONS), so sorting them by last use needs no index.
DROP INDEX sessions_user_active_idx;
CREATE INDEX sessions_user_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX sessions_user_active_idx;
CREATE INDEX sessions_user_active_idx ON sessions (user_id, last_used_at DESC) WHERE revoked_at IS NULL;
