package memfeed_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/platform/feedtest"
	"github.com/authd/authd/internal/platform/memfeed"
	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

func TestBus_Contract(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		feedtest.Run(t, func(t *testing.T) feedtest.Feed {
			bus := memfeed.New()
			remote := services.NewRevocations(db.DB, 15*time.Minute, services.SystemClock)
			bus.Subscribe(remote)
			return feedtest.Feed{DB: db.DB, Pub: bus, Remote: remote}
		})
	})
}

// TestBus_PublishOutsideTransaction: a transaction that services did not
// start cannot say when it commits, so publishing in it is refused rather
// than delivered too early or never.
func TestBus_PublishOutsideTransaction(t *testing.T) {
	db := testdb.SQLite(t)
	bus := memfeed.New()
	err := db.Transaction(func(tx *gorm.DB) error {
		return bus.Publish(context.Background(), tx, services.Change{Sessions: []uuid.UUID{uuid.New()}})
	})
	if err == nil {
		t.Fatal("Publish in a plain gorm transaction = nil, want an error")
	}
}
