package services

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/device"
	"github.com/authd/authd/models"
)

// DefaultClientID is the client_id of a login that names no app.
const DefaultClientID = "default"

// SessionConfig is the sessions slice of the configuration.
type SessionConfig struct {
	RefreshTTL  time.Duration // idle timeout, renewed by each refresh
	MaxAge      time.Duration // absolute lifetime from login, never extended
	ReuseGrace  time.Duration // a retry of a just-rotated token within it is no theft
	MaxSessions int           // active sessions per user
}

// Sessions starts, refreshes and ends sessions (devices). Each session is one
// refresh-token family.
type Sessions struct {
	db      *gorm.DB
	cfg     SessionConfig
	tokens  *Tokens
	events  *Events
	revoked *Revocations
	key     []byte
	now     Clock
	// pg is the pool on PostgreSQL, where the common refresh takes two
	// statements without a transaction (rotateFast); nil on SQLite.
	pg *sql.DB

	// DatabaseTime, on PostgreSQL, makes the decisions of a refresh (grace,
	// expiry, the times it writes) on the database's clock instead of now:
	// instances whose clocks disagree still agree on them (FI-8). The app
	// sets it when it runs on the real clock; a test's settable clock
	// leaves it off so that it drives those decisions itself.
	DatabaseTime bool

	// Notify, when set, is called inside every revocation's transaction
	// with the revoked session ids, so that other instances learn of them
	// when it commits (PostgreSQL NOTIFY).
	Notify func(ctx context.Context, tx *gorm.DB, ids []uuid.UUID) error
}

// NewSessions returns a Sessions. key is the refresh derivation key shared by
// every instance (LoadServerKey).
func NewSessions(db *gorm.DB, cfg SessionConfig, tokens *Tokens, events *Events, revoked *Revocations, key []byte, now Clock) *Sessions {
	s := &Sessions{db: db, cfg: cfg, tokens: tokens, events: events, revoked: revoked, key: key, now: now}
	if db.Dialector.Name() == "postgres" {
		if pool, err := db.DB(); err == nil {
			s.pg = pool
		}
	}
	return s
}

// Config returns the session configuration.
func (s *Sessions) Config() SessionConfig { return s.cfg }

// AccessToken is a signed access token and what it says.
type AccessToken struct {
	Token     string
	ExpiresIn int // seconds
	Principal Principal
}

// TokenPair is what a login or a refresh returns.
type TokenPair struct {
	Access           AccessToken
	RefreshToken     string
	RefreshExpiresIn int // seconds
	SessionID        uuid.UUID
	User             models.User
}

// StartOptions describe the device of a new session.
type StartOptions struct {
	DeviceName string // empty: named from the user agent
	ClientID   string // empty: DefaultClientID
}

var (
	errRefreshInvalid = &Error{Code: CodeInvalidToken, Detail: "The refresh token is invalid."}
	errRefreshExpired = &Error{Code: CodeTokenExpired, Detail: "The refresh token has expired; sign in again."}
	errRefreshReused  = &Error{Code: CodeRefreshTokenReused, Detail: "This refresh token was already used; the session has been signed out for safety."}
	errFreshRequired  = &Error{Code: CodeFreshTokenRequired, Detail: "Confirm your password first (POST /v1/auth/reauthenticate)."}
	errSessionMissing = &Error{Code: CodeNotFound, Detail: "No such session."}
	// errRollback ends a transaction whose outcome is decided but must not
	// be written.
	errRollback = errors.New("rollback")
)

func (s *Sessions) issueAccess(p Principal) (AccessToken, error) {
	tok, p, err := s.tokens.Issue(p)
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: tok, ExpiresIn: int(s.tokens.TTL() / time.Second), Principal: p}, nil
}

