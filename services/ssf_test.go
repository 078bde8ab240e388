package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// The SETs of an event are written in the event's transaction: a change
// that rolls back leaves none, one that commits leaves one per stream that
// asked for the event's type, and none for streams that did not.
func TestSSF_SETsFollowTheTransaction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		now := func() time.Time { return time.Now().UTC() }
		key, err := services.LoadSETKey(ctx, db.DB, services.SETAlgEdDSA)
		testdb.Must(t, err)
		ssf := services.NewSSF(db.DB, services.SSFConfig{Issuer: "https://auth.example", SubjectIssuer: "authd"}, key, nil, now)
		events := services.NewEvents(now)
		events.Enqueue(ssf.Enqueue)

		admin := services.Principal{UserID: uuid.New(), Fresh: true}
		rc, err := ssf.CreateReceiver(ctx, admin, "test", "")
		testdb.Must(t, err)
		poll := &services.DeliveryInput{Method: services.DeliveryPollURN}
		revoked := []string{services.CAEPSessionRevoked}
		wants, err := ssf.CreateStream(ctx, &rc.Receiver, services.StreamInput{EventsRequested: &revoked, Delivery: poll})
		testdb.Must(t, err)
		other := []string{services.CAEPCredentialChange}
		ignores, err := ssf.CreateStream(ctx, &rc.Receiver, services.StreamInput{EventsRequested: &other, Delivery: poll})
		testdb.Must(t, err)

		u := &models.User{ID: uuid.New(), Email: "ssf@example.com", PasswordHash: "x", Role: models.RoleUser, CreatedAt: now(), UpdatedAt: now()}
		testdb.Must(t, models.CreateUser(ctx, db.DB, u))
		record := func(fail bool) error {
			return db.DB.Transaction(func(tx *gorm.DB) error {
				if err := events.Record(ctx, tx, &models.SecurityEvent{Type: models.EventSessionRevoked,
					Reason: models.ReasonReuseDetected, UserID: &u.ID}); err != nil {
					return err
				}
				if fail {
					return errors.New("the change fails after its event")
				}
				return nil
			})
		}
		count := func(id uuid.UUID) int64 {
			return testdb.Count(t, db, "SELECT count(*) FROM ssf_poll_sets WHERE stream_id = ?", id)
		}

		if err := record(true); err == nil {
			t.Fatal("the failing change committed")
		}
		if n := count(wants.ID); n != 0 {
			t.Fatalf("a rolled-back change left %d SETs", n)
		}
		testdb.Must(t, record(false))
		if n := count(wants.ID); n != 1 {
			t.Fatalf("a committed change left %d SETs on the stream that asked, want 1", n)
		}
		if n := count(ignores.ID); n != 0 {
			t.Fatalf("a stream that did not ask for session-revoked got %d SETs", n)
		}
	})
}
