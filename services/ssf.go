package services

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/models"
)

// The URNs of the SSF delivery methods (SSF 1.0 §6.1.1).
const (
	DeliveryPushURN = "urn:ietf:rfc:8935"
	DeliveryPollURN = "urn:ietf:rfc:8936"
)

// The event types authd transmits (CAEP 1.0 and SSF 1.0 §8).
const (
	CAEPSessionRevoked    = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	CAEPCredentialChange  = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	CAEPTokenClaimsChange = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	SSFVerification       = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	SSFStreamUpdated      = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
)

// SSFEventsSupported are the event types a stream can request.
var SSFEventsSupported = []string{CAEPSessionRevoked, CAEPCredentialChange, CAEPTokenClaimsChange}

// The subject formats of a stream's SETs (RFC 9493).
const (
	SubjectIssSub = "iss_sub"
	SubjectEmail  = "email"
)

// SSFConfig configures the Shared Signals transmitter.
type SSFConfig struct {
	// Issuer is the transmitter's URL (the iss of every SET, the base of
	// every SSF endpoint). Empty turns SSF off.
	Issuer string
	// SubjectIssuer is the iss of iss_sub subjects: the issuer of authd's
	// access tokens, whose sub is the user id.
	SubjectIssuer string
	// RequireHTTPS refuses push endpoints that are not https (production).
	RequireHTTPS bool
	// PollWait is how long a poll without returnImmediately waits for a
	// SET (0: it answers at once).
	PollWait time.Duration
	// CheckEndpoint, when set, checks a push endpoint's host when a stream
	// is configured (the SSRF guard); the delivery checks again when it
	// connects.
	CheckEndpoint func(ctx context.Context, host string) error
}

// PushSET is a signed SET for one push stream.
type PushSET struct {
	StreamID uuid.UUID
	JTI      string
	SET      string
}

// PushQueue queues SETs for push delivery (RFC 8935) in tx, the
// transaction of the change they tell of: the outbox.
type PushQueue interface {
	QueuePush(ctx context.Context, tx *gorm.DB, sets []PushSET) error
}

// SSF is the Shared Signals transmitter: receivers let in by admins, their
// streams, and the SETs of security events, written in the transaction
// that records each event (poll streams' in ssf_poll_sets, push streams'
// through the PushQueue).
type SSF struct {
	db   *gorm.DB
	cfg  SSFConfig
	key  *SETKey
	push PushQueue
	now  Clock
}

// NewSSF returns the transmitter. push may be nil: then streams deliver
// by poll only.
func NewSSF(db *gorm.DB, cfg SSFConfig, key *SETKey, push PushQueue, now Clock) *SSF {
	if cfg.PollWait < 0 {
		cfg.PollWait = 0
	}
	return &SSF{db: db, cfg: cfg, key: key, push: push, now: now}
}

// Config returns the transmitter's configuration.
func (s *SSF) Config() SSFConfig { return s.cfg }

// Key returns the SET signing key.
func (s *SSF) Key() *SETKey { return s.key }

// DeliveryMethods are the delivery URNs the transmitter supports.
func (s *SSF) DeliveryMethods() []string {
	if s.push == nil {
		return []string{DeliveryPollURN}
	}
	return []string{DeliveryPushURN, DeliveryPollURN}
}

// Endpoint returns the absolute URL of an SSF path on the issuer.
func (s *SSF) Endpoint(path string) string { return strings.TrimSuffix(s.cfg.Issuer, "/") + path }

var (
	errReceiverToken = &Error{Code: CodeInvalidToken, Detail: "The receiver token is missing or invalid."}
	errStreamMissing = &Error{Code: CodeNotFound, Detail: "No such stream."}
	errReceiverGone  = &Error{Code: CodeNotFound, Detail: "No such receiver."}
)

// ReceiverCreated is a new receiver with its token, shown only once.
type ReceiverCreated struct {
	Receiver models.SSFReceiver
	Token    string
}

// CreateReceiver lets a receiver in on behalf of an admin, who needs a
// fresh access token. audience (default: a URN of the receiver's id) is
// the aud of its SETs. Returns CodeFreshTokenRequired or CodeInvalidRequest.
func (s *SSF) CreateReceiver(ctx context.Context, admin Principal, description, audience string) (ReceiverCreated, error) {
	if !admin.Fresh {
		return ReceiverCreated{}, errFreshRequired
	}
	if len(description) > 200 || strings.ContainsAny(description, "\r\n\x00") {
		return ReceiverCreated{}, Errorf(CodeInvalidRequest, "description must be one line of at most 200 characters.")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return ReceiverCreated{}, err
	}
	if audience == "" {
		audience = "urn:authd:ssf:receiver:" + id.String()
	}
	if len(audience) > 500 || strings.ContainsAny(audience, " \t\r\n\x00") {
		return ReceiverCreated{}, Errorf(CodeInvalidRequest, "audience must be a URI of at most 500 characters without spaces.")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return ReceiverCreated{}, fmt.Errorf("receiver token: %w", err)
	}
	token := "ssfr_" + base64.RawURLEncoding.EncodeToString(secret)
	actor := admin.UserID
	r := models.SSFReceiver{ID: id, Description: description, Audience: audience, TokenHash: keyHash(token),
		CreatedBy: &actor, CreatedAt: s.now()}
	if err := models.CreateSSFReceiver(ctx, s.db, &r); err != nil {
		return ReceiverCreated{}, err
	}
	return ReceiverCreated{Receiver: r, Token: token}, nil
}

// Receivers lists every receiver.
func (s *SSF) Receivers(ctx context.Context) ([]models.SSFReceiver, error) {
	return models.ListSSFReceivers(ctx, s.db)
}

// DeleteReceiver removes a receiver, its token and its streams, on behalf
// of an admin with a fresh access token. Returns CodeFreshTokenRequired or
// CodeNotFound.
func (s *SSF) DeleteReceiver(ctx context.Context, admin Principal, id uuid.UUID) error {
	if !admin.Fresh {
		return errFreshRequired
	}
	var found bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		found, err = models.DeleteSSFReceiver(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return errReceiverGone
	}
	return nil
}

// AuthenticateReceiver returns the receiver of a bearer token. Returns
// CodeInvalidToken.
func (s *SSF) AuthenticateReceiver(ctx context.Context, token string) (*models.SSFReceiver, error) {
	if !strings.HasPrefix(token, "ssfr_") || len(token) > 100 {
		return nil, errReceiverToken
	}
	r, err := models.FindSSFReceiverByTokenHash(ctx, s.db, keyHash(token))
	if errors.Is(err, models.ErrNotFound) {
		return nil, errReceiverToken
	}
	return r, err
}

// StreamInput is what a receiver sets on a stream. Nil fields are left as
// they are by an update (PATCH) and take their defaults otherwise.
type StreamInput struct {
	Description     *string
	EventsRequested *[]string
	Delivery        *DeliveryInput
	Format          *string
}

// DeliveryInput is a stream's delivery method: push (RFC 8935) to
// EndpointURL with AuthorizationHeader, or poll (RFC 8936).
type DeliveryInput struct {
	Method              string
	EndpointURL         string
	AuthorizationHeader string
}

// Stream is a stream with what the transmitter supplies.
type Stream struct {
	models.SSFStream
	Audience string
}

// EventsRequested returns the event types the receiver asked for.
func (st Stream) Requested() []string { return requestedOf(&st.SSFStream) }

// EventsDelivered are the requested types authd transmits.
func (st Stream) Delivered() []string {
	var out []string
	for _, e := range st.Requested() {
		if slices.Contains(SSFEventsSupported, e) {
			out = append(out, e)
		}
	}
	return out
}

func requestedOf(st *models.SSFStream) []string {
	var out []string
	_ = json.Unmarshal([]byte(st.EventsRequested), &out)
	return out
}

// CreateStream adds a stream for the receiver. Returns CodeInvalidRequest.
func (s *SSF) CreateStream(ctx context.Context, r *models.SSFReceiver, in StreamInput) (Stream, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Stream{}, err
	}
	now := s.now()
	st := models.SSFStream{ID: id, ReceiverID: r.ID, EventsRequested: "[]", DeliveryMethod: models.SSFDeliveryPoll,
		SubjectFormat: SubjectIssSub, Status: models.SSFStatusEnabled, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(ctx, &st, in); err != nil {
		return Stream{}, err
	}
	if err := models.CreateSSFStream(ctx, s.db, &st); err != nil {
		return Stream{}, err
	}
	return Stream{SSFStream: st, Audience: r.Audience}, nil
}

// findStream returns the receiver's stream of that id, or CodeNotFound
// (also for another receiver's stream).
func findStream(ctx context.Context, tx *gorm.DB, r *models.SSFReceiver, id uuid.UUID) (*models.SSFStream, error) {
	st, err := models.FindSSFStream(ctx, tx, r.ID, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errStreamMissing
	}
	return st, err
}

// Stream returns a stream of the receiver. Returns CodeNotFound.
func (s *SSF) Stream(ctx context.Context, r *models.SSFReceiver, id uuid.UUID) (Stream, error) {
	st, err := findStream(ctx, s.db, r, id)
	if err != nil {
		return Stream{}, err
	}
	return Stream{SSFStream: *st, Audience: r.Audience}, nil
}

// Streams lists the receiver's streams.
func (s *SSF) Streams(ctx context.Context, r *models.SSFReceiver) ([]Stream, error) {
	list, err := models.ListSSFStreams(ctx, s.db, r.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Stream, 0, len(list))
	for _, st := range list {
		out = append(out, Stream{SSFStream: st, Audience: r.Audience})
	}
	return out, nil
}

// UpdateStream changes a stream: the fields set in in (PATCH), or every
// receiver-supplied field (replace, PUT). Returns CodeNotFound or
// CodeInvalidRequest.
func (s *SSF) UpdateStream(ctx context.Context, r *models.SSFReceiver, id uuid.UUID, in StreamInput, replace bool) (Stream, error) {
	var out Stream
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st, err := findStream(ctx, tx, r, id)
		if err != nil {
			return err
		}
		if replace {
			st.Description, st.EventsRequested, st.SubjectFormat = "", "[]", SubjectIssSub
			if in.Delivery == nil {
				in.Delivery = &DeliveryInput{Method: DeliveryPollURN}
			}
		}
		if err := s.apply(ctx, st, in); err != nil {
			return err
		}
		st.UpdatedAt = s.now()
		if err := models.SaveSSFStream(ctx, tx, st); err != nil {
			return err
		}
		out = Stream{SSFStream: *st, Audience: r.Audience}
		return nil
	})
	return out, err
}

// DeleteStream removes a stream and its waiting SETs. Returns CodeNotFound.
func (s *SSF) DeleteStream(ctx context.Context, r *models.SSFReceiver, id uuid.UUID) error {
	var found bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		found, err = models.DeleteSSFStream(ctx, tx, r.ID, id)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return errStreamMissing
	}
	return nil
}

// apply validates in and sets it on st.
func (s *SSF) apply(ctx context.Context, st *models.SSFStream, in StreamInput) error {
	if in.Description != nil {
		if len(*in.Description) > 200 || strings.ContainsAny(*in.Description, "\r\n\x00") {
			return Errorf(CodeInvalidRequest, "description must be one line of at most 200 characters.")
		}
		st.Description = *in.Description
	}
	if in.EventsRequested != nil {
		ev := *in.EventsRequested
		if len(ev) > 50 {
			return Errorf(CodeInvalidRequest, "events_requested holds at most 50 event types.")
		}
		for _, e := range ev {
			if u, err := url.Parse(e); err != nil || u.Scheme == "" || len(e) > 300 {
				return Errorf(CodeInvalidRequest, "events_requested must be event type URIs such as %s.", CAEPSessionRevoked)
			}
		}
		if ev == nil {
			ev = []string{}
		}
		b, _ := json.Marshal(slices.Compact(slices.Sorted(slices.Values(ev))))
		st.EventsRequested = string(b)
	}
	if in.Format != nil {
		switch *in.Format {
		case SubjectIssSub, SubjectEmail:
			st.SubjectFormat = *in.Format
		default:
			return Errorf(CodeInvalidRequest, "format must be iss_sub or email.")
		}
	}
	if d := in.Delivery; d != nil {
		switch d.Method {
		case DeliveryPollURN:
			if d.EndpointURL != "" || d.AuthorizationHeader != "" {
				return Errorf(CodeInvalidRequest, "A poll stream's endpoint_url is supplied by the transmitter; leave endpoint_url and authorization_header out.")
			}
			st.DeliveryMethod, st.EndpointURL, st.AuthorizationHeader = models.SSFDeliveryPoll, "", ""
		case DeliveryPushURN:
			if s.push == nil {
				return Errorf(CodeInvalidRequest, "This transmitter delivers by poll only (%s).", DeliveryPollURN)
			}
			if err := s.checkPushURL(ctx, d.EndpointURL); err != nil {
				return err
			}
			if len(d.AuthorizationHeader) > 1000 || strings.ContainsAny(d.AuthorizationHeader, "\r\n\x00") {
				return Errorf(CodeInvalidRequest, "authorization_header must be one header value of at most 1000 characters.")
			}
			st.DeliveryMethod, st.EndpointURL, st.AuthorizationHeader = models.SSFDeliveryPush, d.EndpointURL, d.AuthorizationHeader
		default:
			return Errorf(CodeInvalidRequest, "delivery.method must be %s (push) or %s (poll).", DeliveryPushURN, DeliveryPollURN)
		}
	}
	return nil
}

func (s *SSF) checkPushURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2000 ||
		(u.Scheme != "https" && u.Scheme != "http") {
		return Errorf(CodeInvalidRequest, "delivery.endpoint_url must be an absolute https URL.")
	}
	if s.cfg.RequireHTTPS && u.Scheme != "https" {
		return Errorf(CodeInvalidRequest, "delivery.endpoint_url must be https in production.")
	}
	if s.cfg.CheckEndpoint != nil {
		if err := s.cfg.CheckEndpoint(ctx, u.Hostname()); err != nil {
			return Errorf(CodeInvalidRequest, "delivery.endpoint_url is not allowed: %v.", err)
		}
	}
	return nil
}

// StreamStatus is a stream's status (SSF 1.0 §8.1.2).
type StreamStatus struct {
	StreamID uuid.UUID
	Status   string
	Reason   string
}

// SetStatus enables, pauses or disables a stream, and tells the stream
// with a stream-updated SET. A paused stream holds its SETs until it is
// enabled again; a disabled one gets none. Returns CodeNotFound or
// CodeInvalidRequest.
func (s *SSF) SetStatus(ctx context.Context, r *models.SSFReceiver, id uuid.UUID, status, reason string) (StreamStatus, error) {
	switch status {
	case models.SSFStatusEnabled, models.SSFStatusPaused, models.SSFStatusDisabled:
	default:
		return StreamStatus{}, Errorf(CodeInvalidRequest, "status must be enabled, paused or disabled.")
	}
	if len(reason) > 200 || strings.ContainsAny(reason, "\r\n\x00") {
		return StreamStatus{}, Errorf(CodeInvalidRequest, "reason must be one line of at most 200 characters.")
	}
	var out StreamStatus
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st, err := findStream(ctx, tx, r, id)
		if err != nil {
			return err
		}
		changed := st.Status != status
		st.Status, st.StatusReason, st.UpdatedAt = status, reason, s.now()
		if err := models.SaveSSFStream(ctx, tx, st); err != nil {
			return err
		}
		out = StreamStatus{StreamID: st.ID, Status: st.Status, Reason: st.StatusReason}
		if !changed {
			return nil
		}
		body := map[string]any{"status": status}
		if reason != "" {
			body["reason"] = reason
		}
		return s.deliver(ctx, tx, models.SSFStreamTarget{SSFStream: *st, Audience: r.Audience},
			streamSubject(st.ID), map[string]any{SSFStreamUpdated: body}, "", true)
	})
	return out, err
}

// Verify sends a verification SET carrying state to the stream (SSF 1.0
// §8.1.4). Returns CodeNotFound or CodeInvalidRequest (a disabled stream).
func (s *SSF) Verify(ctx context.Context, r *models.SSFReceiver, id uuid.UUID, state string) error {
	if len(state) > 500 {
		return Errorf(CodeInvalidRequest, "state must be at most 500 characters.")
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st, err := findStream(ctx, tx, r, id)
		if err != nil {
			return err
		}
		if st.Status == models.SSFStatusDisabled {
			return Errorf(CodeInvalidRequest, "The stream is disabled; enable it before verifying it.")
		}
		body := map[string]any{}
		if state != "" {
			body["state"] = state
		}
		return s.deliver(ctx, tx, models.SSFStreamTarget{SSFStream: *st, Audience: r.Audience},
			streamSubject(st.ID), map[string]any{SSFVerification: body}, "", false)
	})
}

