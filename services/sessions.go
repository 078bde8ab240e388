package services

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services/device"
)

// DefaultClientID is the client_id of a login that names no app.
const DefaultClientID = "default"

// SessionConfig is the sessions slice of the configuration.
type SessionConfig struct {
	RefreshTTL  time.Duration // idle timeout, renewed by each refresh
	MaxAge      time.Duration // absolute lifetime from login, never extended
	ReuseGrace  time.Duration // a retry of a just-rotated token within it is no theft
	MaxSessions int           // active sessions per user
	// NewDeviceWindow is how far back a sign-in looks for the user's known
	// devices (new_device_login, new_device.go); 0 turns the check off.
	NewDeviceWindow time.Duration
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
	// rotations reads and applies refresh decisions: one store per
	// dialect, chosen in wiring.
	rotations RotationStore

	// pub carries every revocation to the other instances (see
	// transaction).
	pub Publisher
}

// NewSessions returns a Sessions. rotations is the dialect's rotation store
// (NewRotationStore); key is the refresh derivation key shared by every
// instance (LoadServerKey); pub carries revocations to the other instances,
// and revoked is this instance's set.
func NewSessions(db *gorm.DB, rotations RotationStore, cfg SessionConfig, tokens *Tokens, events *Events, revoked *Revocations, pub Publisher, key []byte, now Clock) *Sessions {
	return &Sessions{db: db, rotations: rotations, cfg: cfg, tokens: tokens, events: events, revoked: revoked, pub: pub, key: key, now: now}
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
	// KnownDevice: the login presented a live device token of the user.
	KnownDevice bool
	// DPoPJKT, when set, binds the session to the key of a valid DPoP
	// proof of the login (its RFC 7638 thumbprint).
	DPoPJKT string
}

var (
	errRefreshInvalid = &Error{Code: CodeInvalidToken, Detail: "The refresh token is invalid."}
	errRefreshExpired = &Error{Code: CodeTokenExpired, Detail: "The refresh token has expired; sign in again."}
	errRefreshReused  = &Error{Code: CodeRefreshTokenReused, Detail: "This refresh token was already used; the session has been signed out for safety."}
	errFreshRequired  = &Error{Code: CodeFreshTokenRequired, Detail: "Confirm your password first (POST /v1/auth/reauthenticate)."}
	errSessionMissing = &Error{Code: CodeNotFound, Detail: "No such session."}
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
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.MaxAge), DPoPJKT: opts.DPoPJKT,
	}
	row := &models.RefreshToken{
		ID: rt.ID, SessionID: sid, Generation: 0, SecretHash: hashSecret(rt.Secret), IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
		CreatedAt: now, ExpiresAt: childExpiry(now, s.cfg.RefreshTTL, SessionStateOf(sess)),
	}
	err = s.transaction(ctx, func(tx *gorm.DB) error {
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
			if _, err := s.revokeTx(ctx, tx, active[i], models.ReasonSessionLimit, nil, meta, now, ""); err != nil {
				return err
			}
		}
		newDevice, err := s.newDevice(ctx, tx, u.ID, info, opts.KnownDevice, meta, now)
		if err != nil {
			return err
		}
		if err := models.CreateSession(ctx, tx, sess); err != nil {
			return err
		}
		if err := models.CreateRefreshToken(ctx, tx, row); err != nil {
			return err
		}
		if err := s.events.Record(ctx, tx, &models.SecurityEvent{Type: models.EventLoginSucceeded, UserID: &u.ID,
			SessionID: &sid, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent, Details: loginDetails(clientID, opts.DPoPJKT)}); err != nil {
			return err
		}
		return s.recordNewDevice(ctx, tx, newDevice, sess)
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("start session: %w", err)
	}
	access, err := s.issueAccess(Principal{UserID: u.ID, SessionID: sid, Role: u.Role, ClientID: clientID, Fresh: true, JKT: opts.DPoPJKT})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{Access: access, RefreshToken: rt.String(), RefreshExpiresIn: secondsUntil(row.ExpiresAt, now),
		SessionID: sid, User: *u}, nil
}

// loginDetails are the details of a login_succeeded event.
func loginDetails(clientID, jkt string) string {
	if jkt == "" {
		return jsonObject("client_id", clientID)
	}
	return jsonObject("client_id", clientID, "dpop_jkt", jkt)
}

// Refresh is RefreshBound with no DPoP proof.
func (s *Sessions) Refresh(ctx context.Context, raw string, meta Meta) (TokenPair, error) {
	return s.RefreshBound(ctx, raw, meta, Binding{})
}

