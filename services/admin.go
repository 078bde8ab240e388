package services

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/models/emailaddr"
)

// Page sizes of the admin listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Admin is what administrators do: find users, list and end their
// sessions, and read the security log. Every revocation records the acting
// admin as the event's actor.
type Admin struct {
	db  *gorm.DB
	ses *Sessions
	now Clock
}

// NewAdmin returns an Admin. ses performs the revocations, so that admin
// revocations take the same path (row lock, event, broadcast) as any other.
func NewAdmin(db *gorm.DB, ses *Sessions, now Clock) *Admin {
	return &Admin{db: db, ses: ses, now: now}
}

var (
	errUserMissing = &Error{Code: CodeNotFound, Detail: "No such user."}
	errBadCursor   = &Error{Code: CodeInvalidRequest, Detail: "The cursor is not one this endpoint returned."}
	errBadLimit    = Errorf(CodeInvalidRequest, "limit must be between 1 and %d.", MaxPageSize)
)

// pageSize returns the effective page size of a requested limit (0: the
// default). Returns CodeInvalidRequest outside 1..MaxPageSize.
func pageSize(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 0 || limit > MaxPageSize:
		return 0, errBadLimit
	}
	return limit, nil
}

// UserPage is one page of users.
type UserPage struct {
	Users      []models.User
	NextCursor string // empty on the last page
}

// Users lists accounts ordered by email, optionally those whose email
// contains emailContains, compared in the stored form (emailaddr.SearchKey:
// case-folded, NFKC, a domain after an @ in its ASCII form). cursor is the NextCursor of the previous page. Returns
// CodeInvalidRequest for a bad limit or cursor.
func (a *Admin) Users(ctx context.Context, emailContains, cursor string, limit int) (UserPage, error) {
	n, err := pageSize(limit)
	if err != nil {
		return UserPage{}, err
	}
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(b), userCursorPrefix) {
			return UserPage{}, errBadCursor
		}
		after = strings.TrimPrefix(string(b), userCursorPrefix)
	}
	users, err := models.ListUsers(ctx, a.db, emailaddr.SearchKey(emailContains), after, n+1)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: users}
	if len(users) > n {
		page.Users = users[:n]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(userCursorPrefix + users[n-1].Email))
	}
	return page, nil
}

// userCursorPrefix versions the user cursor (the last email of a page).
const userCursorPrefix = "u1:"

// UserSessions lists a user's sessions in state (active, revoked or all),
// most recently used first. Returns CodeNotFound for an unknown user and
// CodeInvalidRequest for an unknown state.
func (a *Admin) UserSessions(ctx context.Context, userID uuid.UUID, state models.SessionState) ([]models.Session, error) {
	switch state {
	case models.StateActive, models.StateRevoked, models.StateAll:
	default:
		return nil, Errorf(CodeInvalidRequest, "state must be active, revoked or all.")
	}
	if _, err := a.user(ctx, userID); err != nil {
		return nil, err
	}
	return models.ListUserSessions(ctx, a.db, userID, state, a.now())
}

// User returns one user by id (CodeNotFound for an unknown one), for the
// security page to name the user of an event.
func (a *Admin) User(ctx context.Context, id uuid.UUID) (*models.User, error) {
	return a.user(ctx, id)
}

func (a *Admin) user(ctx context.Context, id uuid.UUID) (*models.User, error) {
	return findUser(ctx, a.db, id, errUserMissing)
}

