package pgfeed

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/platform/feedtest"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

func TestFeed_Contract(t *testing.T) {
	feedtest.Run(t, func(t *testing.T) feedtest.Feed {
		ctx := context.Background()
		url := testdb.PostgresURL(t)
		db, err := models.Open(models.Options{URL: url})
		testdb.Must(t, err)
		t.Cleanup(func() { db.Close() })
		testdb.Must(t, db.Migrate(ctx))
		ch, err := Channel(ctx, db.DB)
		testdb.Must(t, err)
		// Another instance's set, filled only by its feed.
		remote := services.NewRevocations(db.DB, 15*time.Minute, services.SystemClock)
		feed, err := New(url, ch, remote, slog.New(slog.NewTextHandler(io.Discard, nil)))
		testdb.Must(t, err)
		feed.Start(ctx)
		t.Cleanup(feed.Stop)
		if remote.Fallback() || feed.PID() == 0 {
			t.Fatal("the feed did not connect")
		}
		return feedtest.Feed{DB: db.DB, Pub: feed, Remote: remote}
	})
}

// TestPayloads: a change is one notification unless its ids do not fit in
// PostgreSQL's 8000 bytes, and every notification parses back to its part.
func TestPayloads(t *testing.T) {
	for _, tc := range []struct {
		sessions, want int
	}{{1, 1}, {20, 1}, {200, 1}, {500, 3}} {
		c := services.Change{Roles: []services.RoleChange{{UserID: uuid.New(), Role: "user"}}}
		for range tc.sessions {
			c.Sessions = append(c.Sessions, uuid.New())
		}
		ps := payloads(c)
		if len(ps) != tc.want {
			t.Errorf("payloads(%d sessions and a role) = %d notifications, want %d", tc.sessions, len(ps), tc.want)
		}
		var back services.Change
		for _, p := range ps {
			if len(p) >= 8000 {
				t.Errorf("a payload of %d bytes, over PostgreSQL's limit", len(p))
			}
			part, bad := parse(p)
			if bad {
				t.Errorf("parse(%.40q…) reported a malformed item", p)
			}
			back.Sessions = append(back.Sessions, part.Sessions...)
			back.Roles = append(back.Roles, part.Roles...)
		}
		if len(back.Sessions) != tc.sessions || len(back.Roles) != 1 || back.Roles[0] != c.Roles[0] {
			t.Errorf("round trip of %d sessions: got %d sessions, roles %v", tc.sessions, len(back.Sessions), back.Roles)
		}
	}
	// An instance of the previous release sends bare ids; one item it cannot
	// read does not lose the others.
	id := uuid.New()
	c, bad := parse(id.String() + ",role:not-a-uuid:admin," + strings.ToUpper(uuid.NewString()))
	if !bad || len(c.Sessions) != 2 || c.Sessions[0] != id || len(c.Roles) != 0 {
		t.Errorf("parse(id, bad role, id) = %v, bad %v", c, bad)
	}
}
