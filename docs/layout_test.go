package docs_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The layers of authd and the edges allowed between them (README "Layout"):
// cmd → handlers, middleware → services (and its domain packages) → models,
// with the adapters (internal/platform/*) plugged in by the wiring
// (internal/app). metrics is a leaf every layer may count through.
// Patterns are module-relative; "x/..." is x and every package under it.
var layerRules = []struct {
	pkgs, forbidden []string
	why             string
}{
	{
		pkgs:      []string{"handlers/...", "middleware/...", "services/...", "models/...", "migrations/...", "metrics/...", "web/..."},
		forbidden: []string{"internal/..."},
		why:       "internal/ is wiring, adapters and test kit; only tests of these layers may use it",
	},
	{
		pkgs:      []string{"services/...", "models/...", "migrations/...", "metrics/...", "web/..."},
		forbidden: []string{"handlers/...", "middleware/...", "cmd/..."},
		why:       "HTTP depends on the services, never the other way round",
	},
	{
		pkgs:      []string{"models/...", "migrations/...", "metrics/..."},
		forbidden: []string{"services/..."},
		why:       "services depend on models, never the other way round",
	},
}

// driverImport matches the imports that talk to a database or to Redis
// directly. Only the adapters, the wiring and the storage layer may use them.
var driverImport = regexp.MustCompile(`^(database/sql(/.*)?|github\.com/jackc/pgx.*|github\.com/redis/.*|github\.com/ulule/limiter/v3/drivers/store/redis.*)$`)

var driverAllowed = []string{"internal/platform/...", "internal/app", "models", "migrations"}

// productRoot is the binary whose import graph the driver rule checks: test
// kits (internal/testdb, …) open databases too, but no product code reaches
// them.
const productRoot = "cmd/authd"

// TestLayoutImports keeps the import graph free of back-edges: it parses the
// imports of every non-test Go file of the module (go/parser, no build) and
// fails on an edge the layers forbid, or on a database or Redis client
// imported by product code outside the adapters, the wiring and models.
func TestLayoutImports(t *testing.T) {
	module, imports := moduleImports(t, "..")

	// The check must see the tree it guards, and see drivers where they are.
	for _, p := range []string{productRoot, "handlers", "middleware", "services", "models", "internal/app", "internal/platform/pgfeed"} {
		if _, ok := imports[p]; !ok {
			t.Fatalf("package %s not found: the layout check does not see the tree", p)
		}
	}
	if !anyMatch(imports["models"], driverImport) {
		t.Fatal("models imports no database driver: the driver check cannot be trusted")
	}

	for _, r := range layerRules {
		for _, p := range sortedKeys(imports) {
			if !matchAny(p, r.pkgs) {
				continue
			}
			for _, imp := range sortedKeys(imports[p]) {
				rel, ok := strings.CutPrefix(imp, module+"/")
				if ok && matchAny(rel, r.forbidden) {
					t.Errorf("%s imports %s: %s", p, rel, r.why)
				}
			}
		}
	}

	product := reachable(module, imports, productRoot)
	for _, p := range sortedKeys(product) {
		if matchAny(p, driverAllowed) {
			continue
		}
		for _, imp := range sortedKeys(imports[p]) {
			if driverImport.MatchString(imp) {
				t.Errorf("%s imports %s: database and Redis clients belong to the adapters (internal/platform), the wiring (internal/app) and models", p, imp)
			}
		}
	}
}

// moduleImports returns the module path of the go.mod in root and, for every
// package directory under it (module-relative), the set of paths its non-test
// Go files import.
func moduleImports(t *testing.T, root string) (string, map[string]map[string]bool) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	imports := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, s := range f.Imports {
			p, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				return err
			}
			imports[pkg][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(m[1]), imports
}

// reachable returns the module packages root imports, directly or not,
// and root itself.
func reachable(module string, imports map[string]map[string]bool, root string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for imp := range imports[p] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				visit(rel)
			}
		}
	}
	visit(root)
	return seen
}

// matchAny reports whether the module-relative package p matches one of the
// patterns: "x" is x alone, "x/..." is x and every package under it.
func matchAny(p string, patterns []string) bool {
	for _, pat := range patterns {
		if base, ok := strings.CutSuffix(pat, "/..."); ok {
			if p == base || strings.HasPrefix(p, base+"/") {
				return true
			}
		} else if p == pat {
			return true
		}
	}
	return false
}

func anyMatch(set map[string]bool, re *regexp.Regexp) bool {
	for p := range set {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
