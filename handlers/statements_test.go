package handlers_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/authd/authd/internal/apitest"
)

// statementCounter counts the SQL statements GORM sends while on.
type statementCounter struct {
	on  atomic.Bool
	n   atomic.Int64
	mu  sync.Mutex
	sql []string
}

func (c *statementCounter) install(t *testing.T, db *gorm.DB) {
	t.Helper()
	count := func(tx *gorm.DB) {
		if c.on.Load() {
			c.n.Add(1)
			c.mu.Lock()
			c.sql = append(c.sql, tx.Statement.SQL.String())
			c.mu.Unlock()
		}
	}
	cb := db.Callback()
	for name, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register("test:count", count),
		"query":  cb.Query().After("gorm:query").Register("test:count", count),
		"update": cb.Update().After("gorm:update").Register("test:count", count),
		"delete": cb.Delete().After("gorm:delete").Register("test:count", count),
		"row":    cb.Row().After("gorm:row").Register("test:count", count),
		"raw":    cb.Raw().After("gorm:raw").Register("test:count", count),
	} {
		if err != nil {
			t.Fatalf("register %s counter: %v", name, err)
		}
	}
}

// The acceptance of the token-lifecycle issue: a common-path refresh costs
// at most five statements, BEGIN and COMMIT included. On SQLite GORM's
// callbacks see every statement but BEGIN and COMMIT, which the one
// transaction adds. On PostgreSQL the driver's tracer sees everything sent,
// and the common path is two statements without BEGIN or COMMIT (the
// performance issue: two round trips and one commit per rotation).
func TestRefresh_AtMostFiveStatements(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, s *apitest.Server) {
		_, tok := s.NewUser(t, "count")
		tok = s.MustRefresh(t, tok.RefreshToken) // warm up
		if s.Config.DatabaseURL == "" {
			var c statementCounter
			c.install(t, s.App.DB().DB)
			c.on.Store(true)
			s.MustRefresh(t, tok.RefreshToken)
			c.on.Store(false)
			if c.n.Load() == 0 {
				t.Fatal("the counter saw no statement at all: it is not installed")
			}
			t.Logf("a refresh ran %d statements on SQLite, BEGIN and COMMIT included", c.n.Load()+2)
			if got := c.n.Load() + 2; got > 5 {
				t.Fatalf("a refresh ran %d statements with BEGIN and COMMIT, want ≤ 5:\n%q", got, c.sql)
			}
			return
		}
		var (
			mu   sync.Mutex
			sent []string
		)
		if !s.App.DB().OnStatement(func(sql string) {
			mu.Lock()
			sent = append(sent, sql)
			mu.Unlock()
		}) {
			t.Fatal("no statement hook on PostgreSQL")
		}
		s.MustRefresh(t, tok.RefreshToken)
		s.App.DB().OnStatement(nil)
		mu.Lock()
		defer mu.Unlock()
		t.Logf("a refresh sent %d statements to PostgreSQL", len(sent))
		if len(sent) != 2 {
			t.Fatalf("a refresh sent %d statements to PostgreSQL, want 2 (read, rotate):\n%q", len(sent), sent)
		}
		for _, q := range sent {
			if w := strings.ToLower(strings.TrimSpace(q)); strings.HasPrefix(w, "begin") || strings.HasPrefix(w, "commit") {
				t.Fatalf("the common refresh opened an explicit transaction: %q", sent)
			}
		}
	})
}
