package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// User agents of four families (browser/OS as the devices page names
// them); uaChrome125 is another version of uaChrome's family.
const (
	uaChrome    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaChrome125 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.60 Safari/537.36"
	uaFirefox   = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaSafari    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaEdgeMac   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80"
)

// newDeviceFixture signs one user in, again and again, with the
// new-device rule on (a 24-hour window, shorter than the sessions' idle
// timeout and lifetime) and a clock of its own.
type newDeviceFixture struct {
	db       *models.DB
	clock    *apitest.Clock
	sessions *services.Sessions
	user     *models.User
	started  []uuid.UUID
	last     services.TokenPair // of the latest signIn
}

const newDeviceWindow = 24 * time.Hour

func newNewDeviceFixture(t *testing.T, db *models.DB) *newDeviceFixture {
	t.Helper()
	clock := apitest.NewClock()
	set := services.NewRevocations(db.DB, 15*time.Minute, clock.Now)
	tokens, err := services.NewTokens(services.TokenConfig{Secret: []byte("test-secret-0123456789abcdef-0123456789"),
		Issuer: "authd", Audience: "authd", AccessTTL: 15 * time.Minute}, set, clock.Now)
	testdb.Must(t, err)
	hasher, err := services.NewHasher(4, 2, time.Second, 19)
	testdb.Must(t, err)
	events := services.NewEvents(clock.Now)
	ses := services.NewSessions(db.DB, services.NewRotationStore(db, false), services.SessionConfig{RefreshTTL: 48 * time.Hour,
		MaxAge: 7 * 24 * time.Hour, ReuseGrace: 10 * time.Second, MaxSessions: 100, NewDeviceWindow: newDeviceWindow},
		tokens, events, set, &testPublisher{}, make([]byte, 32), clock.Now)
	acc := services.NewAccounts(db.DB, services.AccountConfig{MinPasswordLength: 12, SignupEnabled: true}, hasher, events, ses, clock.Now)
	u, err := acc.CreateUser(context.Background(), "newdevice-"+uuid.NewString()[:8]+"@example.com", "correct horse battery staple 42", "user")
	testdb.Must(t, err)
	return &newDeviceFixture{db: db, clock: clock, sessions: ses, user: u}
}

// signIn starts a session from ua and prefix (known: with a live device
// token) and returns what its new_device_login event says was new, nil
// when the sign-in recorded none.
func (f *newDeviceFixture) signIn(t *testing.T, ua, prefix string, known bool) []string {
	t.Helper()
	f.clock.Advance(time.Second)
	ctx := context.Background()
	pair, err := f.sessions.Start(ctx, f.user, services.StartOptions{KnownDevice: known}, services.Meta{IPPrefix: prefix, UserAgent: ua})
	testdb.Must(t, err)
	f.started, f.last = append(f.started, pair.SessionID), pair
	evs, err := models.ListSecurityEvents(ctx, f.db.DB, models.EventFilter{Type: services.EventNewDeviceLogin, SessionID: &pair.SessionID})
	testdb.Must(t, err)
	switch len(evs) {
	case 0:
		return nil
	case 1:
	default:
		t.Fatalf("%d new_device_login events for one sign-in", len(evs))
	}
	ev := evs[0]
	if ev.UserID == nil || *ev.UserID != f.user.ID || ev.IPPrefix != prefix || ev.UserAgent != ua {
		t.Fatalf("new_device_login = %+v, want the user, the prefix %s and the user agent", ev, prefix)
	}
	var details struct {
		Device, Browser, OS string
		New                 []string
	}
	if err := json.Unmarshal([]byte(ev.Details), &details); err != nil {
		t.Fatalf("details %q: %v", ev.Details, err)
	}
	if details.Device == "" || details.Browser == "" || details.OS == "" || len(details.New) == 0 {
		t.Fatalf("new_device_login details = %s, want device, browser, os and what was new", ev.Details)
	}
	return details.New
}

func (f *newDeviceFixture) expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		if want == nil {
			t.Errorf("%s: new_device_login with new = %v, want no alert", what, got)
		} else {
			t.Errorf("%s: new = %v, want %v", what, got, want)
		}
	}
}

// TestNewDevice_Rule checks each branch of the documented rule (docs/API.md
// "New-device sign-ins"): a password sign-in records new_device_login when
// it presents no live device token, the account signed in before, and its
// user-agent family or its IP prefix is not among those of the account's
// sign-ins and sessions of the window. Family and prefix count each on its
// own, and `new` names which of them were new.
func TestNewDevice_Rule(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newNewDeviceFixture(t, db)
		const home, office, cafe = "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"
		const v6 = "2001:db8:7::/48"

		f.expect(t, "the account's first sign-in", f.signIn(t, uaChrome, home, false))
		f.expect(t, "known family (another version) and known prefix", f.signIn(t, uaChrome125, home, false))
		f.expect(t, "known family, new prefix", f.signIn(t, uaChrome, office, false), "ip_prefix")
		f.expect(t, "that prefix again: known now", f.signIn(t, uaChrome, office, false))
		f.expect(t, "new family, known prefix", f.signIn(t, uaFirefox, home, false), "user_agent")
		f.expect(t, "known family and known prefix, never seen together", f.signIn(t, uaFirefox, office, false))
		f.expect(t, "new family and new prefix", f.signIn(t, uaSafari, cafe, false), "user_agent", "ip_prefix")
		f.expect(t, "known family, new IPv6 /48", f.signIn(t, uaChrome, v6, false), "ip_prefix")
		f.expect(t, "with a live device token, from a new family and prefix", f.signIn(t, uaEdgeMac, "100.64.9.0/24", true))
		// That sign-in's session makes its family and prefix known.
		f.expect(t, "the same device without the token", f.signIn(t, uaEdgeMac, "100.64.9.0/24", false))
	})
}

// TestNewDevice_KnownFromSignInsAfterSessionsArePruned: the rule also
// knows a family and a prefix from the account's login_succeeded events,
// so a sign-in after the sessions ended and were deleted by retention does
// not alert; one after the window has passed does, for both.
func TestNewDevice_KnownFromSignInsAfterSessionsArePruned(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newNewDeviceFixture(t, db)
		ctx := context.Background()
		const home, office = "192.0.2.0/24", "198.51.100.0/24"
		f.expect(t, "first sign-in", f.signIn(t, uaChrome, home, false))
		f.expect(t, "new prefix", f.signIn(t, uaFirefox, office, false), "user_agent", "ip_prefix")

		for _, id := range f.started {
			_, err := f.sessions.Revoke(ctx, id, models.ReasonLogout, nil, services.Meta{})
			testdb.Must(t, err)
		}
		f.clock.Advance(time.Minute)
		ret := services.NewRetention(db.DB, services.RetentionConfig{SessionRetention: time.Second, RefreshTTL: 48 * time.Hour},
			slog.New(slog.NewTextHandler(io.Discard, nil)), f.clock.Now)
		_, err := ret.RunOnce(ctx)
		testdb.Must(t, err)
		if n := testdb.Count(t, db, "SELECT count(*) FROM sessions WHERE user_id = ?", f.user.ID); n != 0 {
			t.Fatalf("%d sessions left after retention, want none (the check must rely on the sign-ins)", n)
		}
		f.expect(t, "known from the sign-ins only", f.signIn(t, uaFirefox, home, false))
		f.expect(t, "the other pair, from the sign-ins only", f.signIn(t, uaChrome, office, false))

		f.clock.Advance(newDeviceWindow + time.Hour)
		f.expect(t, fmt.Sprintf("last seen more than %s ago", newDeviceWindow), f.signIn(t, uaChrome, home, false), "user_agent", "ip_prefix")
	})
}

// TestNewDevice_KnownFromARecentlyUsedSession: a session used within the
// window makes its family and its latest IP prefix (a refresh moves it)
// known even when its sign-in is older than the window; without that use,
// the same sign-in alerts.
func TestNewDevice_KnownFromARecentlyUsedSession(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		const home, office = "192.0.2.0/24", "198.51.100.0/24"
		for _, used := range []bool{true, false} {
			f := newNewDeviceFixture(t, db)
			f.expect(t, "first sign-in", f.signIn(t, uaChrome, home, false))
			f.clock.Advance(newDeviceWindow * 5 / 6)
			if used {
				_, err := f.sessions.Refresh(context.Background(), f.last.RefreshToken, services.Meta{IPPrefix: office, UserAgent: uaChrome})
				testdb.Must(t, err)
			}
			f.clock.Advance(newDeviceWindow * 5 / 6) // the sign-in is out of the window, the refresh is not
			if used {
				f.expect(t, "the family and the prefix of a session used in the window", f.signIn(t, uaChrome, office, false))
			} else {
				f.expect(t, "the session was not used in the window", f.signIn(t, uaChrome, office, false), "user_agent", "ip_prefix")
			}
		}
	})
}
