package testdb

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func schemaOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("search_path")
}

func exec(t *testing.T, u, query string) {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func count(t *testing.T, u, query string) int {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

const insertUser = `INSERT INTO users (id, email, password_hash, role, created_at, updated_at)
	VALUES (gen_random_uuid(), 'pool@example.com', 'x', 'user', now(), now())`

// A schema handed to a second test is the first one's, emptied: the rows
// the first test wrote are gone, the migrations stay applied.
func TestMigratedURL_ReusedSchemaIsEmpty(t *testing.T) {
	var first string
	t.Run("writes", func(t *testing.T) {
		u := MigratedURL(t)
		first = schemaOf(t, u)
		exec(t, u, insertUser)
		if n := count(t, u, "SELECT count(*) FROM users"); n != 1 {
			t.Fatalf("users = %d, want 1", n)
		}
	})
	t.Run("reads", func(t *testing.T) {
		u := MigratedURL(t)
		if got := schemaOf(t, u); got != first {
			t.Fatalf("schema %s, want the first test's %s back from the pool", got, first)
		}
		if n := count(t, u, "SELECT count(*) FROM users"); n != 0 {
			t.Fatalf("users = %d in a reused schema, want 0", n)
		}
		if n := count(t, u, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n == 0 {
			t.Fatal("the reused schema lost its migrations")
		}
	})
}

// A schema whose structure a test changed is dropped, not handed on.
func TestMigratedURL_ChangedSchemaIsDropped(t *testing.T) {
	var first string
	t.Run("alters", func(t *testing.T) {
		u := MigratedURL(t)
		first = schemaOf(t, u)
		exec(t, u, "ALTER TABLE users ADD COLUMN nickname text")
	})
	t.Run("next", func(t *testing.T) {
		u := MigratedURL(t)
		if got := schemaOf(t, u); got == first {
			t.Fatalf("got the altered schema %s again", got)
		}
		if n := count(t, BaseURL(), "SELECT count(*) FROM pg_namespace WHERE nspname = '"+first+"'"); n != 0 {
			t.Fatalf("the altered schema %s still exists", first)
		}
		if n := count(t, u, "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'nickname'"); n != 0 {
			t.Fatal("the new schema has the altered column")
		}
	})
}
