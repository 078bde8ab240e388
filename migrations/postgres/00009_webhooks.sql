-- +goose Up
-- Webhook endpoints (Standard Webhooks): where the outbox pushes security
-- events. The signing secret must be readable to sign (HMAC), so it is
-- stored as is; previous_secret signs too until previous_expires_at, the
-- overlap window of a rotation. failing_since is the first failed attempt
-- since the last success: 24 hours of failures disable the endpoint.
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY,
    url                 text NOT NULL,
    event_types         text NOT NULL,
    description         text NOT NULL DEFAULT '',
    secret              text NOT NULL,
    previous_secret     text NOT NULL DEFAULT '',
    previous_expires_at timestamptz,
    enabled             boolean NOT NULL DEFAULT true,
    disabled_at         timestamptz,
    failing_since       timestamptz,
    created_by          uuid,
    created_at          timestamptz NOT NULL
);

-- One row per delivery attempt, for GET /v1/admin/webhooks/{id}/deliveries.
CREATE TABLE webhook_deliveries (
    id          uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    http_status integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    duration_ms integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
