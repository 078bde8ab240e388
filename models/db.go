// Package models holds authd's GORM models and the queries on them. Query
// funcs take (ctx, tx, …) so that services can compose them inside one
// transaction, and they return ErrNotFound and ErrDuplicate in place of
// driver errors.
package models

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/authd/authd/migrations"
)

// Options configure Open.
type Options struct {
	// URL is a postgres:// URL; empty means the embedded SQLite file SQLitePath.
	URL        string
	SQLitePath string
	// MaxOpenConns bounds the PostgreSQL pool (SQLite always uses one
	// connection: it has a single writer, and one connection turns lock
	// contention into a queue instead of SQLITE_BUSY errors).
	MaxOpenConns int
	// StatementTimeout and LockTimeout bound every PostgreSQL statement so
	// that a stuck database or a held row lock becomes 503, not a hang.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// ApplicationName shows in pg_stat_activity.
	ApplicationName string
}

// DB is an open database with its dialect.
type DB struct {
	*gorm.DB
	Dialect migrations.Dialect
	// statements, on PostgreSQL, sees every statement sent on the pool's
	// connections (BEGIN and COMMIT included); see OnStatement.
	statements *statementTracer
}

// Open connects to PostgreSQL or opens the SQLite file. It does not migrate.
func Open(opts Options) (*DB, error) {
	cfg := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	if opts.URL == "" {
		path := opts.SQLitePath
		if path == "" {
			path = "authd.db"
		}
		dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		g, err := gorm.Open(sqlite.Open(dsn), cfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		sqlDB, err := g.DB()
		if err != nil {
			return nil, err
		}
		sqlDB.SetMaxOpenConns(1)
		return &DB{DB: g, Dialect: migrations.SQLite}, nil
	}
	dsn, err := postgresDSN(opts)
	if err != nil {
		return nil, err
	}
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_DATABASE_URL: %w", err)
	}
	tracer := &statementTracer{}
	pgCfg.Tracer = tracer
	sqlDB := stdlib.OpenDB(*pgCfg)
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), cfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	maxOpen := opts.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 20
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	sqlDB.SetConnMaxLifetime(time.Hour)
	return &DB{DB: g, Dialect: migrations.Postgres, statements: tracer}, nil
}

// OnStatement makes fn see the text of every statement authd sends to
// PostgreSQL from now on, BEGIN and COMMIT included (nil stops it). It
// counts what the database really receives, whichever layer sent it. It
// reports false on SQLite, which has no such hook.
func (db *DB) OnStatement(fn func(sql string)) bool {
	if db.statements == nil {
		return false
	}
	if fn == nil {
		db.statements.fn.Store(nil)
	} else {
		db.statements.fn.Store(&fn)
	}
	return true
}

// statementTracer is a pgx.QueryTracer that costs one atomic load per
// statement while nobody listens.
type statementTracer struct {
	fn atomic.Pointer[func(string)]
}

func (t *statementTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if fn := t.fn.Load(); fn != nil {
		(*fn)(data.SQL)
	}
	return ctx
}

func (t *statementTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// postgresDSN adds authd's session settings to the URL unless the operator
// set them already.
func postgresDSN(opts Options) (string, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("AUTHD_DATABASE_URL must be a postgres:// URL")
	}
	q := u.Query()
	setDefault := func(k, v string) {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	setDefault("connect_timeout", "3")
	if opts.StatementTimeout > 0 {
		setDefault("statement_timeout", fmt.Sprint(opts.StatementTimeout.Milliseconds()))
	}
	if opts.LockTimeout > 0 {
		setDefault("lock_timeout", fmt.Sprint(opts.LockTimeout.Milliseconds()))
	}
	name := opts.ApplicationName
	if name == "" {
		name = "authd"
	}
	setDefault("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SQL returns the underlying *sql.DB.
func (db *DB) SQL() *sql.DB {
	s, err := db.DB.DB()
	if err != nil {
		// gorm returns an error only when the connection pool is not a
		// *sql.DB, which never happens with the two dialectors used here.
		panic(err)
	}
	return s
}

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	return migrations.Up(ctx, db.Dialect, db.SQL(), nil)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.SQL().PingContext(ctx)
}

// Close closes the pool.
func (db *DB) Close() error {
	return db.SQL().Close()
}

// IsPostgres reports whether the database is PostgreSQL.
func (db *DB) IsPostgres() bool { return db.Dialect == migrations.Postgres }

// RedactURL returns u with any password replaced, for logs.
func RedactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return strings.ReplaceAll(parsed.Redacted(), "%2A", "*")
}
