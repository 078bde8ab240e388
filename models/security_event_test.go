package models_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/authd/authd/internal/testdb"
	"github.com/authd/authd/models"
)

// LOG-03: the database itself refuses to change events (PostgreSQL: UPDATE
// and DELETE; SQLite: UPDATE).
func TestSecurityEvents_AppendOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := &models.SecurityEvent{Type: models.EventLoginFailed, CreatedAt: time.Now().UTC()}
		testdb.Must(t, models.InsertSecurityEvent(ctx, db.DB, e))
		if err := db.Exec("UPDATE security_events SET reason = 'x' WHERE id = ?", e.ID).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("UPDATE = %v, want refused as append-only", err)
		}
		if db.IsPostgres() {
			if err := db.Exec("DELETE FROM security_events WHERE id = ?", e.ID).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("DELETE = %v, want refused as append-only", err)
			}
		}
		if n := testdb.Count(t, db, "SELECT count(*) FROM security_events WHERE id = ? AND reason = ''", e.ID); n != 1 {
			t.Errorf("the event changed or went away")
		}
	})
}

// The admin query for one user's events of one reason, first page and a
// deep page, is answered from the (user_id, reason, created_at, id) index
// without a sort or a sequential scan.
func TestListSecurityEvents_UsesIndex(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	heavy := uuid.New()
	testdb.Must(t, db.Exec(testdb.SeedEventsSQL, map[string]any{"heavy": heavy, "n": 15000}).Error)
	testdb.Must(t, db.Exec("ANALYZE security_events").Error)

	cursorAt := time.Now().Add(-time.Hour).UTC()
	for name, f := range map[string]models.EventFilter{
		"first page":         {UserID: &heavy, Reason: models.ReasonReuseDetected, Limit: 51},
		"deep page":          {UserID: &heavy, Reason: models.ReasonReuseDetected, Limit: 51, BeforeTime: cursorAt, BeforeID: uuid.Max},
		"user, first page":   {UserID: &heavy, Limit: 51},
		"type, deep page":    {Type: models.EventLoginFailed, Limit: 51, BeforeTime: cursorAt, BeforeID: uuid.Max},
		"everything, page 1": {Limit: 51},
	} {
		sql := db.ToSQL(func(tx *gorm.DB) *gorm.DB {
			return models.SecurityEventsQuery(ctx, tx, f).Find(&[]models.SecurityEvent{})
		})
		var plan string
		testdb.Must(t, db.Raw("EXPLAIN (FORMAT JSON) "+sql).Row().Scan(&plan))
		nodes := planNodes(t, plan)
		t.Logf("%s: %v", name, nodes)
		joined := strings.Join(nodes, " | ")
		if !strings.Contains(joined, "Index Scan") || strings.Contains(joined, "Seq Scan") || strings.Contains(joined, "Sort") {
			t.Errorf("%s: plan %s, want an index scan without sort or sequential scan\n%s", name, joined, sql)
		}
		if name == "first page" && !strings.Contains(joined, "security_events_user_reason_idx") {
			t.Errorf("%s: plan %s, want security_events_user_reason_idx", name, joined)
		}
	}
}

// planNodes flattens an EXPLAIN (FORMAT JSON) plan into "Node Type on Index".
func planNodes(t *testing.T, plan string) []string {
	t.Helper()
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) == 0 {
		t.Fatalf("EXPLAIN output %q: %v", plan, err)
	}
	var out []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		s, _ := n["Node Type"].(string)
		if idx, ok := n["Index Name"].(string); ok {
			s += " on " + idx
		}
		out = append(out, s)
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m)
			}
		}
	}
	walk(doc[0].Plan)
	return out
}
