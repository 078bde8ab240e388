-- +goose Up
-- The RFC 7638 thumbprint (SHA-256, base64url) of the public key a session
-- is bound to by DPoP (RFC 9449); '' for a session bound to no key. It is on
-- the session row, so the one read of a refresh returns it with the rest.
ALTER TABLE sessions ADD COLUMN dpop_jkt text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN dpop_jkt;
