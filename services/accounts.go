package services

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
	"github.com/authd/authd/models/emailaddr"
	"github.com/authd/authd/services/password"
)

// AccountConfig is the accounts slice of the configuration.
type AccountConfig struct {
	MinPasswordLength int
	SignupEnabled     bool
}

// Accounts registers users and checks their passwords.
type Accounts struct {
	db     *gorm.DB
	cfg    AccountConfig
	hasher *Hasher
	policy password.Policy
	events *Events
	ses    *Sessions
	now    Clock

	profiles profiles
}

// NewAccounts returns an Accounts. ses is used to end the other sessions
// when a password changes.
func NewAccounts(db *gorm.DB, cfg AccountConfig, hasher *Hasher, events *Events, ses *Sessions, now Clock) *Accounts {
	return &Accounts{db: db, cfg: cfg, hasher: hasher, policy: password.Policy{MinLength: cfg.MinPasswordLength},
		events: events, ses: ses, now: now}
}

// NormalizeEmail returns the one form in which an email address is stored
// and compared (see models/emailaddr: PRECIS case folding and NFKC before
// the @, the IDNA 2008 ASCII form after it), so that two spellings of one
// address are one account. Returns CodeInvalidRequest, with the reason, for
// an address that is refused: control, format or invisible characters, a
// local part mixing Latin with Cyrillic or Greek, a domain without a dot, an
// IP-literal domain, a label IDNA 2008 refuses.
func NormalizeEmail(s string) (string, error) {
	e, err := emailaddr.Normalize(s)
	var bad *emailaddr.Error
	if errors.As(err, &bad) {
		return "", Errorf(CodeInvalidRequest, "%s", bad.Reason)
	}
	return e, err
}

// findUserByEmail returns the account of an email as typed, or nil. It looks
// up first the form in which emails were stored before normalisation
// (trimmed and lower-cased), then the normalised form. The old form comes
// first so that every spelling that found an account before still finds the
// same one: after migration 00006 the only rows in an old form are those it
// left as they were (an address the rules now refuse, or a second spelling
// of an address that already had an account in the new form), and their
// owners sign in with the spelling they registered. Every other row is in
// the normalised form, where both look-ups agree. A refused address is
// looked up only in the old form, so it answers like any unknown email.
func findUserByEmail(ctx context.Context, db *gorm.DB, raw string) (*models.User, error) {
	var keys []string
	if legacy := emailaddr.Legacy(raw); legacy != "" && len(legacy) <= emailaddr.MaxLength {
		keys = append(keys, legacy)
	}
	if email, err := NormalizeEmail(raw); err == nil && !slices.Contains(keys, email) {
		keys = append(keys, email)
	}
	for _, e := range keys {
		u, err := models.FindUserByEmail(ctx, db, e)
		switch {
		case err == nil:
			return u, nil
		case !errors.Is(err, models.ErrNotFound):
			return nil, fmt.Errorf("find user: %w", err)
		}
	}
	return nil, nil
}

// CheckPassword applies the password policy. Returns CodePasswordTooLong
// (checked first) or CodeWeakPassword.
func (a *Accounts) CheckPassword(pw, email string) error {
	inputs := []string{"authd"}
	if email != "" {
		inputs = append(inputs, email)
		if local, _, ok := strings.Cut(email, "@"); ok {
			inputs = append(inputs, local)
		}
	}
	err := a.policy.Check(pw, inputs...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrTooLong):
		return Errorf(CodePasswordTooLong, "The password is longer than 72 bytes; choose a shorter one.")
	case errors.Is(err, password.ErrTooShort):
		return Errorf(CodeWeakPassword, "The password must have at least %d characters.", a.cfg.MinPasswordLength)
	default:
		return Errorf(CodeWeakPassword, "The password is too common or too easy to guess.")
	}
}

// Register creates a user account with role "user". Returns
// CodeSignupDisabled, CodeInvalidRequest, CodePasswordTooLong,
// CodeWeakPassword, CodeEmailTaken or CodeOverloaded.
func (a *Accounts) Register(ctx context.Context, email, pw string, meta Meta) (*models.User, error) {
	if !a.cfg.SignupEnabled {
		return nil, Errorf(CodeSignupDisabled, "Sign-up is disabled on this server.")
	}
	return a.create(ctx, email, pw, models.RoleUser, meta)
}

// CreateUser creates an account with the given role, whether or not sign-up
// is enabled (for operators, through the command line).
func (a *Accounts) CreateUser(ctx context.Context, email, pw, role string) (*models.User, error) {
	if role != models.RoleUser && role != models.RoleAdmin {
		return nil, Errorf(CodeInvalidRequest, "The role must be user or admin.")
	}
	return a.create(ctx, email, pw, role, Meta{})
}

func (a *Accounts) create(ctx context.Context, rawEmail, pw, role string, meta Meta) (*models.User, error) {
	// The password length is checked before anything else, so that a password
	// over 72 bytes is always password_too_long.
	if len(pw) > 72 {
		return nil, a.CheckPassword(pw, "")
	}
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return nil, err
	}
	if err := a.CheckPassword(pw, email); err != nil {
		return nil, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := a.now()
	u := &models.User{ID: id, Email: email, PasswordHash: hash, Role: role, CreatedAt: now, UpdatedAt: now}
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := models.CreateUser(ctx, tx, u); err != nil {
			return err
		}
		return a.events.Record(ctx, tx, &models.SecurityEvent{
			Type: models.EventUserRegistered, UserID: &u.ID, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
			Details: jsonObject("role", role),
		})
	})
	if errors.Is(err, models.ErrDuplicate) {
		return nil, Errorf(CodeEmailTaken, "An account with this email already exists.")
	}
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// The kinds of password proof a login_failed event records in
// details.kind.
const (
	ProofLogin          = "login"
	ProofReauthenticate = "reauthenticate"
	ProofPasswordChange = "password_change"
)

var errInvalidCredentials = &Error{Code: CodeInvalidCredentials, Detail: "The email or password is incorrect."}

