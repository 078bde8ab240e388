package testdb

// SeedEventsSQL inserts @n events with generate_series: 30% of them belong to
// one heavy user (@heavy), the rest to 10,000 others; a quarter are
// session_revoked, spread over the seven revocation reasons; one per second
// back from now. The index test of models uses it with
// thousands of rows, the benchmark in bench/ with a million.
const SeedEventsSQL = `INSERT INTO security_events
	(id, type, reason, user_id, session_id, ip_prefix, user_agent, created_at, details)
SELECT gen_random_uuid(),
	(ARRAY['login_succeeded','login_failed','session_revoked','user_registered'])[1 + i % 4],
	CASE WHEN i % 4 = 2 THEN (ARRAY['logout','user_revoked','revoked_others','password_changed',
		'admin_revoked','session_limit','reuse_detected'])[1 + (i / 4) % 7] ELSE '' END,
	CASE WHEN i % 10 < 3 THEN CAST(@heavy AS uuid)
		ELSE ('00000000-0000-4000-8000-' || lpad(to_hex(i % 10000), 12, '0'))::uuid END,
	gen_random_uuid(), '203.0.113.0/24', 'bench-agent/1.0',
	now() - i * interval '1 second', '{}'
FROM generate_series(1, @n) AS i`
