-- Stored history for the growth test: :sessions sessions of :users users,
-- each with :per_session refresh tokens (a rotated chain ending in one live
-- token), so sessions * per_session rows in refresh_tokens. Ids look random
-- (md5) where authd's are random (token ids); session and user ids are
-- ordered like authd's UUIDv7.
-- psql -v users=10000 -v sessions=100000 -v per_session=10 -f seed.sql
INSERT INTO users (id, email, password_hash, role, created_at, updated_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(u), 12, '0'))::uuid, 'seed-' || u || '@example.com',
       '$2a$12$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv', 'user', now(), now()
FROM generate_series(1, :users) u;
INSERT INTO sessions (id, user_id, client_id, device_name, user_agent, browser, os, device_type, ip_prefix,
                      created_at, last_used_at, expires_at)
SELECT ('00000000-0001-7000-8000-' || lpad(to_hex(s), 12, '0'))::uuid,
       ('00000000-0000-7000-8000-' || lpad(to_hex(1 + s % :users), 12, '0'))::uuid,
       'default', 'Firefox on Linux', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
       'Firefox', 'Linux', 'desktop', '203.0.113.0/24', now(), now(), now() + interval '720 hours'
FROM generate_series(1, :sessions) s;
INSERT INTO refresh_tokens (id, session_id, parent_id, generation, secret_hash, ip_prefix, created_at, expires_at,
                            rotated_at, child_id)
SELECT md5('seed-token-' || s || '-' || g)::uuid,
       ('00000000-0001-7000-8000-' || lpad(to_hex(s), 12, '0'))::uuid,
       CASE WHEN g > 0 THEN md5('seed-token-' || s || '-' || (g - 1))::uuid END,
       g, sha256(convert_to('seed-' || s || '-' || g, 'UTF8')), '203.0.113.0/24', now(), now() + interval '336 hours',
       CASE WHEN g < :per_session - 1 THEN now() END,
       CASE WHEN g < :per_session - 1 THEN md5('seed-token-' || s || '-' || (g + 1))::uuid END
FROM generate_series(1, :sessions) s, generate_series(0, :per_session - 1) g
ORDER BY s, g;
VACUUM ANALYZE users;
VACUUM ANALYZE sessions;
VACUUM ANALYZE refresh_tokens;
