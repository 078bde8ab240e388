package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/migrations"
)

// Migrating a new schema costs a hundred or so round trips (goose's lock
// and version table, every statement of every migration, River's own
// migrations). On a quiet machine that is 0.3 s; on a busy 2-core machine,
// where every round trip waits for a turn on a CPU, it was 1 to 8 s per
// test, which alone pushed the handlers package past go test's 10-minute
// limit. So a test binary keeps the schemas its tests have finished with:
// a test asks for a migrated schema, gets one nobody else is using, and
// when it ends the schema is emptied (one TRUNCATE of every table but the
// migration bookkeeping) and handed to the next test. A schema whose
// structure a test changed (a fingerprint of its tables, columns,
// constraints, triggers and functions differs) is dropped instead.
//
// Pooling needs the package's TestMain to call Main, which drops the pooled
// schemas when the binary ends; without it each schema is dropped when its
// test ends, as PostgresURL's are. A binary that was killed leaves its
// pooled schemas behind; the next binary drops those whose process is gone.

// poolPrefix starts the name of every pooled schema:
// tp_<host>_<pid>_<random>, host a hash of the machine's name, so a sweep
// only judges the processes of its own machine.
const poolPrefix = "tp_"

var hostTag = func() string {
	h, _ := os.Hostname()
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:3])
}()

type pooledSchema struct {
	name        string
	fingerprint string
	tables      []string // to empty: every table but the migration bookkeeping
}

var pool struct {
	mu      sync.Mutex
	enabled bool // set by Main
	free    []pooledSchema
	all     map[string]bool
	swept   bool
}

// Main runs the tests of a package with schema pooling and drops the pooled
// schemas afterwards. Use it from TestMain: os.Exit(testdb.Main(m)).
func Main(m *testing.M) int {
	pool.mu.Lock()
	pool.enabled = true
	pool.mu.Unlock()
	code := m.Run()
	pool.mu.Lock()
	pool.enabled = false
	names := make([]string, 0, len(pool.all))
	for name := range pool.all {
		names = append(names, name)
	}
	pool.free, pool.all = nil, nil
	pool.mu.Unlock()
	if len(names) > 0 {
		if err := dropSchemas(names); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: dropping pooled schemas: %v\n", err)
		}
	}
	return code
}

// MigratedURL returns the URL of a migrated, empty schema that is t's alone
// until t ends (see the comment at the top of this file).
func MigratedURL(t testing.TB) string {
	t.Helper()
	SkipWithoutPostgres(t)
	pool.mu.Lock()
	enabled := pool.enabled
	var s pooledSchema
	got := false
	if n := len(pool.free); n > 0 {
		s, pool.free, got = pool.free[n-1], pool.free[:n-1], true
	}
	sweep := enabled && !pool.swept
	pool.swept = pool.swept || sweep
	pool.mu.Unlock()
	if sweep {
		sweepStale()
	}
	if !got {
		var err error
		if s, err = newMigratedSchema(enabled); err != nil {
			t.Fatalf("migrated schema: %v", err)
		}
	}
	t.Cleanup(func() { release(t, s) })
	return WithSearchPath(BaseURL(), s.name)
}

