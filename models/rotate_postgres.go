package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// The PostgreSQL rotation runs in two statements and no explicit
// transaction: ReadTokenSecret (a plain read, no lock, no WAL), then, once
// the caller has compared the secret in constant time, RotateInOneStatement,
// which decides and writes the whole rotation as one implicit transaction.
// That is two round trips and one commit where BEGIN, three statements and
// COMMIT took five. Everything else (retries within grace, reuse, expiry,
// revoked sessions) takes the general transaction in services.Sessions.

// TokenSecret is what the first statement of a rotation reads of a token.
type TokenSecret struct {
	SecretHash []byte
	// Live: not rotated, not revoked and not expired at Now.
	Live bool
	// Now is the time of the decision: the caller's, or the database's
	// statement time when the caller gave none.
	Now time.Time
}

const readTokenSecretSQL = `SELECT secret_hash, rotated_at IS NULL AND revoked_at IS NULL AND expires_at > t.now, t.now
FROM refresh_tokens, (SELECT COALESCE($2::timestamptz, statement_timestamp()) AS now) t WHERE id = $1`

// ReadTokenSecret returns the stored secret hash of token id and whether the
// token is live at now, or ErrNotFound. A nil now means the database's
// clock, so that every instance decides on one time source however wrong
// its own clock is (FI-8). PostgreSQL only.
func ReadTokenSecret(ctx context.Context, db *sql.DB, id uuid.UUID, now *time.Time) (*TokenSecret, error) {
	var ts TokenSecret
	err := withPgx(ctx, db, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, readTokenSecretSQL, pgUUID(id), now).Scan(&ts.SecretHash, &ts.Live, &ts.Now)
	})
	if err != nil {
		return nil, fmt.Errorf("read refresh token: %w", err)
	}
	ts.Now = ts.Now.UTC()
	return &ts, nil
}

// RotateParams describe one rotation.
type RotateParams struct {
	TokenID  uuid.UUID
	ChildID  uuid.UUID
	Now      time.Time
	IPPrefix string
	// ChildHash is the hash of the child's secret; the child expires at
	// ChildExpiresAt or at its session's absolute expiry, whichever is first.
	ChildHash      []byte
	ChildExpiresAt time.Time
}

// Rotation is what RotateInOneStatement returns: the session and user the
// token belongs to, and the child's expiry.
type Rotation struct {
	SessionHead
	ChildExpiresAt time.Time
}

// rotateSQL is the rotation as one statement. The order of its parts is the
// order of the general transaction, enforced by their data dependencies:
//
//   - s locks the token's session row (FOR UPDATE) if it is active, so
//     rotations and revocations of one family still run one after the other;
//   - r marks the token rotated with its child, only while the token is live
//     and belongs to the locked session: the one conditional UPDATE that
//     elects a single winner (a concurrent winner's committed version is
//     re-checked under READ COMMITTED, and then fails the rotated_at test);
//   - u touches the session (last use, address) only if r rotated;
//   - c inserts the child only if r rotated (the unique index on parent_id
//     would refuse a second child anyway).
//
// If r rotates nothing, nothing is written and no row comes back.
const rotateSQL = `WITH s AS MATERIALIZED (
  SELECT id FROM sessions
  WHERE id = (SELECT session_id FROM refresh_tokens WHERE id = $1)
    AND revoked_at IS NULL AND expires_at > $2
  FOR UPDATE
), r AS (
  UPDATE refresh_tokens SET rotated_at = $2, child_id = $3
  WHERE id = $1 AND session_id = (SELECT id FROM s)
    AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2
  RETURNING session_id, generation
), u AS (
  UPDATE sessions SET last_used_at = $2, ip_prefix = $4
  WHERE id = (SELECT session_id FROM r)
  RETURNING id, user_id, client_id, expires_at
), c AS (
  INSERT INTO refresh_tokens (id, session_id, parent_id, generation, secret_hash, ip_prefix, created_at, expires_at)
  SELECT $3, u.id, $1, r.generation + 1, $5, $4, $2, LEAST($6::timestamptz, u.expires_at) FROM r, u
  RETURNING expires_at
)
SELECT u.id, u.user_id, u.client_id, u.expires_at, users.email, users.role, users.created_at, c.expires_at
FROM u JOIN users ON users.id = u.user_id CROSS JOIN c`

// RotateInOneStatement rotates p.TokenID into p.ChildID if the token is live
// and its session active, in one statement (its own transaction). It
// returns ErrNotFound, having written nothing, when it rotated nothing.
// PostgreSQL only.
func RotateInOneStatement(ctx context.Context, db *sql.DB, p RotateParams) (*Rotation, error) {
	var (
		rot        Rotation
		id, userID pgtype.UUID
	)
	err := withPgx(ctx, db, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, rotateSQL, pgUUID(p.TokenID), p.Now, pgUUID(p.ChildID), p.IPPrefix, p.ChildHash, p.ChildExpiresAt).
			Scan(&id, &userID, &rot.ClientID, &rot.ExpiresAt, &rot.Email, &rot.Role, &rot.UserCreatedAt, &rot.ChildExpiresAt)
	})
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token %s: %w", p.TokenID, err)
	}
	rot.ID, rot.UserID = id.Bytes, userID.Bytes
	return &rot, nil
}

// withPgx runs fn on one pooled connection of db, as a pgx connection:
// pgx's own encoding and scanning, without database/sql's conversions.
// pgx.ErrNoRows becomes ErrNotFound.
func withPgx(ctx context.Context, db *sql.DB, fn func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection: %T", dc)
		}
		return fn(c.Conn())
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }
