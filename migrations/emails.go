package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/authd/authd/models/emailaddr"
)

// emailFormsVersion is the version of the migration that rewrites stored
// emails into the form of models/emailaddr. It is Go, not SQL, because
// neither database can apply NFKC, Unicode case folding or IDNA; it is the
// same for both dialects apart from the placeholders.
const emailFormsVersion = 6

// emailForms is migration 00006. Before it, an email was stored trimmed and
// lower-cased as typed; now it is stored normalised (emailaddr.Normalize).
// The two forms differ only for addresses with a non-ASCII character (ASCII
// addresses were already lower-case, and an ASCII domain keeps its form), so
// only those rows are read. Each is rewritten to its normalised form unless
//
//   - the rules now refuse it (an invisible character, mixed scripts, ...):
//     it keeps its form, and login still finds it by that form;
//   - another account already has the normalised form (one person who
//     registered twice under two spellings): the account that has the form
//     keeps it, the oldest rewritten first; the other row keeps its old
//     form, is still found at login by exactly that spelling, and no new
//     account can take either.
//
// Nothing is lost, so the migration has no down step: the old forms are
// still valid keys for the lookup that falls back to them.
func emailForms(dialect Dialect) *goose.Migration {
	nonASCII := `octet_length(email) <> char_length(email)`
	update := `UPDATE users SET email = $1 WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)`
	if dialect == SQLite {
		nonASCII = `length(CAST(email AS BLOB)) <> length(email)`
		update = `UPDATE users SET email = ?1 WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?1)`
	}
	up := func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, email FROM users WHERE `+nonASCII+` ORDER BY created_at, id`)
		if err != nil {
			return fmt.Errorf("read emails: %w", err)
		}
		type change struct{ id, email string }
		var changes []change
		for rows.Next() {
			var id, email string
			if err := rows.Scan(&id, &email); err != nil {
				rows.Close()
				return fmt.Errorf("read emails: %w", err)
			}
			if n, err := emailaddr.Normalize(email); err == nil && n != email {
				changes = append(changes, change{id, n})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read emails: %w", err)
		}
		for _, c := range changes {
			if _, err := tx.ExecContext(ctx, update, c.email, c.id); err != nil {
				return fmt.Errorf("rewrite email of user %s: %w", c.id, err)
			}
		}
		return nil
	}
	return goose.NewGoMigration(emailFormsVersion, &goose.GoFunc{RunTx: up}, &goose.GoFunc{})
}
