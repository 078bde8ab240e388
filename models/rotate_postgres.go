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
// transaction: ReadRefreshState (a plain read, no lock, no WAL), then, once
// the caller has compared the secret in constant time and decided to
// rotate, RotateInOneStatement, which re-checks that decision and writes the
// whole rotation as one implicit transaction. That is two round trips and
// one commit where BEGIN, three statements and COMMIT took five. Everything
// else (retries within grace, a lost race) takes the locked transaction of
// services' PostgreSQL rotation store.

// PGRefreshState is what the first statement of a refresh reads: the token,
// its child and its session, and the time of the decision. Of the user it
// has the id only (RefreshRow's ClientID, Email, Role and UserCreatedAt are
// empty): RotateInOneStatement returns the rest.
type PGRefreshState struct {
	RefreshRow
	// Now is the time of the decision: the caller's, or the database's
	// statement time when the caller gave none.
	Now time.Time
}

const readRefreshStateSQL = `SELECT t.session_id, t.generation, t.secret_hash, t.expires_at, t.rotated_at, t.revoked_at,
  c.id, c.secret_hash, c.expires_at, c.rotated_at, c.revoked_at, c.ip_prefix, c.user_agent,
  s.user_id, s.expires_at, s.revoked_at, s.dpop_jkt, n.now
FROM (SELECT COALESCE($2::timestamptz, statement_timestamp()) AS now) n,
  refresh_tokens t JOIN sessions s ON s.id = t.session_id
  LEFT JOIN refresh_tokens c ON c.id = t.child_id
WHERE t.id = $1`

// ReadRefreshState returns the state of token id, or found false. A nil now
// means the database's clock, so that every instance decides on one time
// source however wrong its own clock is (FI-8). PostgreSQL only.
func ReadRefreshState(ctx context.Context, db *DB, id uuid.UUID, now *time.Time) (_ *PGRefreshState, found bool, err error) {
	st := PGRefreshState{RefreshRow: RefreshRow{ID: id}}
	var sessionID, childID, userID pgtype.UUID
	err = withPgx(ctx, db.SQL(), func(c *pgx.Conn) error {
		return c.QueryRow(ctx, readRefreshStateSQL, pgUUID(id), now).Scan(
			&sessionID, &st.Generation, &st.SecretHash, &st.ExpiresAt, &st.RotatedAt, &st.RevokedAt,
			&childID, &st.ChildSecretHash, &st.ChildExpiresAt, &st.ChildRotatedAt, &st.ChildRevokedAt,
			&st.ChildIPPrefix, &st.ChildUserAgent,
			&userID, &st.SessionExpiresAt, &st.SessionRevokedAt, &st.SessionDPoPJKT, &st.Now)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read refresh token: %w", err)
	}
	st.SessionID, st.UserID = sessionID.Bytes, userID.Bytes
	if childID.Valid {
		id := uuid.UUID(childID.Bytes)
		st.ChildID = &id
	}
	st.Now = st.Now.UTC()
	return &st, true, nil
}

// RotateParams describe one rotation.
type RotateParams struct {
	TokenID   uuid.UUID
	ChildID   uuid.UUID
	Now       time.Time
	IPPrefix  string
	UserAgent string
	// ChildHash is the hash of the child's secret; the child expires at
	// ChildExpiresAt (the caller has capped it at the session's expiry).
	ChildHash      []byte
	ChildExpiresAt time.Time
}

// Rotation is what RotateInOneStatement returns: the session and user the
// token belongs to, and the child's expiry.
type Rotation struct {
	SessionHead
	ChildExpiresAt time.Time
}

// rotateOneSQL is the rotation as one statement. The order of its parts is
// the order of the locked transaction, enforced by their data dependencies:
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
//
// The conditions of s and r are services.Decide's Rotate row, re-checked
// atomically at $2 (the time the caller decided at), so that the statement
// rotates exactly when Decide on the current state would say Rotate:
//
//	s: revoked_at IS NULL                 ses.RevokedAt == nil
//	s: expires_at > $2                    !ses.ExpiredAt(now)
//	r: rotated_at IS NULL                 tok.RotatedAt == nil      } tok.LiveAt(now)
//	r: revoked_at IS NULL                 tok.RevokedAt == nil      }
//	r: expires_at > $2                    !tok.ExpiredAt(now)       }
//
// (ExpiredAt(now) is !now.Before(expiresAt), the negation of expires_at >
// now.) services' store contract test runs each row of the decision table
// through this statement and through Decide and compares them.
const rotateOneSQL = `WITH s AS MATERIALIZED (
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
  INSERT INTO refresh_tokens (id, session_id, parent_id, generation, secret_hash, ip_prefix, user_agent, created_at, expires_at)
  SELECT $3, u.id, $1, r.generation + 1, $5, $4, $7, $2, $6 FROM r, u
  RETURNING expires_at
)
SELECT u.id, u.user_id, u.client_id, u.expires_at, users.email, users.role, users.created_at, c.expires_at
FROM u JOIN users ON users.id = u.user_id CROSS JOIN c`

// RotateInOneStatement rotates p.TokenID into p.ChildID if the token is live
// and its session active, in one statement (its own transaction). It
// reports rotated false, having written nothing, when it rotated nothing.
// PostgreSQL only.
func RotateInOneStatement(ctx context.Context, db *DB, p RotateParams) (_ *Rotation, rotated bool, err error) {
	var (
		rot        Rotation
		id, userID pgtype.UUID
	)
	err = withPgx(ctx, db.SQL(), func(c *pgx.Conn) error {
		return c.QueryRow(ctx, rotateOneSQL, pgUUID(p.TokenID), p.Now, pgUUID(p.ChildID), p.IPPrefix, p.ChildHash,
			p.ChildExpiresAt, p.UserAgent).
			Scan(&id, &userID, &rot.ClientID, &rot.ExpiresAt, &rot.Email, &rot.Role, &rot.UserCreatedAt, &rot.ChildExpiresAt)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rotate refresh token %s: %w", p.TokenID, err)
	}
	rot.ID, rot.UserID = id.Bytes, userID.Bytes
	return &rot, true, nil
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
