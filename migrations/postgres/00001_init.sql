-- +goose Up
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- One row per device: a session is one refresh-token family.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id     text NOT NULL,
    device_name   text NOT NULL,
    user_agent    text NOT NULL,
    browser       text NOT NULL DEFAULT '',
    os            text NOT NULL DEFAULT '',
    device_type   text NOT NULL DEFAULT '',
    ip_prefix     text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL, -- absolute lifetime, never extended
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id, last_used_at DESC) WHERE revoked_at IS NULL;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Every refresh token ever issued, kept as history after rotation (RFC 9700
-- §4.14.2). Only a hash of the secret is stored.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id   uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    generation  integer NOT NULL,
    secret_hash bytea NOT NULL,
    ip_prefix   text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    child_id    uuid,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
-- A parent has at most one child: a family can never fork.
CREATE UNIQUE INDEX refresh_tokens_parent_key ON refresh_tokens (parent_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Append-only record of what the security team reviews.
CREATE TABLE security_events (
    id            uuid PRIMARY KEY,
    type          text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    user_id       uuid,
    session_id    uuid,
    actor_user_id uuid,
    ip_prefix     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX security_events_created_idx ON security_events (created_at DESC, id DESC);
CREATE INDEX security_events_user_idx ON security_events (user_id, created_at DESC, id DESC);
CREATE INDEX security_events_user_reason_idx ON security_events (user_id, reason, created_at DESC, id DESC);
CREATE INDEX security_events_session_idx ON security_events (session_id, created_at DESC, id DESC);
CREATE INDEX security_events_type_idx ON security_events (type, created_at DESC, id DESC);

-- +goose StatementBegin
CREATE FUNCTION security_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('authd.purge_events', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'security_events is append-only';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();

-- Server-side keys shared by every instance (the refresh-token derivation key).
CREATE TABLE server_keys (
    name       text PRIMARY KEY,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE server_keys;
DROP TABLE security_events;
DROP FUNCTION security_events_append_only();
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
