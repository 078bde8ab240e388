package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/apitest"
	"github.com/authd/authd/services"
)

// TestRevocations_PrunedAfterTokenLifetime: entries go once no access token
// they concern can be alive, on the next write, so the set stays bounded
// without a background job; a role change stops overriding then as well.
func TestRevocations_PrunedAfterTokenLifetime(t *testing.T) {
	clock := apitest.NewClock()
	set := services.NewRevocations(nil, 15*time.Minute, clock.Now)
	old, uid := uuid.New(), uuid.New()
	set.Apply(services.Change{Sessions: []uuid.UUID{old}, Roles: []services.RoleChange{{UserID: uid, Role: "user"}}})

	clock.Advance(10 * time.Minute)
	set.Apply(services.Change{Sessions: []uuid.UUID{uuid.New()}})
	if set.Len() != 2 {
		t.Fatalf("Len() within the token lifetime = %d, want 2", set.Len())
	}
	clock.Advance(7 * time.Minute) // 17 minutes: past the lifetime and its minute of slack
	set.Apply(services.Change{Sessions: []uuid.UUID{uuid.New()}})
	if set.Len() != 2 {
		t.Fatalf("Len() after the first entry's lifetime = %d, want 2", set.Len())
	}
	if ok, _ := set.IsRevoked(context.Background(), old); ok {
		t.Fatal("an entry older than the token lifetime is still in the set")
	}
	p, err := set.Current(context.Background(), services.Principal{UserID: uid, SessionID: uuid.New(), Role: "admin"})
	if err != nil || p.Role != "admin" {
		t.Fatalf("Current() after the role change's lifetime = %q, %v; want the token's own role", p.Role, err)
	}
}