func newMigratedSchema(pooled bool) (pooledSchema, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return pooledSchema{}, err
	}
	name := "t_" + hex.EncodeToString(b[:])
	if pooled {
		name = poolPrefix + hostTag + "_" + strconv.Itoa(os.Getpid()) + "_" + hex.EncodeToString(b[:])
	}
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		return pooledSchema{}, err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		return pooledSchema{}, fmt.Errorf("create schema: %w", err)
	}
	s := pooledSchema{name: name}
	fail := func(err error) (pooledSchema, error) {
		_ = dropSchemas([]string{name})
		return pooledSchema{}, err
	}
	db, err := sql.Open("pgx", WithSearchPath(BaseURL(), name))
	if err != nil {
		return fail(err)
	}
	err = migrations.Up(ctx, migrations.Postgres, db, nil)
	db.Close()
	if err != nil {
		return fail(fmt.Errorf("migrate: %w", err))
	}
	if s.fingerprint, err = fingerprint(ctx, admin, name); err != nil {
		return fail(err)
	}
	rows, err := admin.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1
		AND tablename NOT IN ('goose_db_version', 'river_migration') ORDER BY tablename`, name)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tbl string
		if err := rows.Scan(&tbl); err != nil {
			return fail(err)
		}
		s.tables = append(s.tables, name+"."+tbl)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if pooled {
		pool.mu.Lock()
		if pool.all == nil {
			pool.all = map[string]bool{}
		}
		pool.all[name] = true
		pool.mu.Unlock()
	}
	return s, nil
}

// fingerprint sums up the structure of a schema: what a test could change
// that TRUNCATE does not put back.
func fingerprint(ctx context.Context, db *sql.DB, schema string) (string, error) {
	var fp string
	err := db.QueryRowContext(ctx, `SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
		SELECT 'r:' || c.relname || ':' || c.relkind::text || ':' || (SELECT string_agg(a.attname || ' ' ||
			format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text, ';' ORDER BY a.attnum)
			FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS x
			FROM pg_class c WHERE c.relnamespace = $1::regnamespace
		UNION ALL SELECT 'c:' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = $1::regnamespace
		UNION ALL SELECT 't:' || tgname || ':' || tgenabled::text FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
			WHERE c.relnamespace = $1::regnamespace
		UNION ALL SELECT 'p:' || proname || ':' || md5(prosrc) FROM pg_proc WHERE pronamespace = $1::regnamespace
		UNION ALL SELECT 'v:' || count(*)::text || ':' || coalesce(max(version_id), 0)::text FROM `+schema+`.goose_db_version
			WHERE is_applied
	) s`, schema).Scan(&fp)
	return fp, err
}

// release empties s and returns it to the pool, or drops it when pooling is
// off, its structure changed, or emptying it fails.
func release(t testing.TB, s pooledSchema) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool.mu.Lock()
	pooled := pool.enabled && pool.all[s.name]
	pool.mu.Unlock()
	if pooled {
		if err := empty(ctx, s); err != nil {
			t.Logf("testdb: schema %s is dropped instead of reused: %v", s.name, err)
			pooled = false
		}
	}
	if pooled {
		pool.mu.Lock()
		if pool.enabled {
			pool.free = append(pool.free, s)
			pool.mu.Unlock()
			return
		}
		pool.mu.Unlock()
	}
	pool.mu.Lock()
	delete(pool.all, s.name)
	pool.mu.Unlock()
	if err := dropSchemas([]string{s.name}); err != nil {
		t.Logf("drop schema %s: %v", s.name, err)
	}
}

func empty(ctx context.Context, s pooledSchema) error {
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		return err
	}
	defer admin.Close()
	fp, err := fingerprint(ctx, admin, s.name)
	if err != nil {
		return err
	}
	if fp != s.fingerprint {
		return fmt.Errorf("the test changed its structure")
	}
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A connection the test left open in a transaction would make TRUNCATE
	// wait; give up after a while and drop the schema instead.
	if _, err := conn.ExecContext(ctx, "SET lock_timeout = '5s'"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "TRUNCATE "+strings.Join(s.tables, ", ")+" RESTART IDENTITY CASCADE")
	return err
}

func dropSchemas(names []string) error {
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []string
	for _, name := range names {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			errs = append(errs, name+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// sweepStale drops the pooled schemas of test binaries that are gone (killed
// before their Main could drop them).
func sweepStale() {
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		return
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := admin.QueryContext(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tp\_%'`)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(name, poolPrefix), "_")
		if len(parts) != 3 || parts[0] != hostTag {
			continue
		}
		pid := parts[1]
		if n, err := strconv.Atoi(pid); err == nil && !processAlive(n) {
			stale = append(stale, name)
		}
	}
	rows.Close()
	if len(stale) > 0 {
		_ = dropSchemas(stale)
	}
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
