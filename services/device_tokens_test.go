package services_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// Issue 15 item 4: a device token is known only for its own account, with
// its own secret, until it expires; retention deletes it after that.
func TestDeviceTokens_KnownAndRetention(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		clock := func() time.Time { return now }
		newUser := func(email string) uuid.UUID {
			u := &models.User{ID: uuid.New(), Email: email, PasswordHash: "x", Role: "user", CreatedAt: now, UpdatedAt: now}
			testdb.Must(t, models.CreateUser(ctx, db.DB, u))
			return u.ID
		}
		owner := newUser("owner-" + uuid.NewString() + "@example.com")
		var ownerEmail string
		testdb.Must(t, db.Raw("SELECT email FROM users WHERE id = ?", owner).Row().Scan(&ownerEmail))
		otherEmail := "other-" + uuid.NewString() + "@example.com"
		newUser(otherEmail)

		d := services.NewDeviceTokens(db.DB, 90*24*time.Hour, clock)
		issued, err := d.Issue(ctx, owner, uuid.Nil)
		if err != nil || issued.ExpiresIn != 90*24*3600 {
			t.Fatalf("Issue() = %+v, %v, want a token for 90 days", issued, err)
		}
		tampered := issued.Token[:len(issued.Token)-2] + "AA"
		if tampered == issued.Token {
			tampered = issued.Token[:len(issued.Token)-2] + "BA"
		}
		for name, tc := range map[string]struct {
			raw, email string
			want       bool
		}{
			"own account":                 {issued.Token, ownerEmail, true},
			"own account, other spelling": {issued.Token, " " + strings.ToUpper(ownerEmail), true},
			"another account":             {issued.Token, otherEmail, false},
			"wrong secret":                {tampered, ownerEmail, false},
			"garbage":                     {"not a token", ownerEmail, false},
		} {
			known, ok, err := d.Known(ctx, tc.raw, tc.email)
			if err != nil || ok != tc.want || (ok && known.UserID != owner) {
				t.Errorf("Known(%s) = %+v, %v, %v; want %v for the owner", name, known, ok, err, tc.want)
			}
		}

		// Replacing keeps one token per device.
		known, _, _ := d.Known(ctx, issued.Token, ownerEmail)
		next, err := d.Issue(ctx, owner, known.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := d.Known(ctx, issued.Token, ownerEmail); ok {
			t.Error("the replaced token is still known")
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM device_tokens WHERE user_id = ?", owner); n != 1 {
			t.Errorf("device tokens of the owner = %d, want 1 after a replacement", n)
		}

		// Expired: unknown at once, and deleted by retention.
		later := services.NewDeviceTokens(db.DB, time.Hour, func() time.Time { return now.Add(91 * 24 * time.Hour) })
		if _, ok, _ := later.Known(ctx, next.Token, ownerEmail); ok {
			t.Error("an expired device token is still known")
		}
		r := services.NewRetention(db.DB, services.RetentionConfig{SessionRetention: testRetention,
			RefreshTTL: testRefreshTTL, ReuseGrace: testGrace},
			slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now.Add(91 * 24 * time.Hour) })
		round, err := r.RunOnce(ctx)
		if err != nil || round.DeviceTokens != 1 {
			t.Fatalf("RunOnce() = %+v, %v, want the expired device token deleted", round, err)
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM device_tokens"); n != 0 {
			t.Errorf("device tokens after retention = %d, want 0", n)
		}
	})
}
