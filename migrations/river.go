package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// riverVersion is the version of River's schema that migration 00008 brings
// the database to. It is pinned so that upgrading the river module never
// changes what an applied migration did: a newer River schema is a new goose
// migration that raises this target.
const riverVersion = 8

// riverMigration is goose migration 00008: the tables of River, the job
// queue of the outbox (river_job, river_leader, …), created by River's own
// migrator (rivermigrate) under goose's lock, so that many instances
// starting at once create them once. The tables go to the current schema
// (search_path), where authd's own tables are; River records its versions
// in river_migration.
//
// On PostgreSQL it runs outside goose's transaction: River applies each of
// its versions in a transaction of its own, as it must (its version 004 adds
// an enum value that version 006 uses, which PostgreSQL refuses within one
// transaction), so an interrupted run resumes where it stopped. On SQLite,
// whose single connection goose holds while it migrates, it runs in goose's
// transaction.
func riverMigration(dialect Dialect) *goose.Migration {
	if dialect == SQLite {
		run := func(direction rivermigrate.Direction, target int) func(context.Context, *sql.Tx) error {
			return func(ctx context.Context, tx *sql.Tx) error {
				m, err := newRiverMigrator(riversqlite.New(nil))
				if err != nil {
					return err
				}
				// MigrateTx is deprecated because PostgreSQL cannot batch all of
				// River's versions in one transaction; SQLite can, and goose
				// holds its only connection, so the transaction is the way in.
				//lint:ignore SA1019 SQLite only, inside goose's transaction (see above)
				if _, err := m.MigrateTx(ctx, tx, direction, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
					return fmt.Errorf("river schema %s: %w", direction, err)
				}
				return nil
			}
		}
		return goose.NewGoMigration(8,
			&goose.GoFunc{RunTx: run(rivermigrate.DirectionUp, riverVersion)},
			&goose.GoFunc{RunTx: run(rivermigrate.DirectionDown, -1)},
		)
	}
	run := func(direction rivermigrate.Direction, target int) func(context.Context, *sql.DB) error {
		return func(ctx context.Context, db *sql.DB) error {
			m, err := newRiverMigrator(riverdatabasesql.New(db))
			if err != nil {
				return err
			}
			if _, err := m.Migrate(ctx, direction, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
				return fmt.Errorf("river schema %s: %w", direction, err)
			}
			return nil
		}
	}
	return goose.NewGoMigration(8,
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionUp, riverVersion), Mode: goose.TransactionDisabled},
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionDown, -1), Mode: goose.TransactionDisabled},
	)
}

func newRiverMigrator(driver riverdriver.Driver[*sql.Tx]) (*rivermigrate.Migrator[*sql.Tx], error) {
	return rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
}
