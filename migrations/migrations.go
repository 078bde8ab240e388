// Package migrations holds the versioned SQL schema of authd, one set per
// dialect, embedded in the binary and applied with pressly/goose.
//
// goose was picked because it runs plain SQL files from an embed.FS, has a
// per-instance Provider (no global state, so parallel tests are safe) and a
// PostgreSQL advisory-lock session locker, so many instances starting at once
// migrate exactly once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect names the SQL flavour of a database.
type Dialect string

// The dialects authd supports.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Provider returns a goose provider for the dialect's migrations on db.
func Provider(dialect Dialect, db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	var opts []goose.ProviderOption
	var gd goose.Dialect
	switch dialect {
	case Postgres:
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		gd = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("unknown dialect %q", dialect)
	}
	opts = append(opts, goose.WithGoMigrations(emailForms(dialect)))
	opts = append(opts, goose.WithGoMigrations(riverMigration(dialect)))
	return goose.NewProvider(gd, db, sub, opts...)
}

// Up applies every pending migration and writes one line per applied
// migration to out (which may be nil).
func Up(ctx context.Context, dialect Dialect, db *sql.DB, out io.Writer) error {
	defer AllowMigrationConns(dialect, db)()
	p, err := Provider(dialect, db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	if out != nil {
		for _, r := range results {
			fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(1e6))
		}
	}
	return nil
}

// AllowMigrationConns lets a PostgreSQL pool configured with one connection
// (AUTHD_DB_MAX_OPEN_CONNS=1) open a second while it migrates: River's
// migration runs outside goose's transaction, and goose refuses that on a
// one-connection pool (it could deadlock on goose's own lock). The returned
// func puts the configured size back, so serving keeps the pool it was
// given. SQLite's single connection is by design and is left alone.
func AllowMigrationConns(dialect Dialect, db *sql.DB) (restore func()) {
	if dialect == SQLite || db.Stats().MaxOpenConnections != 1 {
		return func() {}
	}
	db.SetMaxOpenConns(2)
	return func() { db.SetMaxOpenConns(1) }
}
