package services

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// RotationStore reads the state of a presented refresh token and applies a
// decision on it atomically. There is one per dialect (NewSQLiteRotations,
// NewPostgresRotations), chosen once in wiring; both pass one contract test
// suite (rotation_store_test.go).
type RotationStore interface {
	// Refresh reads the state of req.TokenID and its session, asks decide
	// what it means and applies the answer atomically:
	//
	//   - Rotate marks the token rotated, inserts its child (req.ChildID,
	//     req.ChildHash) and touches the session (last use, address);
	//   - Retry touches the session and records the decision's event;
	//   - anything else writes nothing (a Reuse is the caller's to apply:
	//     the family is revoked in a transaction of its own).
	//
	// An unknown token is Invalid without asking decide. decide may be
	// asked more than once (PostgreSQL decides on a plain read first, and
	// again under the session's lock when the state moved in between); the
	// answer that was applied is returned with the state it was given.
	Refresh(ctx context.Context, req RefreshRequest, decide func(RefreshState) Decision) (Refreshed, error)
}

// RefreshRequest is one presented refresh token and the child a rotation
// would mint for it.
type RefreshRequest struct {
	TokenID uuid.UUID
	// Now is the caller's clock (the PostgreSQL store on database time
	// decides on the database's instead).
	Now        time.Time
	ChildID    uuid.UUID
	ChildHash  []byte
	RefreshTTL time.Duration // the child's idle lifetime
	IPPrefix   string
	UserAgent  string
	// Record writes a decision's event in the transaction that applies it
	// (Events.Record).
	Record func(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) error
}

// RefreshState is the state a decision is made on.
type RefreshState struct {
	Token   TokenState
	Session SessionState
	Now     time.Time // the time of the decision
}

// Refreshed is what a store did with a refresh.
type Refreshed struct {
	State    RefreshState
	Decision Decision
	// Head, for Rotate and Retry, is the session and user to answer for.
	Head models.SessionHead
	// ChildExpiresAt, for Rotate, is the new child's expiry.
	ChildExpiresAt time.Time
}

// NewRotationStore returns the rotation store of db's dialect. It is called
// once, in wiring. databaseTime, on PostgreSQL, decides on the database's
// clock (see NewPostgresRotations).
func NewRotationStore(db *models.DB, databaseTime bool) RotationStore {
	if db.IsPostgres() {
		return NewPostgresRotations(db, databaseTime)
	}
	return NewSQLiteRotations(db.DB)
}

// NewSQLiteRotations returns the rotation store of SQLite: one transaction
// of at most three statements (read, session touch, rotation). SQLite has
// one writer: the transaction begins IMMEDIATE (the DSN's _txlock), which
// takes the database's write lock before the read, so nothing changes
// between the decision and its writes.
func NewSQLiteRotations(db *gorm.DB) RotationStore {
	return lockedRotations{db: db}
}

// lockedRotations applies a decision in one transaction that first takes
// the lock of the token's session (lock; nil where the transaction holds a
// lock on everything already), then reads the state under it.
type lockedRotations struct {
	db   *gorm.DB
	lock func(ctx context.Context, tx *gorm.DB, tokenID uuid.UUID) error
}

func (l lockedRotations) Refresh(ctx context.Context, req RefreshRequest, decide func(RefreshState) Decision) (_ Refreshed, err error) {
	tx := l.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return Refreshed{}, fmt.Errorf("begin refresh: %w", tx.Error)
	}
	committed := false
	defer func() {
		if !committed {
			// A decision that writes nothing ends here too: ROLLBACK.
			tx.Rollback()
		}
	}()
	if l.lock != nil {
		if err := l.lock(ctx, tx, req.TokenID); err != nil {
			return Refreshed{}, err
		}
	}
	row, found, err := models.ReadRefreshRow(ctx, tx, req.TokenID)
	if err != nil || !found {
		return Refreshed{}, err // not found: the zero Refreshed is Invalid
	}
	st := refreshStateOf(row, req.Now)
	res := Refreshed{State: st, Decision: decide(st), Head: row.Head()}
	switch res.Decision.Kind {
	case Rotate:
		res.ChildExpiresAt = childExpiry(st.Now, req.RefreshTTL, st.Session)
		if err := models.TouchSession(ctx, tx, st.Session.ID, req.IPPrefix, st.Now); err != nil {
			return Refreshed{}, err
		}
		parent := st.Token.ID
		err := models.RotateRefreshToken(ctx, tx, &models.RefreshToken{
			ID: req.ChildID, SessionID: st.Session.ID, ParentID: &parent, Generation: st.Token.Generation + 1,
			SecretHash: req.ChildHash, IPPrefix: req.IPPrefix, UserAgent: req.UserAgent,
			CreatedAt: st.Now, ExpiresAt: res.ChildExpiresAt,
		})
		if err != nil {
			return Refreshed{}, err
		}
	case Retry:
		if err := models.TouchSession(ctx, tx, st.Session.ID, req.IPPrefix, st.Now); err != nil {
			return Refreshed{}, err
		}
		if ev := res.Decision.Event; ev != nil {
			if err := req.Record(ctx, tx, ev); err != nil {
				return Refreshed{}, err
			}
		}
	default:
		return res, nil
	}
	if err := tx.Commit().Error; err != nil {
		return Refreshed{}, fmt.Errorf("commit refresh: %w", err)
	}
	committed = true
	return res, nil
}

// refreshStateOf is the decision state of row at now.
func refreshStateOf(row *models.RefreshRow, now time.Time) RefreshState {
	st := RefreshState{
		Token: TokenState{
			ID: row.ID, SessionID: row.SessionID, Generation: row.Generation, SecretHash: row.SecretHash,
			ExpiresAt: row.ExpiresAt, RotatedAt: row.RotatedAt, RevokedAt: row.RevokedAt,
		},
		Session: SessionState{ID: row.SessionID, UserID: row.UserID, ExpiresAt: row.SessionExpiresAt, RevokedAt: row.SessionRevokedAt,
			JKT: row.SessionDPoPJKT},
		Now: now,
	}
	if row.ChildID != nil && row.ChildExpiresAt != nil {
		st.Token.Child = &TokenState{
			ID: *row.ChildID, SessionID: row.SessionID, Generation: row.Generation + 1, SecretHash: row.ChildSecretHash,
			ExpiresAt: *row.ChildExpiresAt, RotatedAt: row.ChildRotatedAt, RevokedAt: row.ChildRevokedAt,
			IPPrefix: deref(row.ChildIPPrefix), UserAgent: deref(row.ChildUserAgent),
		}
	}
	return st
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
