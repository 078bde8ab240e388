package services

import (
	"context"

	"github.com/authd/authd/models"
)

// NewPostgresRotations returns the rotation store of PostgreSQL. The common
// refresh is two statements and no explicit transaction: a plain read of
// the state (models.ReadRefreshState), decided here, then, for Rotate, the
// one statement that re-checks the decision under the session's row lock
// and writes it (models.RotateInOneStatement). A Retry, or a Rotate whose
// state moved before the statement ran (a concurrent winner, a revocation),
// is decided again in a transaction that takes the session's row lock
// first and reads under it. The other decisions write nothing, and what
// they answer cannot change any more: a revocation, an expiry, a rotation
// and a used child are all final.
//
// databaseTime makes every decision of a refresh (grace, expiry, the times
// it writes) on the database's clock instead of the caller's: instances
// whose clocks disagree still agree on them (FI-8). The app sets it when it
// runs on the real clock; a test's settable clock leaves it off so that it
// drives those decisions itself.
func NewPostgresRotations(db *models.DB, databaseTime bool) RotationStore {
	return postgresRotations{db: db, databaseTime: databaseTime,
		locked: lockedRotations{db: db.DB, lock: models.LockSessionOfToken}}
}

type postgresRotations struct {
	db           *models.DB
	databaseTime bool
	locked       lockedRotations
}

func (p postgresRotations) Refresh(ctx context.Context, req RefreshRequest, decide func(RefreshState) Decision) (Refreshed, error) {
	at := &req.Now
	if p.databaseTime {
		at = nil
	}
	row, found, err := models.ReadRefreshState(ctx, p.db, req.TokenID, at)
	if err != nil || !found {
		return Refreshed{}, err // not found: the zero Refreshed is Invalid
	}
	st := refreshStateOf(&row.RefreshRow, row.Now)
	d := decide(st)
	req.Now = st.Now // the locked transaction decides on the same clock
	switch d.Kind {
	case Rotate:
		expires := childExpiry(st.Now, req.RefreshTTL, st.Session)
		rot, rotated, err := models.RotateInOneStatement(ctx, p.db, models.RotateParams{
			TokenID: req.TokenID, ChildID: req.ChildID, Now: st.Now, IPPrefix: req.IPPrefix, UserAgent: req.UserAgent,
			ChildHash: req.ChildHash, ChildExpiresAt: expires,
		})
		if err != nil {
			return Refreshed{}, err
		}
		if rotated {
			return Refreshed{State: st, Decision: d, Head: rot.SessionHead, ChildExpiresAt: rot.ChildExpiresAt}, nil
		}
		return p.locked.Refresh(ctx, req, decide)
	case Retry:
		return p.locked.Refresh(ctx, req, decide)
	default:
		return Refreshed{State: st, Decision: d}, nil
	}
}