// Start begins a session for u after a password login: a new refresh-token
// family and a fresh access token. If u already has MaxSessions active
// sessions, the least recently used ones are revoked (reason session_limit)
// in the same transaction.
func (s *Sessions) Start(ctx context.Context, u *models.User, opts StartOptions, meta Meta) (TokenPair, error) {
	now := s.now()
	info := device.Parse(meta.UserAgent)
	name := opts.DeviceName
	if name == "" {
		name = info.Name()
	}
	clientID := opts.ClientID
	if clientID == "" {
		clientID = DefaultClientID
	}
	sid, err := uuid.NewV7()
	if err != nil {
		return TokenPair{}, err
	}
	rt, err := newRefreshToken()
	if err != nil {
		return TokenPair{}, err
	}
	sess := &models.Session{
		ID: sid, UserID: u.ID, ClientID: clientID, DeviceName: name, UserAgent: meta.UserAgent,
		Browser: info.Browser, OS: info.OS, DeviceType: info.DeviceType, IPPrefix: meta.IPPrefix,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.MaxAge),
	}
	row := &models.RefreshToken{
		ID: rt.ID, SessionID: sid, Generation: 0, SecretHash: hashSecret(rt.Secret), IPPrefix: meta.IPPrefix,
		CreatedAt: now, ExpiresAt: minTime(now.Add(s.cfg.RefreshTTL), sess.ExpiresAt),
	}
	var evicted []uuid.UUID
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Logins of one user serialize on the user row, so parallel logins
		// can never leave more than MaxSessions active.
		if err := models.LockUser(ctx, tx, u.ID); err != nil {
			return err
		}
		active, err := models.ActiveSessionIDs(ctx, tx, u.ID, now)
		if err != nil {
			return err
		}
		for i := 0; s.cfg.MaxSessions > 0 && len(active)-i >= s.cfg.MaxSessions; i++ {
			ok, err := s.revokeTx(ctx, tx, active[i], models.ReasonSessionLimit, nil, meta, now, "")
			if err != nil {
				return err
			}
			if ok {
				evicted = append(evicted, active[i])
			}
		}
		if err := models.CreateSession(ctx, tx, sess); err != nil {
			return err
		}
		if err := models.CreateRefreshToken(ctx, tx, row); err != nil {
			return err
		}
		return s.events.Record(ctx, tx, &models.SecurityEvent{Type: models.EventLoginSucceeded, UserID: &u.ID,
			SessionID: &sid, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent, Details: jsonObject("client_id", clientID)})
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("start session: %w", err)
	}
	s.published(evicted, now)
	access, err := s.issueAccess(Principal{UserID: u.ID, SessionID: sid, Role: u.Role, ClientID: clientID, Fresh: true})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{Access: access, RefreshToken: rt.String(), RefreshExpiresIn: secondsUntil(row.ExpiresAt, now),
		SessionID: sid, User: *u}, nil
}

// outcome is what a refresh transaction decided.
type outcome int

const (
	outcomeRotated  outcome = iota + 1 // a new child was minted
	outcomeRetry                       // a retry within grace: the same child again
	outcomeInactive                    // the session is revoked, expired or unknown
	outcomeInvalid                     // unknown token or wrong secret
	outcomeExpired                     // the token is past its idle expiry
	outcomeReuse                       // a rotated token outside grace: theft
)