func streamSubject(id uuid.UUID) map[string]any {
	return map[string]any{"format": "opaque", "id": id.String()}
}

// setClaims are the claims of a SET (RFC 8417 §2.2, SSF 1.0 §4).
type setClaims struct {
	Iss    string         `json:"iss"`
	Aud    string         `json:"aud"`
	Iat    int64          `json:"iat"`
	Jti    string         `json:"jti"`
	Txn    string         `json:"txn,omitempty"`
	SubID  map[string]any `json:"sub_id"`
	Events map[string]any `json:"events"`
}

// deliver signs one SET for st and queues it: in ssf_poll_sets for a poll
// stream, on the push queue for a push stream, both in tx. always delivers
// to a disabled stream too (its own stream-updated SET).
func (s *SSF) deliver(ctx context.Context, tx *gorm.DB, st models.SSFStreamTarget, sub map[string]any, events map[string]any, txn string, always bool) error {
	if st.Status == models.SSFStatusDisabled && !always {
		return nil
	}
	set, jti, err := s.sign(st.Audience, sub, events, txn)
	if err != nil {
		return err
	}
	if st.DeliveryMethod == models.SSFDeliveryPoll {
		return models.InsertSSFPollSET(ctx, tx, &models.SSFPollSET{StreamID: st.ID, JTI: jti, SetJWT: set, CreatedAt: s.now()})
	}
	if s.push == nil {
		return fmt.Errorf("ssf stream %s: push delivery is not wired", st.ID)
	}
	return s.push.QueuePush(ctx, tx, []PushSET{{StreamID: st.ID, JTI: jti, SET: set}})
}

func (s *SSF) sign(aud string, sub, events map[string]any, txn string) (set, jti string, err error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", "", err
	}
	jti = id.String()
	payload, err := json.Marshal(setClaims{Iss: s.cfg.Issuer, Aud: aud, Iat: s.now().Unix(), Jti: jti, Txn: txn, SubID: sub, Events: events})
	if err != nil {
		return "", "", fmt.Errorf("SET claims: %w", err)
	}
	set, err = s.key.Sign(payload)
	return set, jti, err
}

// Enqueue queues the SETs of ev for every stream that requested its CAEP
// event type, in tx, the transaction that records ev. It is an Events
// enqueuer: a failure rolls the change back.
func (s *SSF) Enqueue(ctx context.Context, tx *gorm.DB, ev *models.SecurityEvent) error {
	eventType, body := caepEvent(ev)
	if eventType == "" || ev.UserID == nil {
		return nil
	}
	streams, err := models.DeliveringSSFStreams(ctx, tx)
	if err != nil {
		return err
	}
	var user *models.User
	for _, st := range streams {
		if !slices.Contains(requestedOf(&st.SSFStream), eventType) {
			continue
		}
		if user == nil && st.SubjectFormat == SubjectEmail {
			if user, err = models.FindUserByID(ctx, tx, *ev.UserID); err != nil {
				return fmt.Errorf("ssf subject: %w", err)
			}
		}
		sub := s.userSubject(st.SubjectFormat, *ev.UserID, user)
		if eventType == CAEPSessionRevoked && ev.SessionID != nil {
			sub = map[string]any{"format": "complex", "user": sub,
				"session": map[string]any{"format": "opaque", "id": ev.SessionID.String()}}
		}
		if err := s.deliver(ctx, tx, st, sub, map[string]any{eventType: body}, ev.ID.String(), false); err != nil {
			return err
		}
	}
	return nil
}

func (s *SSF) userSubject(format string, id uuid.UUID, u *models.User) map[string]any {
	if format == SubjectEmail && u != nil {
		return map[string]any{"format": "email", "email": u.Email}
	}
	return map[string]any{"format": "iss_sub", "iss": s.cfg.SubjectIssuer, "sub": id.String()}
}

