-- +goose Up
-- Shared Signals (SSF 1.0) transmitter. A receiver is a party an admin
-- let in: it authenticates with a bearer token of which only SHA-256 is
-- stored, and its SETs carry its audience. A receiver manages its own
-- streams; a poll stream's SETs wait in ssf_poll_sets until acknowledged
-- (RFC 8936), written in the transaction of the event they tell of.
CREATE TABLE ssf_receivers (
    id          uuid PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    audience    text NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_by  uuid,
    created_at  timestamptz NOT NULL
);

CREATE TABLE ssf_streams (
    id                   uuid PRIMARY KEY,
    receiver_id          uuid NOT NULL REFERENCES ssf_receivers (id) ON DELETE CASCADE,
    description          text NOT NULL DEFAULT '',
    events_requested     text NOT NULL DEFAULT '[]',
    delivery_method      text NOT NULL,
    endpoint_url         text NOT NULL DEFAULT '',
    authorization_header text NOT NULL DEFAULT '',
    subject_format       text NOT NULL DEFAULT 'iss_sub',
    status               text NOT NULL DEFAULT 'enabled',
    status_reason        text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX ssf_streams_receiver_idx ON ssf_streams (receiver_id);

CREATE TABLE ssf_poll_sets (
    stream_id  uuid NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    jti        text NOT NULL,
    set_jwt    text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (stream_id, jti)
);
CREATE INDEX ssf_poll_sets_order_idx ON ssf_poll_sets (stream_id, created_at, jti);

-- +goose Down
DROP TABLE ssf_poll_sets;
DROP TABLE ssf_streams;
DROP TABLE ssf_receivers;
