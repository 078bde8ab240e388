-- +goose Up
CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    datetime NOT NULL,
    updated_at    datetime NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- One row per device: a session is one refresh-token family.
CREATE TABLE sessions (
    id            text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id     text NOT NULL,
    device_name   text NOT NULL,
    user_agent    text NOT NULL,
    browser       text NOT NULL DEFAULT '',
    os            text NOT NULL DEFAULT '',
    device_type   text NOT NULL DEFAULT '',
    ip_prefix     text NOT NULL DEFAULT '',
    created_at    datetime NOT NULL,
    last_used_at  datetime NOT NULL,
    expires_at    datetime NOT NULL,
    revoked_at    datetime,
    revoke_reason text
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id, last_used_at DESC) WHERE revoked_at IS NULL;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    id          text PRIMARY KEY,
    session_id  text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id   text REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    generation  integer NOT NULL,
    secret_hash blob NOT NULL,
    ip_prefix   text NOT NULL DEFAULT '',
    created_at  datetime NOT NULL,
    expires_at  datetime NOT NULL,
    rotated_at  datetime,
    child_id    text,
    revoked_at  datetime
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE UNIQUE INDEX refresh_tokens_parent_key ON refresh_tokens (parent_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE security_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    user_id       text,
    session_id    text,
    actor_user_id text,
    ip_prefix     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    created_at    datetime NOT NULL,
    details       text NOT NULL DEFAULT '{}'
);
CREATE INDEX security_events_created_idx ON security_events (created_at DESC, id DESC);
CREATE INDEX security_events_user_idx ON security_events (user_id, created_at DESC, id DESC);
CREATE INDEX security_events_user_reason_idx ON security_events (user_id, reason, created_at DESC, id DESC);
CREATE INDEX security_events_session_idx ON security_events (session_id, created_at DESC, id DESC);
CREATE INDEX security_events_type_idx ON security_events (type, created_at DESC, id DESC);

-- +goose StatementBegin
CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
BEGIN
    SELECT RAISE(ABORT, 'security_events is append-only');
END;
-- +goose StatementEnd

CREATE TABLE server_keys (
    name       text PRIMARY KEY,
    secret     blob NOT NULL,
    created_at datetime NOT NULL
);

-- +goose Down
DROP TABLE server_keys;
DROP TRIGGER security_events_no_update;
DROP TABLE security_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
