package services_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// TestAdmin_SetRoleConcurrentDemotions: two admins demoting each other at
// the same moment never leave zero admins; one wins, the other is told
// last_admin. Repeated, because races are probabilistic.
func TestAdmin_SetRoleConcurrentDemotions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		admin := services.NewAdmin(db.DB, f.sessions, services.SystemClock)
		var ids [2]uuid.UUID
		for i := range ids {
			u, err := f.accounts.CreateUser(ctx, uuid.NewString()[:8]+"@example.com", "correct horse battery staple 42", models.RoleAdmin)
			testdb.Must(t, err)
			ids[i] = u.ID
		}
		for round := range 20 {
			start := make(chan struct{})
			var wg sync.WaitGroup
			var errs [2]error
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					by := services.Principal{UserID: ids[i], Role: models.RoleAdmin, Fresh: true}
					_, errs[i] = admin.SetRole(ctx, by, ids[1-i], models.RoleUser, services.Meta{})
				}()
			}
			close(start)
			wg.Wait()
			if n := testdb.Count(t, db, "SELECT count(*) FROM users WHERE role = 'admin'"); n != 1 {
				t.Fatalf("round %d: %d admins after two concurrent demotions (%v, %v), want 1", round, n, errs[0], errs[1])
			}
			winner := -1
			for i, err := range errs {
				switch code(err) {
				case "":
					winner = i
				case services.CodeLastAdmin:
				default:
					t.Fatalf("round %d: SetRole = %v, want success or last_admin", round, err)
				}
			}
			if winner < 0 || code(errs[1-winner]) != services.CodeLastAdmin {
				t.Fatalf("round %d: SetRole = %v, %v; want one success and one last_admin", round, errs[0], errs[1])
			}
			// The remaining admin makes the other admin again.
			by := services.Principal{UserID: ids[winner], Role: models.RoleAdmin, Fresh: true}
			_, err := admin.SetRole(ctx, by, ids[1-winner], models.RoleAdmin, services.Meta{})
			testdb.Must(t, err)
		}
	})
}
