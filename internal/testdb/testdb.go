// Package testdb gives each test a fresh, migrated database: a PostgreSQL
// schema of its own, or an SQLite file in the test's temporary folder, both
// removed when the test ends. Tests that need PostgreSQL skip when it is not
// reachable, unless AUTHD_TEST_REQUIRE_DB=1 (as in CI), where they fail.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for schema set-up

	"github.com/authd/authd/models"
)

// DefaultURL is the PostgreSQL server the tests use unless
// AUTHD_TEST_DATABASE_URL names another.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the PostgreSQL URL of the test server.
func BaseURL() string {
	if u := os.Getenv("AUTHD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Required reports whether a missing database must fail the tests.
func Required() bool { return os.Getenv("AUTHD_TEST_REQUIRE_DB") == "1" }

var (
	pgOnce sync.Once
	pgErr  error
)

func checkPostgres() error {
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", BaseURL())
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	return pgErr
}

// SkipWithoutPostgres skips t (or fails it when the database is required)
// when the test PostgreSQL does not answer.
func SkipWithoutPostgres(t testing.TB) {
	t.Helper()
	if err := checkPostgres(); err != nil {
		if Required() {
			t.Fatalf("PostgreSQL at %s is required (AUTHD_TEST_REQUIRE_DB=1): %v", redact(BaseURL()), err)
		}
		t.Skipf("PostgreSQL not reachable at %s: %v", redact(BaseURL()), err)
	}
}

// Postgres returns a migrated, empty database in a schema of the test server
// that is t's alone (MigratedURL).
func Postgres(t testing.TB) *models.DB {
	t.Helper()
	url := MigratedURL(t)
	db, err := models.Open(models.Options{URL: url, MaxOpenConns: 20, StatementTimeout: 10 * time.Second,
		LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates an empty schema for t and returns a URL whose
// search_path selects it (for subprocesses and second instances). The schema
// is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	SkipWithoutPostgres(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(BaseURL(), schema)
}

// WithSearchPath returns base with search_path set to schema.
func WithSearchPath(base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLite returns a migrated database in a new file under t.TempDir().
func SQLite(t testing.TB) *models.DB {
	t.Helper()
	db, err := models.Open(models.Options{SQLitePath: SQLitePath(t)})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db)
	return db
}

// SQLitePath returns a path for a new SQLite file that is removed when t ends.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "authd.db")
}

func migrate(t testing.TB, db *models.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

// Each runs fn as two subtests, "postgres" and "sqlite", each on a fresh
// database, so one test body covers both dialects.
func Each(t *testing.T, fn func(t *testing.T, db *models.DB)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
}

func redact(u string) string { return models.RedactURL(u) }

// Must fails t when err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Count returns the result of a SELECT count(*) query.
func Count(t testing.TB, db *models.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("count %q: %v", query, err)
	}
	return n
}