// RevokeUserSessions ends every active session of the user (reason
// admin_revoked, actor the admin) in one transaction with their events, and
// returns how many it ended. All of the user's tokens stop working: refresh
// tokens at once, access tokens through the revocation set. Like signing
// out other devices it needs a fresh access token, checked before the
// look-up. Returns CodeFreshTokenRequired or CodeNotFound for an unknown user.
func (a *Admin) RevokeUserSessions(ctx context.Context, admin Principal, userID uuid.UUID, meta Meta) (int, error) {
	if !admin.Fresh {
		return 0, errFreshRequired
	}
	if _, err := a.user(ctx, userID); err != nil {
		return 0, err
	}
	now := a.now()
	actor := admin.UserID
	var revoked []uuid.UUID
	err := a.ses.transaction(ctx, func(tx *gorm.DB) error {
		var err error
		revoked, err = a.ses.revokeUserSessions(ctx, tx, userID, nil, models.ReasonAdminRevoked, &actor, meta, now)
		if err != nil {
			return err
		}
		// The account is treated as compromised: its known devices lose
		// their own login budget too (a user's own sign-out keeps them).
		_, err = models.DeleteUserDeviceTokens(ctx, tx, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("admin revoke sessions of %s: %w", userID, err)
	}
	return len(revoked), nil
}

// RevokeSession ends one session (reason admin_revoked, actor the admin).
// Ending a session that has ended already succeeds and records nothing.
// It needs a fresh access token, checked before the look-up so that it
// tells nothing about which ids exist. Returns CodeFreshTokenRequired or
// CodeNotFound for an unknown session.
func (a *Admin) RevokeSession(ctx context.Context, admin Principal, id uuid.UUID, meta Meta) error {
	if !admin.Fresh {
		return errFreshRequired
	}
	if _, err := models.FindSessionByID(ctx, a.db, id); errors.Is(err, models.ErrNotFound) {
		return errSessionMissing
	} else if err != nil {
		return fmt.Errorf("find session: %w", err)
	}
	actor := admin.UserID
	if _, err := a.ses.Revoke(ctx, id, models.ReasonAdminRevoked, &actor, meta); err != nil {
		return fmt.Errorf("admin revoke session %s: %w", id, err)
	}
	return nil
}

// EventQuery selects security events. Zero fields do not filter.
type EventQuery struct {
	Type, Reason      string
	UserID, SessionID *uuid.UUID
	Since, Until      time.Time
	Cursor            string // NextCursor of the previous page
	Limit             int    // 0: DefaultPageSize
}

// EventPage is one page of security events, newest first.
type EventPage struct {
	Events     []models.SecurityEvent
	NextCursor string // empty on the last page
}

// SecurityEvents returns one page of events, newest first. Pages are
// keyset-paginated on (created_at, id): walking them while new events
// arrive sees every older event exactly once. Returns CodeInvalidRequest
// for a bad limit or cursor.
func (a *Admin) SecurityEvents(ctx context.Context, q EventQuery) (EventPage, error) {
	var page EventPage
	next, err := a.EachSecurityEvent(ctx, q, func(ev *models.SecurityEvent) error {
		page.Events = append(page.Events, *ev)
		return nil
	})
	page.NextCursor = next
	return page, err
}

// EachSecurityEvent streams the page SecurityEvents would return to fn, one
// row at a time, and returns the cursor of the next page ("" on the last).
// An error from fn stops the walk and is returned.
func (a *Admin) EachSecurityEvent(ctx context.Context, q EventQuery, fn func(*models.SecurityEvent) error) (string, error) {
	return eachSecurityEvent(ctx, a.db, q, fn)
}

// eachSecurityEvent is the keyset walk behind every listing of security
// events, the admin's and a user's own.
func eachSecurityEvent(ctx context.Context, db *gorm.DB, q EventQuery, fn func(*models.SecurityEvent) error) (string, error) {
	n, err := pageSize(q.Limit)
	if err != nil {
		return "", err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return "", Errorf(CodeInvalidRequest, "since must be before until.")
	}
	f := models.EventFilter{Type: q.Type, Reason: q.Reason, UserID: q.UserID, SessionID: q.SessionID,
		Since: q.Since, Until: q.Until, Limit: n + 1}
	if q.Cursor != "" {
		if f.BeforeTime, f.BeforeID, err = decodeEventCursor(q.Cursor); err != nil {
			return "", err
		}
	}
	// One row past the page says whether there is a next page.
	seen, next := 0, ""
	var last models.SecurityEvent
	err = models.EachSecurityEvent(ctx, db, f, func(ev *models.SecurityEvent) error {
		seen++
		if seen > n {
			next = encodeEventCursor(last.CreatedAt, last.ID)
			return nil
		}
		last = *ev
		return fn(ev)
	})
	if err != nil {
		return "", err
	}
	return next, nil
}

// An event cursor is the (created_at, id) of the last event of a page: a
// version byte, the time in Unix nanoseconds and the id, in base64url.
const eventCursorVersion = 1

func encodeEventCursor(t time.Time, id uuid.UUID) string {
	var b [1 + 8 + 16]byte
	b[0] = eventCursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(t.UnixNano()))
	copy(b[9:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeEventCursor(s string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != eventCursorVersion {
		return time.Time{}, uuid.Nil, errBadCursor
	}
	t := time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	id, err := uuid.FromBytes(b[9:])
	if err != nil || t.IsZero() {
		return time.Time{}, uuid.Nil, errBadCursor
	}
	return t, id, nil
}