// Refresh rotates a refresh token: it returns a new access token and the
// token's single child. A retry of the same token within the grace window
// returns the same child again (while that child is unused).
//
// On PostgreSQL the common path is two statements and one implicit
// transaction: a read of the token's secret hash, compared here in
// constant time (RT-04), then rotateFast. Otherwise, and whenever that
// path does not rotate, it is one transaction: BEGIN, an UPDATE of the session (which
// takes its row lock, so rotations and revocations of one family
// serialize), a conditional UPDATE of the token that only a live token
// passes, the INSERT of the child, COMMIT; a token that is not live is
// examined under the same lock (retry within grace, reuse, expiry).
//
// Returns CodeInvalidToken (malformed, unknown or wrong secret: nothing is
// revoked), CodeTokenExpired, CodeRefreshTokenReused (the family is revoked,
// and that revocation is committed although the call fails) or
// CodeSessionRevoked.
func (s *Sessions) Refresh(ctx context.Context, raw string, meta Meta) (_ TokenPair, err error) {
	var kind outcome
	defer func() { countRefresh(kind, err) }()
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return TokenPair{}, errRefreshInvalid
	}
	now := s.now()
	// A time-ordered id (UUIDv7, like session ids): children land at the
	// right edge of the refresh_tokens primary-key and parent_id indexes
	// instead of on a random page each, which keeps rotation speed from
	// falling as the table grows (bench/run.sh, growth). The id is no
	// secret; the 256-bit secret is separate.
	childID, err := uuid.NewV7()
	if err != nil {
		return TokenPair{}, err
	}
	if s.pg != nil {
		// One read decides the common case: an unknown token or a wrong
		// secret ends here, a live one is rotated in one statement.
		at := &now
		if s.DatabaseTime {
			at = nil
		}
		ts, err := models.ReadTokenSecret(ctx, s.pg, tok.ID, at)
		if errors.Is(err, models.ErrNotFound) {
			kind = outcomeInvalid
			return TokenPair{}, errRefreshInvalid
		}
		if err != nil {
			return TokenPair{}, fmt.Errorf("refresh: %w", err)
		}
		if !secretMatches(tok.Secret, ts.SecretHash) {
			kind = outcomeInvalid // a known id with a wrong secret changes nothing
			return TokenPair{}, errRefreshInvalid
		}
		now = ts.Now
		if ts.Live {
			pair, rotated, err := s.rotateFast(ctx, tok, childID, meta, now)
			if err != nil || rotated {
				if rotated {
					kind = outcomeRotated
				}
				return pair, err
			}
		}
	}
	var (
		head  *models.SessionHead
		child *models.RefreshToken
		old   *models.RefreshToken
	)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		head, err = models.TouchSessionOfToken(ctx, tx, tok.ID, meta.IPPrefix, now)
		if errors.Is(err, models.ErrNotFound) {
			kind = outcomeInactive
			return errRollback
		}
		if err != nil {
			return err
		}
		rot, err := models.RotateRefreshToken(ctx, tx, tok.ID, childID, now)
		if err == nil {
			if !secretMatches(tok.Secret, rot.SecretHash) {
				kind = outcomeInvalid // a known id with a wrong secret changes nothing
				return errRollback
			}
			child = &models.RefreshToken{
				ID: childID, SessionID: head.ID, ParentID: &tok.ID, Generation: rot.Generation + 1,
				SecretHash: hashSecret(childSecret(s.key, tok, childID)), IPPrefix: meta.IPPrefix,
				CreatedAt: now, ExpiresAt: minTime(now.Add(s.cfg.RefreshTTL), head.ExpiresAt),
			}
			kind = outcomeRotated
			return models.CreateRefreshToken(ctx, tx, child)
		}
		if !errors.Is(err, models.ErrNotFound) {
			return err
		}
		// The token is not live. Decide why, still under the session lock.
		old, err = models.FindRefreshToken(ctx, tx, tok.ID)
		if errors.Is(err, models.ErrNotFound) || (err == nil && !secretMatches(tok.Secret, old.SecretHash)) {
			kind = outcomeInvalid
			return errRollback
		}
		if err != nil {
			return err
		}
		// ReuseGrace 0 means no grace at all: now may be earlier than the
		// winner's rotated_at (this request read the clock before the
		// winner did), and a negative age must not pass as "within grace".
		if s.cfg.ReuseGrace > 0 && old.RotatedAt != nil && old.RevokedAt == nil && old.ChildID != nil && now.Sub(*old.RotatedAt) < s.cfg.ReuseGrace {
			c, err := models.FindRefreshToken(ctx, tx, *old.ChildID)
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return err
			}
			// Only while the child is itself unused: once it was rotated in
			// turn, the parent is plain reuse (RT-05).
			if err == nil && c.RotatedAt == nil && c.RevokedAt == nil && c.ExpiresAt.After(now) {
				child, kind = c, outcomeRetry
				return nil
			}
		}
		if old.RotatedAt != nil || old.RevokedAt != nil {
			kind = outcomeReuse
		} else {
			kind = outcomeExpired
		}
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	switch kind {
	case outcomeRotated, outcomeRetry:
		return s.refreshed(tok, head, child, now)
	case outcomeInvalid:
		return TokenPair{}, errRefreshInvalid
	case outcomeExpired:
		return TokenPair{}, errRefreshExpired
	case outcomeReuse:
		return TokenPair{}, s.reuseDetected(ctx, old, meta, now)
	default:
		return TokenPair{}, s.inactive(ctx, tok, now)
	}
}