// Authenticate checks an email and password. An unknown email and a wrong
// password give the same CodeInvalidCredentials after the same bcrypt work,
// and both record a login_failed event. A correct password stored at a
// lower cost than configured is re-hashed. Returns CodeOverloaded when no
// hashing slot frees up in time.
func (a *Accounts) Authenticate(ctx context.Context, rawEmail, pw string, meta Meta) (_ *models.User, err error) {
	defer func() { countLogin(err) }()
	// An address the rules refuse finds no account (unless one was stored
	// in that form before the rules), and is answered like a wrong
	// password after the same dummy comparison: never as invalid_request,
	// which would tell the rules apart from the accounts.
	u, err := findUserByEmail(ctx, a.db, rawEmail)
	if err != nil {
		return nil, err
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	// Passwords over 72 bytes never match (they were never accepted), but
	// still cost one comparison so that their answer takes the same time.
	candidate := pw
	if len(candidate) > 72 {
		candidate, hash = "", ""
	}
	ok, err := a.hasher.Compare(ctx, hash, candidate)
	if err != nil {
		return nil, err
	}
	if !ok {
		e := &models.SecurityEvent{Type: models.EventLoginFailed, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
			Details: jsonObject("reason", "invalid_credentials", "kind", ProofLogin)}
		if u != nil {
			e.UserID = &u.ID
		}
		if err := a.events.Record(ctx, a.db, e); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	}
	if a.hasher.NeedsRehash(u.PasswordHash) {
		if err := a.rehash(ctx, u, pw); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (a *Accounts) rehash(ctx context.Context, u *models.User, pw string) error {
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if err := models.UpdatePasswordHash(ctx, a.db, u.ID, hash, a.now()); err != nil {
		return fmt.Errorf("rehash: %w", err)
	}
	u.PasswordHash = hash
	return nil
}

// User returns the account. Returns CodeInvalidToken when it no longer
// exists (its tokens must stop working).
func (a *Accounts) User(ctx context.Context, id uuid.UUID) (*models.User, error) {
	return findUser(ctx, a.db, id, errInvalidToken)
}

// findUser returns the account, or missing when it does not exist.
func findUser(ctx context.Context, db *gorm.DB, id uuid.UUID, missing error) (*models.User, error) {
	u, err := models.FindUserByID(ctx, db, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// Reauthenticate checks the password of the principal's user and issues a
// fresh access token for the same session. A session that has ended
// (revoked, past its absolute lifetime or idle beyond the refresh-token
// lifetime) gets no new token, even while the access token presented is
// still valid: a fresh token would keep a dead session usable. Returns
// CodeSessionRevoked, CodeTokenExpired or CodeInvalidCredentials.
func (a *Accounts) Reauthenticate(ctx context.Context, p Principal, pw string, meta Meta) (AccessToken, error) {
	u, err := a.User(ctx, p.UserID)
	if err != nil {
		return AccessToken{}, err
	}
	if err := a.ses.checkLive(ctx, p); err != nil {
		return AccessToken{}, err
	}
	candidate, hash := pw, u.PasswordHash
	if len(candidate) > 72 {
		candidate, hash = "", ""
	}
	ok, err := a.hasher.Compare(ctx, hash, candidate)
	if err != nil {
		return AccessToken{}, err
	}
	if !ok {
		err := a.events.Record(ctx, a.db, &models.SecurityEvent{Type: models.EventLoginFailed, UserID: &u.ID,
			SessionID: &p.SessionID, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
			Details: jsonObject("reason", "reauthentication_failed", "kind", ProofReauthenticate)})
		if err != nil {
			return AccessToken{}, err
		}
		return AccessToken{}, errInvalidCredentials
	}
	p.Role, p.Fresh = u.Role, true
	return a.ses.issueAccess(p)
}

// ChangePassword replaces the password of the principal's user and revokes
// every other session of the user (reason password_changed), in one
// transaction with the events. It needs a fresh access token. Returns
// CodeFreshTokenRequired, CodeInvalidCredentials, CodePasswordTooLong or
// CodeWeakPassword.
func (a *Accounts) ChangePassword(ctx context.Context, p Principal, current, next string, meta Meta) error {
	if !p.Fresh {
		return errFreshRequired
	}
	if len(next) > 72 {
		return a.CheckPassword(next, "")
	}
	u, err := a.User(ctx, p.UserID)
	if err != nil {
		return err
	}
	if err := a.CheckPassword(next, u.Email); err != nil {
		return err
	}
	candidate, hash := current, u.PasswordHash
	if len(candidate) > 72 {
		candidate, hash = "", ""
	}
	ok, err := a.hasher.Compare(ctx, hash, candidate)
	if err != nil {
		return err
	}
	if !ok {
		// A wrong current password is a failed sign-in like any other: it
		// leaves a trace (and the handler counts it against the session).
		err := a.events.Record(ctx, a.db, &models.SecurityEvent{Type: models.EventLoginFailed, UserID: &u.ID,
			SessionID: &p.SessionID, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent,
			Details: jsonObject("reason", "invalid_credentials", "kind", ProofPasswordChange)})
		if err != nil {
			return err
		}
		return errInvalidCredentials
	}
	newHash, err := a.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	now := a.now()
	err = a.ses.transaction(ctx, func(tx *gorm.DB) error {
		if err := models.UpdatePasswordHash(ctx, tx, u.ID, newHash, now); err != nil {
			return err
		}
		if err := a.events.Record(ctx, tx, &models.SecurityEvent{Type: models.EventPasswordChanged, UserID: &u.ID,
			SessionID: &p.SessionID, ActorUserID: &u.ID, IPPrefix: meta.IPPrefix, UserAgent: meta.UserAgent}); err != nil {
			return err
		}
		_, err := a.ses.revokeUserSessions(ctx, tx, u.ID, &p.SessionID, models.ReasonPasswordChanged, &u.ID, meta, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

var errSessionEnded = &Error{Code: CodeTokenExpired, Detail: "The session has expired; sign in again."}

// checkLive returns nil while the principal's session could still be
// refreshed. It reads, never writes: checking a session extends nothing.
// The rule is the refresh's own (services/rotation.go): the session must be
// active (SessionState.ActiveAt: not revoked, not past its absolute
// lifetime) and its newest refresh token, whose expiry is the idle timeout
// capped at the absolute one, not expired. Returns CodeSessionRevoked or
// CodeTokenExpired.
func (s *Sessions) checkLive(ctx context.Context, p Principal) error {
	now := s.now()
	sess, err := models.FindSessionByID(ctx, s.db, p.SessionID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errSessionEnded // deleted by retention since it ended
	case err != nil:
		return fmt.Errorf("find session: %w", err)
	case sess.UserID != p.UserID:
		return errSessionEnded
	}
	state := SessionStateOf(sess)
	if state.RevokedAt != nil {
		return errSessionRevoked
	}
	if !state.ActiveAt(now) {
		return errSessionEnded
	}
	head, err := models.LatestRefreshToken(ctx, s.db, p.SessionID)
	if errors.Is(err, models.ErrNotFound) {
		return errSessionEnded
	}
	if err != nil {
		return fmt.Errorf("find refresh token: %w", err)
	}
	if expired(head.ExpiresAt, now) {
		return errSessionEnded
	}
	return nil
}
