-- One user, session and live refresh token per pgbench client (1..64), for
-- rotate.pgbench. Token ids are md5('pgbench-token-<client>')::uuid.
INSERT INTO users (id, email, password_hash, role, created_at, updated_at)
SELECT md5('pgbench-user-' || c)::uuid, 'pgbench-' || c || '@example.com', 'x', 'user', now(), now()
FROM generate_series(0, 63) c;
INSERT INTO sessions (id, user_id, client_id, device_name, user_agent, ip_prefix, created_at, last_used_at, expires_at)
SELECT md5('pgbench-session-' || c)::uuid, md5('pgbench-user-' || c)::uuid, 'default', 'pgbench', 'pgbench',
       '127.0.0.0/24', now(), now(), now() + interval '720 hours'
FROM generate_series(0, 63) c;
INSERT INTO refresh_tokens (id, session_id, generation, secret_hash, ip_prefix, created_at, expires_at)
SELECT md5('pgbench-token-' || c)::uuid, md5('pgbench-session-' || c)::uuid, 0,
       sha256(convert_to('pgbench-' || c, 'UTF8')), '127.0.0.0/24', now(), now() + interval '336 hours'
FROM generate_series(0, 63) c;