// rotateFast rotates a live token on PostgreSQL in one statement
// (models.RotateInOneStatement), which decides exactly what the general
// transaction decides for a live token: the session row lock first, then
// the conditional UPDATE that elects one winner, then the session touch and
// the child. rotated is false, with nothing written, when the statement
// rotated nothing (a concurrent winner, a revoked or expired session): the
// general transaction then finds out why, under the session's lock.
func (s *Sessions) rotateFast(ctx context.Context, tok refreshToken, childID uuid.UUID, meta Meta, now time.Time) (_ TokenPair, rotated bool, err error) {
	secret := childSecret(s.key, tok, childID)
	rot, err := models.RotateInOneStatement(ctx, s.pg, models.RotateParams{
		TokenID: tok.ID, ChildID: childID, Now: now, IPPrefix: meta.IPPrefix,
		ChildHash: hashSecret(secret), ChildExpiresAt: now.Add(s.cfg.RefreshTTL),
	})
	if errors.Is(err, models.ErrNotFound) {
		return TokenPair{}, false, nil
	}
	if err != nil {
		return TokenPair{}, false, fmt.Errorf("refresh: %w", err)
	}
	pair, err := s.pair(&rot.SessionHead, refreshToken{ID: childID, Secret: secret}, rot.ChildExpiresAt, now)
	return pair, err == nil, err
}

// refreshed builds the answer of a successful rotation or retry.
func (s *Sessions) refreshed(parent refreshToken, head *models.SessionHead, child *models.RefreshToken, now time.Time) (TokenPair, error) {
	secret := childSecret(s.key, parent, child.ID)
	if !secretMatches(secret, child.SecretHash) {
		// The derivation key changed since the child was minted.
		return TokenPair{}, errRefreshInvalid
	}
	return s.pair(head, refreshToken{ID: child.ID, Secret: secret}, child.ExpiresAt, now)
}

// pair is the answer of a refresh: a new access token for the session and
// the child refresh token.
func (s *Sessions) pair(head *models.SessionHead, child refreshToken, childExpiresAt, now time.Time) (TokenPair, error) {
	access, err := s.issueAccess(Principal{UserID: head.UserID, SessionID: head.ID, Role: head.Role, ClientID: head.ClientID})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		Access:           access,
		RefreshToken:     child.String(),
		RefreshExpiresIn: secondsUntil(childExpiresAt, now),
		SessionID:        head.ID,
		User:             models.User{ID: head.UserID, Email: head.Email, Role: head.Role, CreatedAt: head.UserCreatedAt},
	}, nil
}

// reuseDetected revokes the family of a replayed token and records it. The
// revocation commits on its own, although the caller gets an error (F14).
func (s *Sessions) reuseDetected(ctx context.Context, old *models.RefreshToken, meta Meta, now time.Time) error {
	var revoked bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		latest, err := models.LatestRefreshToken(ctx, tx, old.SessionID)
		if err != nil {
			return err
		}
		details := jsonObject(
			"replayed_generation", old.Generation,
			"latest_generation", latest.Generation,
			"replay_ip_prefix", meta.IPPrefix,
			"replay_user_agent", meta.UserAgent,
			"last_legitimate_ip_prefix", latest.IPPrefix,
		)
		revoked, err = s.revokeTx(ctx, tx, old.SessionID, models.ReasonReuseDetected, nil, meta, now, details)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke reused family: %w", err)
	}
	if revoked {
		// The in-memory set ages on this instance's clock, like the access
		// tokens it checks.
		s.published([]uuid.UUID{old.SessionID}, s.now())
	}
	return errRefreshReused
}