// RefreshBound rotates a refresh token: it returns a new access token and the
// token's single child. A retry of the same token within the grace window
// returns the same child again (while that child is unused); one from
// another address prefix or user agent than the first use is recorded as a
// refresh_retry_mismatch event.
//
// What the token means is Decide's, on the state the dialect's
// RotationStore reads; the store applies it atomically (on PostgreSQL the
// common rotation is two statements: a read, then one that re-checks and
// writes it). The secret is compared here, in constant time (RT-04), before
// anything is written.
//
// A session bound to a DPoP key needs b to be a valid proof of that key
// (ProofHolds), checked after the secret and before the rotation decision:
// a missing or failed proof rotates nothing, is not the owner's use (the
// grace retry is not spent, a rotated token is not reuse) and leaves a
// dpop_proof_failed event. Only a valid proof of the bound key gets a
// rotation, the same child within grace, or (for a rotated token) the
// family revoked for reuse as without DPoP.
//
// Returns CodeInvalidToken (malformed, unknown or wrong secret: nothing is
// revoked), CodeInvalidDPoPProof or CodeUseDPoPNonce, CodeTokenExpired, CodeRefreshTokenReused (the family is revoked,
// and that revocation is committed although the call fails) or
// CodeSessionRevoked.
func (s *Sessions) RefreshBound(ctx context.Context, raw string, meta Meta, b Binding) (_ TokenPair, err error) {
	var kind DecisionKind
	defer func() { countRefresh(kind, err) }()
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return TokenPair{}, errRefreshInvalid
	}
	// A time-ordered id (UUIDv7, like session ids): children land at the
	// right edge of the refresh_tokens primary-key and parent_id indexes
	// instead of on a random page each, which keeps rotation speed from
	// falling as the table grows (bench/run.sh, growth). The id is no
	// secret; the 256-bit secret is separate.
	childID, err := uuid.NewV7()
	if err != nil {
		return TokenPair{}, err
	}
	secret := childSecret(s.key, tok, childID)
	res, err := s.rotations.Refresh(ctx, RefreshRequest{
		TokenID: tok.ID, Now: s.now(), ChildID: childID, ChildHash: hashSecret(secret), RefreshTTL: s.cfg.RefreshTTL,
		IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent, Record: s.events.Record,
	}, func(st RefreshState) Decision { return s.decide(tok, st, meta, b) })
	if err != nil {
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	kind = res.Decision.Kind
	now := res.State.Now
	switch kind {
	case Rotate:
		return s.pair(&res.Head, res.State.Session.JKT, refreshToken{ID: childID, Secret: secret}, res.ChildExpiresAt, now)
	case Retry:
		child := res.State.Token.Child
		return s.pair(&res.Head, res.State.Session.JKT, refreshToken{ID: child.ID, Secret: childSecret(s.key, tok, child.ID)}, child.ExpiresAt, now)
	case ProofFailed:
		return TokenPair{}, s.proofFailed(ctx, res.State, meta, b)
	case Reuse:
		return TokenPair{}, s.reuseDetected(ctx, res.State, meta, now)
	case Expired:
		return TokenPair{}, errRefreshExpired
	case Revoked:
		return TokenPair{}, errSessionRevoked
	default:
		return TokenPair{}, errRefreshInvalid
	}
}

// decide is what presenting tok means in state st: Invalid unless tok's
// secret matches (a known id with a wrong secret changes nothing), else
// Decide's answer. A retry also needs the child's secret to be the one
// derived from tok (it is not after a change of the derivation key), and
// one from elsewhere than the child's first use carries its event.
func (s *Sessions) decide(tok refreshToken, st RefreshState, meta Meta, b Binding) Decision {
	if !secretMatches(tok.Secret, st.Token.SecretHash) {
		return Decision{Kind: Invalid}
	}
	if !ProofHolds(st.Session, b) {
		return Decision{Kind: ProofFailed}
	}
	d := Decide(st.Token, st.Session, st.Now, s.cfg.ReuseGrace)
	if d.Kind != Retry {
		return d
	}
	child := st.Token.Child
	if !secretMatches(childSecret(s.key, tok, child.ID), child.SecretHash) {
		return Decision{Kind: Invalid}
	}
	if child.IPPrefix != meta.IPPrefix || child.UserAgent != meta.UserAgent {
		d.Event = retryMismatch(st, meta)
	}
	return d
}

