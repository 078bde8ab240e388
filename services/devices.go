package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services/device"
)

// The devices page of a signed-in user: list, name and sign out sessions.
// Every method works on the principal's own active sessions only; a session
// id of another user, a revoked or expired session and a made-up id all give
// the same CodeNotFound and change nothing (SESS-11).

var errBadDeviceName = &Error{Code: CodeInvalidRequest, Detail: "device_name must have 1 to 100 characters once control and invisible characters are removed."}

// ListDevices returns the principal's active sessions, most recently used
// first.
func (s *Sessions) ListDevices(ctx context.Context, p Principal) ([]models.Session, error) {
	list, err := models.ListUserSessions(ctx, s.db, p.UserID, models.StateActive, s.now())
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return list, nil
}

// RenameDevice sets the device name of one of the principal's active
// sessions, cleaned by device.CleanName, and returns the session. Returns
// CodeInvalidRequest for a name that is empty once cleaned or longer than 100
// characters, and CodeNotFound.
func (s *Sessions) RenameDevice(ctx context.Context, p Principal, id uuid.UUID, name string) (*models.Session, error) {
	name, err := device.ValidateName(name)
	if err != nil {
		return nil, errBadDeviceName
	}
	now := s.now()
	var sess *models.Session
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := models.RenameSession(ctx, tx, p.UserID, id, name, now); err != nil {
			return err
		}
		var err error
		sess, err = models.FindUserSession(ctx, tx, p.UserID, id, now)
		return err
	})
	if errors.Is(err, models.ErrNotFound) {
		return nil, errSessionMissing
	}
	if err != nil {
		return nil, fmt.Errorf("rename device: %w", err)
	}
	return sess, nil
}

// RevokeDevice signs out one of the principal's active sessions (reason
// user_revoked). Signing out another device needs a fresh access token; the
// caller's own session does not, as logging out never does. The freshness
// check comes first, so that it cannot tell whether an id exists. Returns
// CodeFreshTokenRequired or CodeNotFound.
func (s *Sessions) RevokeDevice(ctx context.Context, p Principal, id uuid.UUID, meta Meta) error {
	if id != p.SessionID && !p.Fresh {
		return errFreshRequired
	}
	now := s.now()
	var ok bool
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if _, err := models.FindUserSession(ctx, tx, p.UserID, id, now); err != nil {
			return err
		}
		var err error
		ok, err = s.revokeTx(ctx, tx, id, models.ReasonUserRevoked, &p.UserID, meta, now, "")
		return err
	})
	if errors.Is(err, models.ErrNotFound) {
		return errSessionMissing
	}
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	if !ok {
		// Revoked by a concurrent call between the look-up and the update:
		// it is gone all the same, and only active sessions are visible.
		return errSessionMissing
	}
	return nil
}

// RevokeOtherDevices signs out every active session of the principal's user
// except the principal's own (reason revoked_others), in one transaction,
// and returns how many it revoked. Needs a fresh access token: returns
// CodeFreshTokenRequired.
func (s *Sessions) RevokeOtherDevices(ctx context.Context, p Principal, meta Meta) (int, error) {
	return s.revokeDevices(ctx, p, &p.SessionID, meta)
}

// RevokeAllDevices signs out every active session of the principal's user,
// the caller's own included, in one transaction, and returns how many it
// revoked. The other sessions get reason revoked_others, as with
// RevokeOtherDevices; the caller's own session gets reason logout, since for
// that device it is exactly a logout. Needs a fresh access token: returns
// CodeFreshTokenRequired.
func (s *Sessions) RevokeAllDevices(ctx context.Context, p Principal, meta Meta) (int, error) {
	return s.revokeDevices(ctx, p, nil, meta)
}

func (s *Sessions) revokeDevices(ctx context.Context, p Principal, keep *uuid.UUID, meta Meta) (int, error) {
	if !p.Fresh {
		return 0, errFreshRequired
	}
	now := s.now()
	var revoked []uuid.UUID
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var err error
		revoked, err = s.revokeUserSessions(ctx, tx, p.UserID, &p.SessionID, models.ReasonRevokedOthers, &p.UserID, meta, now)
		if err != nil || keep != nil {
			return err
		}
		ok, err := s.revokeTx(ctx, tx, p.SessionID, models.ReasonLogout, &p.UserID, meta, now, "")
		if ok {
			revoked = append(revoked, p.SessionID)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke devices: %w", err)
	}
	return len(revoked), nil
}