// inactive explains a refresh whose session is not active: revoked, past its
// absolute lifetime, or the token is unknown.
func (s *Sessions) inactive(ctx context.Context, tok refreshToken, now time.Time) error {
	rt, err := models.FindRefreshToken(ctx, s.db, tok.ID)
	if errors.Is(err, models.ErrNotFound) {
		return errRefreshInvalid
	}
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	if !secretMatches(tok.Secret, rt.SecretHash) {
		return errRefreshInvalid
	}
	sess, err := models.FindSessionByID(ctx, s.db, rt.SessionID)
	if errors.Is(err, models.ErrNotFound) {
		return errRefreshInvalid
	}
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	switch {
	case sess.RevokedAt != nil && rt.RotatedAt != nil:
		// A rotated token stays reuse; the family is revoked already.
		return errRefreshReused
	case sess.RevokedAt != nil:
		return errSessionRevoked
	case !sess.ExpiresAt.After(now):
		return errRefreshExpired
	default:
		return errRefreshInvalid
	}
}

// Logout revokes the session of a refresh token (reason logout). An unknown
// or malformed token is no error: logout answers the same whatever it gets.
func (s *Sessions) Logout(ctx context.Context, raw string, meta Meta) error {
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return nil
	}
	rt, err := models.FindRefreshToken(ctx, s.db, tok.ID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if !secretMatches(tok.Secret, rt.SecretHash) {
		return nil
	}
	_, err = s.Revoke(ctx, rt.SessionID, models.ReasonLogout, nil, meta)
	return err
}

// Revoke ends a session with the reason, recording who did it (actor may be
// nil for the user themself or the system). It reports whether this call
// revoked it (false: it was revoked already).
func (s *Sessions) Revoke(ctx context.Context, id uuid.UUID, reason string, actor *uuid.UUID, meta Meta) (bool, error) {
	now := s.now()
	var ok bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		ok, err = s.revokeTx(ctx, tx, id, reason, actor, meta, now, "")
		return err
	})
	if err != nil {
		return false, err
	}
	if ok {
		s.published([]uuid.UUID{id}, now)
	}
	return ok, nil
}

// revokeTx revokes one session in tx and records its event, once.
func (s *Sessions) revokeTx(ctx context.Context, tx *gorm.DB, id uuid.UUID, reason string, actor *uuid.UUID, meta Meta, now time.Time, details string) (bool, error) {
	sess, err := models.RevokeSession(ctx, tx, id, reason, now)
	if err != nil || sess == nil {
		return false, err
	}
	if details == "" {
		details = jsonObject("device_name", sess.DeviceName, "session_ip_prefix", sess.IPPrefix)
	}
	err = s.events.Record(ctx, tx, &models.SecurityEvent{
		Type: models.EventSessionRevoked, Reason: reason, UserID: &sess.UserID, SessionID: &id, ActorUserID: actor,
		IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent, CreatedAt: now, Details: details,
	})
	if err != nil {
		return false, err
	}
	if s.Notify != nil {
		if err := s.Notify(ctx, tx, []uuid.UUID{id}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// revokeUserSessions revokes every active session of the user except keep
// (which may be nil) in tx and returns the revoked ids.
func (s *Sessions) revokeUserSessions(ctx context.Context, tx *gorm.DB, userID uuid.UUID, keep *uuid.UUID, reason string, actor *uuid.UUID, meta Meta, now time.Time) ([]uuid.UUID, error) {
	ids, err := models.ActiveSessionIDs(ctx, tx, userID, now)
	if err != nil {
		return nil, err
	}
	var revoked []uuid.UUID
	for _, id := range ids {
		if keep != nil && id == *keep {
			continue
		}
		ok, err := s.revokeTx(ctx, tx, id, reason, actor, meta, now, "")
		if err != nil {
			return nil, err
		}
		if ok {
			revoked = append(revoked, id)
		}
	}
	return revoked, nil
}

// published makes committed revocations effective for access tokens on this
// instance at once.
func (s *Sessions) published(ids []uuid.UUID, now time.Time) {
	if s.revoked == nil {
		return
	}
	for _, id := range ids {
		s.revoked.Add(id, now)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func secondsUntil(t, now time.Time) int {
	d := t.Sub(now)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}