// retryMismatch is the event of a grace retry from another address prefix
// or user agent than the first use of the token: no theft to act on (a
// phone that switched networks retries like this), but a trace for review.
func retryMismatch(st RefreshState, meta Meta) *models.SecurityEvent {
	child := st.Token.Child
	return &models.SecurityEvent{
		Type: models.EventRefreshRetryMismatch, UserID: &st.Session.UserID, SessionID: &st.Session.ID,
		IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
		Details: jsonObject(
			"first_ip_prefix", child.IPPrefix,
			"first_user_agent", child.UserAgent,
			"retry_ip_prefix", meta.IPPrefix,
			"retry_user_agent", meta.UserAgent,
			"generation", st.Token.Generation,
		),
	}
}

// pair is the answer of a refresh: a new access token for the session and
// the child refresh token.
func (s *Sessions) pair(head *models.SessionHead, jkt string, child refreshToken, childExpiresAt, now time.Time) (TokenPair, error) {
	access, err := s.issueAccess(Principal{UserID: head.UserID, SessionID: head.ID, Role: head.Role, ClientID: head.ClientID, JKT: jkt})
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

// proofFailed records a refresh of a bound session whose proof is missing
// or not of its key (or a broken proof with any session), and returns the
// proof's error. Nothing else changes: the token stays as it was.
func (s *Sessions) proofFailed(ctx context.Context, st RefreshState, meta Meta, b Binding) error {
	reason, err := "missing", b.Err
	switch {
	case b.Err != nil:
		reason = "invalid"
	case b.JKT != "":
		reason, err = "wrong_key", errProofWrongKy
	default:
		err = errProofMissing
	}
	ev := &models.SecurityEvent{
		Type: models.EventDPoPProofFailed, Reason: reason, UserID: &st.Session.UserID, SessionID: &st.Session.ID,
		IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
		Details: jsonObject("generation", st.Token.Generation, "detail", ErrorDetail(err)),
	}
	if rerr := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.events.Record(ctx, tx, ev) }); rerr != nil {
		return fmt.Errorf("record dpop proof failure: %w", rerr)
	}
	return err
}

// reuseDetected revokes the family of a replayed token and records it. The
// revocation commits on its own, although the caller gets an error (F14).
// A family revoked already stays as it is, with no second event.
func (s *Sessions) reuseDetected(ctx context.Context, st RefreshState, meta Meta, now time.Time) error {
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		latest, err := models.LatestRefreshToken(ctx, tx, st.Session.ID)
		if err != nil {
			return err
		}
		details := jsonObject(
			"replayed_generation", st.Token.Generation,
			"latest_generation", latest.Generation,
			"replay_ip_prefix", meta.IPPrefix,
			"replay_user_agent", meta.UserAgent,
			"last_legitimate_ip_prefix", latest.IPPrefix,
			"last_legitimate_user_agent", latest.UserAgent,
		)
		_, err = s.revokeTx(ctx, tx, st.Session.ID, models.ReasonReuseDetected, nil, meta, now, details)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke reused family: %w", err)
	}
	return errRefreshReused
}

// Logout is LogoutBound with no DPoP proof.
func (s *Sessions) Logout(ctx context.Context, raw string, meta Meta) error {
	return s.LogoutBound(ctx, raw, meta, Binding{})
}

// LogoutBound revokes the session of a refresh token (reason logout). An
// unknown or malformed token is no error: logout answers the same whatever
// it gets. A session bound to a DPoP key is only ended with a proof of that
// key (ProofHolds): a thief holding the token alone cannot sign the owner
// out either, and gets the same silent answer.
func (s *Sessions) LogoutBound(ctx context.Context, raw string, meta Meta, b Binding) error {
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return nil
	}
	// The token and its session in one read, as a refresh reads them.
	row, found, err := models.ReadRefreshRow(ctx, s.db, tok.ID)
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if !found || !secretMatches(tok.Secret, row.SecretHash) {
		return nil
	}
	if !ProofHolds(refreshStateOf(row, s.now()).Session, b) {
		return nil
	}
	_, err = s.Revoke(ctx, row.SessionID, models.ReasonLogout, nil, meta)
	return err
}

// Revoke ends a session with the reason, recording who did it (actor may be
// nil for the user themself or the system). It reports whether this call
// revoked it (false: it was revoked already).
func (s *Sessions) Revoke(ctx context.Context, id uuid.UUID, reason string, actor *uuid.UUID, meta Meta) (bool, error) {
	now := s.now()
	var ok bool
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var err error
		ok, err = s.revokeTx(ctx, tx, id, reason, actor, meta, now, "")
		return err
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}

// revokeTx revokes one session in tx and records its event, once. The
// revocation is published with the rest of tx's change (transaction).
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
	if err := record(tx, Change{Sessions: []uuid.UUID{id}}); err != nil {
		return false, err
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