// caepEvent maps a security event to its CAEP event type and body (none
// for events authd does not transmit). A role change is token-claims-change
// with the new role: CAEP's assurance-level-change speaks of authentication
// assurance (NIST AAL and the like), not of what the user may do, which is
// the role claim of authd's access tokens.
func caepEvent(ev *models.SecurityEvent) (string, map[string]any) {
	ts := ev.CreatedAt.Unix()
	switch ev.Type {
	case models.EventSessionRevoked:
		body := map[string]any{"event_timestamp": ts, "initiating_entity": initiatingEntity(ev.Reason)}
		if ev.Reason != "" {
			body["reason_admin"] = map[string]string{"en": ev.Reason}
		}
		return CAEPSessionRevoked, body
	case models.EventPasswordChanged:
		return CAEPCredentialChange, map[string]any{"event_timestamp": ts, "credential_type": "password",
			"change_type": "update", "initiating_entity": "user"}
	case models.EventRoleChanged:
		var d struct {
			NewRole string `json:"new_role"`
		}
		_ = json.Unmarshal([]byte(ev.Details), &d)
		entity := "admin"
		if ev.ActorUserID == nil {
			entity = "system"
		}
		return CAEPTokenClaimsChange, map[string]any{"event_timestamp": ts, "initiating_entity": entity,
			"claims": map[string]any{"role": d.NewRole}}
	}
	return "", nil
}

// initiatingEntity is CAEP's initiating_entity of a revocation reason.
func initiatingEntity(reason string) string {
	switch reason {
	case models.ReasonAdminRevoked:
		return "admin"
	case models.ReasonReuseDetected, models.ReasonSessionLimit:
		return "policy"
	case "":
		return "system"
	default:
		return "user"
	}
}

// PollRequest is an RFC 8936 poll: acknowledgements, errors the receiver
// reports on SETs it got, and how many new SETs it wants.
type PollRequest struct {
	Ack               []string
	SetErrs           []string // the jtis of setErrs: acknowledged as well
	MaxEvents         *int
	ReturnImmediately bool
}

// PollResult is the answer of a poll.
type PollResult struct {
	SETs          map[string]string
	MoreAvailable bool
}

// maxPollEvents bounds the SETs of one poll answer.
const maxPollEvents = 1000

// Poll acknowledges SETs and returns the next waiting ones, oldest first
// (RFC 8936 §2.4). Without returnImmediately it waits up to PollWait for a
// SET. A paused stream answers none (it holds them). Returns CodeNotFound
// or CodeInvalidRequest.
func (s *SSF) Poll(ctx context.Context, r *models.SSFReceiver, id uuid.UUID, req PollRequest) (PollResult, error) {
	st, err := findStream(ctx, s.db, r, id)
	if err != nil {
		return PollResult{}, err
	}
	if st.DeliveryMethod != models.SSFDeliveryPoll {
		return PollResult{}, Errorf(CodeInvalidRequest, "This stream delivers by push; poll a stream whose delivery method is %s.", DeliveryPollURN)
	}
	n := 100
	if req.MaxEvents != nil {
		n = *req.MaxEvents
	}
	if n < 0 || n > maxPollEvents {
		return PollResult{}, Errorf(CodeInvalidRequest, "maxEvents must be from 0 to %d.", maxPollEvents)
	}
	acks := append(append([]string(nil), req.Ack...), req.SetErrs...)
	if len(acks) > maxPollEvents {
		return PollResult{}, Errorf(CodeInvalidRequest, "At most %d SETs can be acknowledged at once.", maxPollEvents)
	}
	if err := models.AckSSFPollSETs(ctx, s.db, id, acks); err != nil {
		return PollResult{}, err
	}
	out := PollResult{SETs: map[string]string{}}
	if n == 0 || st.Status != models.SSFStatusEnabled {
		return out, nil
	}
	deadline := time.Now().Add(s.cfg.PollWait)
	for {
		rows, err := models.PendingSSFPollSETs(ctx, s.db, id, n+1)
		if err != nil {
			return PollResult{}, err
		}
		if len(rows) > 0 || req.ReturnImmediately || !time.Now().Before(deadline) {
			for i, row := range rows {
				if i == n {
					out.MoreAvailable = true
					break
				}
				out.SETs[row.JTI] = row.SetJWT
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
