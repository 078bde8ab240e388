package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testdbPkg is the test kit that hands out PostgreSQL schemas. Its pool of
// migrated schemas works only in a test binary whose TestMain calls
// testdb.Main (which also drops the pooled schemas when the tests end).
const testdbPkg = "internal/testdb"

// TestLayoutTestMains: every package whose tests reach internal/testdb,
// directly or through another kit (apitest, the web and fault harnesses),
// calls testdb.Main from its TestMain. Without it the package's PostgreSQL
// tests migrate a new schema each (seconds apiece on a busy machine: the
// handlers package once ran past go test's 10-minute limit that way).
func TestLayoutTestMains(t *testing.T) {
	module, imports := moduleImports(t, "..")
	fset := token.NewFileSet()
	type pkgTests struct {
		imports   map[string]bool
		callsMain bool
	}
	tests := map[string]*pkgTests{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != ".." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("..", filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		pt := tests[pkg]
		if pt == nil {
			pt = &pkgTests{imports: map[string]bool{}}
			tests[pkg] = pt
		}
		for _, s := range f.Imports {
			p, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				return err
			}
			if r, ok := strings.CutPrefix(p, module+"/"); ok {
				pt.imports[r] = true
			}
		}
		pt.callsMain = pt.callsMain || testMainCallsTestdbMain(f, pkg == testdbPkg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	checked := 0
	for _, pkg := range sortedKeys(tests) {
		pt := tests[pkg]
		// In-package tests link the package itself, and what it imports.
		reaches := reachable(module, imports, pkg)[testdbPkg]
		for imp := range pt.imports {
			if reachable(module, imports, imp)[testdbPkg] {
				reaches = true
			}
		}
		if !reaches {
			continue
		}
		checked++
		if !pt.callsMain {
			t.Errorf("%s: its tests use %s but no TestMain calls testdb.Main: add testmain_test.go with func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }", pkg, testdbPkg)
		}
	}
	// The check must see the packages it guards.
	if checked < 10 {
		t.Fatalf("only %d packages' tests reach %s: the check does not see the tree", checked, testdbPkg)
	}
}

// testMainCallsTestdbMain reports whether f declares TestMain and its body
// calls testdb.Main (Main alone inside the testdb package).
func testMainCallsTestdbMain(f *ast.File, inTestdb bool) bool {
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Name.Name != "TestMain" || fn.Body == nil {
			continue
		}
		found := false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fun := call.Fun.(type) {
			case *ast.SelectorExpr:
				if id, ok := fun.X.(*ast.Ident); ok && id.Name == "testdb" && fun.Sel.Name == "Main" {
					found = true
				}
			case *ast.Ident:
				if inTestdb && fun.Name == "Main" {
					found = true
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
