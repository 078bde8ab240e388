package services_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// family describes the stored state of one refresh token: its session, the
// token itself and, once rotated, its child. Durations are relative to the
// time of the refresh.
type family struct {
	sessionLeft    time.Duration // until the session's absolute expiry
	sessionRevoked bool
	tokenLeft      time.Duration // until the token's idle expiry
	tokenRevoked   bool
	rotatedAgo     *time.Duration // nil: never rotated
	childLeft      time.Duration
	childUsed      bool
	childRevoked   bool
}

func dur(d time.Duration) *time.Duration { return &d }

// The rows of the decision table as stored state, each through the store of
// both dialects: the same cases, the same answers, the same writes.
var storeCases = []struct {
	name string
	f    family
	want services.DecisionKind
}{
	{"live token rotates", family{sessionLeft: 2 * time.Hour, tokenLeft: time.Hour}, services.Rotate},
	{"child capped at the session's end", family{sessionLeft: time.Minute, tokenLeft: time.Minute}, services.Rotate},
	{"revoked session", family{sessionLeft: 2 * time.Hour, sessionRevoked: true, tokenLeft: time.Hour, tokenRevoked: true}, services.Revoked},
	{"revoked session, rotated token", family{sessionLeft: 2 * time.Hour, sessionRevoked: true, tokenLeft: time.Hour,
		rotatedAgo: dur(time.Second), childLeft: time.Hour, childRevoked: true}, services.Reuse},
	{"session past its absolute lifetime", family{sessionLeft: -time.Second, tokenLeft: -time.Second}, services.Expired},
	{"session ending at this instant", family{sessionLeft: 0, tokenLeft: 0}, services.Expired},
	{"token past its idle lifetime", family{sessionLeft: 2 * time.Hour, tokenLeft: -time.Second}, services.Expired},
	{"token ending at this instant", family{sessionLeft: 2 * time.Hour, tokenLeft: 0}, services.Expired},
	{"retry within grace", family{sessionLeft: 2 * time.Hour, tokenLeft: time.Hour, rotatedAgo: dur(9 * time.Second), childLeft: time.Hour}, services.Retry},
	{"retry at the grace edge is reuse", family{sessionLeft: 2 * time.Hour, tokenLeft: time.Hour, rotatedAgo: dur(10 * time.Second), childLeft: time.Hour}, services.Reuse},
	{"retry after its child was used is reuse", family{sessionLeft: 2 * time.Hour, tokenLeft: time.Hour, rotatedAgo: dur(time.Second), childLeft: time.Hour, childUsed: true}, services.Reuse},
	{"retry with an expired child is reuse", family{sessionLeft: 2 * time.Hour, tokenLeft: time.Hour, rotatedAgo: dur(time.Second), childLeft: 0}, services.Reuse},
	{"rotated long ago is reuse", family{sessionLeft: 2 * time.Hour, tokenLeft: -time.Minute, rotatedAgo: dur(time.Hour), childLeft: time.Hour}, services.Reuse},
}

const storeGrace = 10 * time.Second

// seeded is a stored family.
type seeded struct {
	user      *models.User
	sessionID uuid.UUID
	tokenID   uuid.UUID
	childID   uuid.UUID // of the existing child, if rotated
	lastUsed  time.Time
}

func seedFamily(t *testing.T, db *models.DB, f family, now time.Time) seeded {
	t.Helper()
	ctx := context.Background()
	u := &models.User{ID: uuid.New(), Email: "store-" + uuid.NewString()[:8] + "@example.com", PasswordHash: "x", Role: "user",
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	testdb.Must(t, models.CreateUser(ctx, db.DB, u))
	sd := seeded{user: u, sessionID: uuid.New(), tokenID: uuid.New(), lastUsed: now.Add(-time.Hour)}
	testdb.Must(t, models.CreateSession(ctx, db.DB, &models.Session{ID: sd.sessionID, UserID: u.ID, ClientID: "app",
		DeviceName: "d", UserAgent: "first-agent", IPPrefix: "192.0.2.0/24",
		CreatedAt: now.Add(-time.Hour), LastUsedAt: sd.lastUsed, ExpiresAt: now.Add(f.sessionLeft)}))
	testdb.Must(t, models.CreateRefreshToken(ctx, db.DB, &models.RefreshToken{ID: sd.tokenID, SessionID: sd.sessionID,
		SecretHash: []byte("parent-hash"), IPPrefix: "192.0.2.0/24", UserAgent: "first-agent",
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(f.tokenLeft)}))
	if f.rotatedAgo != nil {
		sd.childID = uuid.New()
		parent := sd.tokenID
		testdb.Must(t, models.RotateRefreshToken(ctx, db.DB, &models.RefreshToken{ID: sd.childID, SessionID: sd.sessionID,
			ParentID: &parent, Generation: 1, SecretHash: []byte("child-hash"), IPPrefix: "198.51.100.0/24", UserAgent: "second-agent",
			CreatedAt: now.Add(-*f.rotatedAgo), ExpiresAt: now.Add(f.childLeft)}))
		if f.childUsed {
			testdb.Must(t, db.Exec("UPDATE refresh_tokens SET rotated_at = ?, child_id = ? WHERE id = ?", now, uuid.New(), sd.childID).Error)
		}
		if f.childRevoked {
			testdb.Must(t, db.Exec("UPDATE refresh_tokens SET revoked_at = ? WHERE id = ?", now.Add(-time.Minute), sd.childID).Error)
		}
	}
	if f.sessionRevoked {
		testdb.Must(t, db.Exec("UPDATE sessions SET revoked_at = ?, revoke_reason = 'logout' WHERE id = ?", now.Add(-time.Minute), sd.sessionID).Error)
	}
	if f.tokenRevoked {
		testdb.Must(t, db.Exec("UPDATE refresh_tokens SET revoked_at = ? WHERE id = ?", now.Add(-time.Minute), sd.tokenID).Error)
	}
	return sd
}

// storeRequest is the refresh of sd at now from a third place.
func storeRequest(sd seeded, now time.Time, events *services.Events) services.RefreshRequest {
	hash := sha256.Sum256([]byte("new-child"))
	return services.RefreshRequest{TokenID: sd.tokenID, Now: now, ChildID: uuid.New(), ChildHash: hash[:], RefreshTTL: time.Hour,
		IPPrefix: "203.0.113.0/24", UserAgent: "third-agent", Record: events.Record}
}

// decideRecording is Decide with the grace of the suite; it keeps every
// state it was asked about and gives a retry an event to record.
func decideRecording(seen *[]services.RefreshState) func(services.RefreshState) services.Decision {
	return func(st services.RefreshState) services.Decision {
		*seen = append(*seen, st)
		d := services.Decide(st.Token, st.Session, st.Now, storeGrace)
		if d.Kind == services.Retry {
			d.Event = &models.SecurityEvent{Type: models.EventRefreshRetryMismatch, SessionID: &st.Session.ID}
		}
		return d
	}
}

func storeNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func TestRotationStore_Contract(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		store := services.NewRotationStore(db, false)
		events := services.NewEvents(services.SystemClock)
		ctx := context.Background()
		for _, tc := range storeCases {
			t.Run(tc.name, func(t *testing.T) {
				now := storeNow()
				sd := seedFamily(t, db, tc.f, now)
				req := storeRequest(sd, now, events)
				var seen []services.RefreshState
				res, err := store.Refresh(ctx, req, decideRecording(&seen))
				if err != nil {
					t.Fatalf("Refresh() error = %v", err)
				}
				if res.Decision.Kind != tc.want {
					t.Fatalf("Refresh() decided %v, want %v", res.Decision.Kind, tc.want)
				}
				if len(seen) == 0 || !seen[len(seen)-1].Now.Equal(now) || seen[len(seen)-1].Token.ID != sd.tokenID {
					t.Fatalf("decide saw %+v, want the state of %s at %v", seen, sd.tokenID, now)
				}
				if got := res.State.Token.Child != nil; got != (tc.f.rotatedAgo != nil) {
					t.Fatalf("the state has a child: %v, want %v", got, tc.f.rotatedAgo != nil)
				}
				tokens := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ?", sd.sessionID)
				touched := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE id = ? AND ip_prefix = '203.0.113.0/24'", sd.sessionID)
				evs := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE session_id = ?", sd.sessionID)
				before := int64(1)
				if tc.f.rotatedAgo != nil {
					before = 2
				}
				switch tc.want {
				case services.Rotate:
					if tokens != before+1 || touched != 1 || evs != 0 {
						t.Fatalf("rotate wrote %d tokens (want %d), touched %d sessions (want 1), %d events (want 0)", tokens, before+1, touched, evs)
					}
					wantExpiry := now.Add(time.Hour)
					if end := now.Add(tc.f.sessionLeft); end.Before(wantExpiry) {
						wantExpiry = end
					}
					if !res.ChildExpiresAt.Equal(wantExpiry) {
						t.Fatalf("child expires at %v, want %v (the idle lifetime capped at the session's end)", res.ChildExpiresAt, wantExpiry)
					}
					if n := testdb.Count(t, db, `SELECT count(*) FROM refresh_tokens p JOIN refresh_tokens c ON c.parent_id = p.id
						WHERE p.id = ? AND p.child_id = ? AND c.id = ? AND p.rotated_at = ? AND c.generation = 1
						AND c.ip_prefix = '203.0.113.0/24' AND c.user_agent = 'third-agent' AND c.expires_at = ?`,
						sd.tokenID, req.ChildID, req.ChildID, now, wantExpiry); n != 1 {
						t.Fatal("the parent is not marked rotated at now with its child, or the child is not the request's")
					}
					if res.Head.ID != sd.sessionID || res.Head.UserID != sd.user.ID || res.Head.Email != sd.user.Email || res.Head.ClientID != "app" {
						t.Fatalf("Head = %+v, want session %s of %s", res.Head, sd.sessionID, sd.user.Email)
					}
				case services.Retry:
					if tokens != before || touched != 1 || evs != 1 {
						t.Fatalf("retry: %d tokens (want %d), %d touched (want 1), %d events (want 1)", tokens, before, touched, evs)
					}
					if c := res.State.Token.Child; c.ID != sd.childID || c.IPPrefix != "198.51.100.0/24" || c.UserAgent != "second-agent" {
						t.Fatalf("retry child = %+v, want %s with the first use's prefix and user agent", c, sd.childID)
					}
					if res.Head.ID != sd.sessionID || res.Head.UserID != sd.user.ID {
						t.Fatalf("Head = %+v, want session %s", res.Head, sd.sessionID)
					}
				default:
					if tokens != before || touched != 0 || evs != 0 {
						t.Fatalf("%v wrote something: %d tokens (want %d), %d touched, %d events", tc.want, tokens, before, touched, evs)
					}
				}
			})
		}
		t.Run("unknown token is invalid without a decision", func(t *testing.T) {
			called := false
			res, err := store.Refresh(ctx, services.RefreshRequest{TokenID: uuid.New(), Now: storeNow(), ChildID: uuid.New()},
				func(services.RefreshState) services.Decision {
					called = true
					return services.Decision{Kind: services.Rotate}
				})
			if err != nil || res.Decision.Kind != services.Invalid || called {
				t.Fatalf("Refresh(unknown) = %v, %v, decide called %v; want Invalid, no error, not called", res.Decision.Kind, err, called)
			}
		})
		t.Run("an invalid decision writes nothing", func(t *testing.T) {
			now := storeNow()
			sd := seedFamily(t, db, storeCases[0].f, now)
			res, err := store.Refresh(ctx, storeRequest(sd, now, events),
				func(services.RefreshState) services.Decision { return services.Decision{Kind: services.Invalid} })
			if err != nil || res.Decision.Kind != services.Invalid {
				t.Fatalf("Refresh() = %v, %v; want Invalid", res.Decision.Kind, err)
			}
			if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ?", sd.sessionID); n != 1 {
				t.Fatalf("%d tokens after an invalid refresh, want 1", n)
			}
			if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE id = ? AND last_used_at = ?", sd.sessionID, sd.lastUsed); n != 1 {
				t.Fatal("an invalid refresh touched the session")
			}
		})
	})
}

