package apitest

import (
	"os"
	"testing"

	"github.com/authd/authd/internal/testdb"
)

// TestMain lets the package's tests reuse migrated PostgreSQL schemas
// (testdb.Main) and drops them when the tests end.
func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
