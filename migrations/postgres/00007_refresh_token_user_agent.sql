-- +goose Up
-- The user agent of the request that minted each refresh token: a retry of
-- its parent within the grace window from another user agent or address
-- prefix than that first use is recorded (refresh_retry_mismatch).
ALTER TABLE refresh_tokens ADD COLUMN user_agent text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN user_agent;
