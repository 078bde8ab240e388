package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

var (
	errBadRole   = &Error{Code: CodeInvalidRequest, Detail: "The role must be user or admin."}
	errLastAdmin = &Error{Code: CodeLastAdmin, Detail: "This is the last admin: make another user admin first."}
)

// SetRole gives the user role on behalf of an admin, who needs a fresh
// access token, as for any other change that a stolen token must not make
// on its own. See setRole for what happens. Returns CodeFreshTokenRequired,
// CodeInvalidRequest, CodeNotFound or CodeLastAdmin.
func (a *Admin) SetRole(ctx context.Context, admin Principal, userID uuid.UUID, role string, meta Meta) (*models.User, error) {
	if !admin.Fresh {
		return nil, errFreshRequired
	}
	actor := admin.UserID
	return a.setRole(ctx, userID, role, &actor, meta)
}

// SetRoleByEmail gives the user with the email role, for operators through
// the command line (the event has no actor). Returns CodeInvalidRequest,
// CodeNotFound (also for an address that no account could have) or
// CodeLastAdmin.
func (a *Admin) SetRoleByEmail(ctx context.Context, email, role string) (*models.User, error) {
	// The same look-up as a sign-in: the account the email signs in to.
	u, err := findUserByEmail(ctx, a.db, email)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errUserMissing
	}
	return a.setRole(ctx, u.ID, role, nil, Meta{})
}

// setRole changes the user's role in one transaction with a role_changed
// event (actor, old and new role) and publishes it: the user's live access
// tokens carry the new role on every instance within a second, a demoted
// admin's losing admin rights. Setting the role the user has already
// changes and records nothing.
//
// The admins' rows are locked first (models.LockAdmins), so two admins
// demoting each other at the same time serialize, and the second finds that
// it would demote the last admin.
func (a *Admin) setRole(ctx context.Context, userID uuid.UUID, role string, actor *uuid.UUID, meta Meta) (*models.User, error) {
	if role != models.RoleUser && role != models.RoleAdmin {
		return nil, errBadRole
	}
	now := a.now()
	var u *models.User
	err := a.ses.transaction(ctx, func(tx *gorm.DB) error {
		admins, err := models.LockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		u, err = models.FindUserByID(ctx, tx, userID)
		if errors.Is(err, models.ErrNotFound) {
			return errUserMissing
		}
		if err != nil || u.Role == role {
			return err
		}
		if u.Role == models.RoleAdmin && len(admins) <= 1 {
			return errLastAdmin
		}
		old := u.Role
		if err := models.SetUserRole(ctx, tx, userID, role, now); err != nil {
			return err
		}
		u.Role, u.UpdatedAt = role, now
		if err := a.ses.events.Record(ctx, tx, &models.SecurityEvent{
			Type: models.EventRoleChanged, UserID: &userID, ActorUserID: actor, IPPrefix: meta.IPPrefix,
			UserAgent: meta.UserAgent, CreatedAt: now, Details: jsonObject("old_role", old, "new_role", role),
		}); err != nil {
			return err
		}
		return record(tx, Change{Roles: []RoleChange{{UserID: userID, Role: role}}})
	})
	if err != nil {
		return nil, fmt.Errorf("set role of %s: %w", userID, err)
	}
	return u, nil
}
