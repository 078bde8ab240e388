-- +goose Up
-- Device tokens (OWASP "device cookies"): a device that signed in once keeps
-- a login failure budget of its own, so an attacker spending an account's
-- budget cannot lock its owner's known devices out. Only SHA-256 of the
-- 256-bit secret is stored. A token belongs to one user and goes with it.
CREATE TABLE device_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX device_tokens_user_idx ON device_tokens (user_id);
CREATE INDEX device_tokens_expires_idx ON device_tokens (expires_at);

-- +goose Down
DROP TABLE device_tokens;