// The SQL of PostgreSQL's one-statement rotation encodes Decide's Rotate
// row (models/rotate_postgres.go): run on each row of the table, it rotates
// exactly where Decide says Rotate.
func TestRotateInOneStatement_AgreesWithDecide(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	for _, tc := range storeCases {
		t.Run(tc.name, func(t *testing.T) {
			now := storeNow()
			sd := seedFamily(t, db, tc.f, now)
			hash := sha256.Sum256([]byte("x"))
			_, rotated, err := models.RotateInOneStatement(ctx, db, models.RotateParams{TokenID: sd.tokenID, ChildID: uuid.New(),
				Now: now, ChildHash: hash[:], ChildExpiresAt: now.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want == services.Rotate; rotated != want {
				t.Fatalf("RotateInOneStatement() rotated = %v; Decide says %v", rotated, tc.want)
			}
		})
	}
}

// On PostgreSQL the decision is made on a plain read first. A concurrent
// winner that rotates the token after that read makes the one statement
// rotate nothing; the store then decides again under the session's lock,
// and the loser gets the winner's child (within grace), or reuse (without).
func TestPostgresRotations_LostRaceIsDecidedAgainUnderTheLock(t *testing.T) {
	db := testdb.Postgres(t)
	store := services.NewPostgresRotations(db, false)
	events := services.NewEvents(services.SystemClock)
	ctx := context.Background()
	for _, tc := range []struct {
		grace time.Duration
		want  services.DecisionKind
	}{{storeGrace, services.Retry}, {0, services.Reuse}} {
		now := storeNow()
		sd := seedFamily(t, db, storeCases[0].f, now)
		winner := uuid.New()
		var kinds []services.DecisionKind
		res, err := store.Refresh(ctx, storeRequest(sd, now, events), func(st services.RefreshState) services.Decision {
			if len(kinds) == 0 { // the winner commits between the read and the statement
				parent := sd.tokenID
				testdb.Must(t, models.RotateRefreshToken(ctx, db.DB, &models.RefreshToken{ID: winner, SessionID: sd.sessionID,
					ParentID: &parent, Generation: 1, SecretHash: []byte("w"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
			}
			d := services.Decide(st.Token, st.Session, st.Now, tc.grace)
			kinds = append(kinds, d.Kind)
			return d
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(kinds) != 2 || kinds[0] != services.Rotate || res.Decision.Kind != tc.want {
			t.Fatalf("grace %v: decisions %v, applied %v; want [rotated %v] and %v", tc.grace, kinds, res.Decision.Kind, tc.want, tc.want)
		}
		if tc.want == services.Retry && res.State.Token.Child.ID != winner {
			t.Fatalf("the loser's retry answers child %s, want the winner's %s", res.State.Token.Child.ID, winner)
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM refresh_tokens WHERE session_id = ?", sd.sessionID); n != 2 {
			t.Fatalf("%d tokens in the family, want 2 (no fork)", n)
		}
	}
}

// With database time the PostgreSQL store decides on the database's clock,
// whatever the caller's clock says (FI-8).
func TestPostgresRotations_DatabaseTime(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	now := storeNow()
	sd := seedFamily(t, db, storeCases[0].f, now)
	req := storeRequest(sd, now.Add(3*time.Hour), services.NewEvents(services.SystemClock)) // a clock 3 h ahead: past every expiry
	var seen []services.RefreshState
	res, err := services.NewPostgresRotations(db, true).Refresh(ctx, req, decideRecording(&seen))
	if err != nil || res.Decision.Kind != services.Rotate {
		t.Fatalf("Refresh() on database time = %v, %v; want Rotate", res.Decision.Kind, err)
	}
	if d := res.State.Now.Sub(now); d < -time.Minute || d > time.Minute {
		t.Fatalf("decided at %v, want the database's time near %v", res.State.Now, now)
	}
}
