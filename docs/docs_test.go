// Package docs holds the contract (API.md), the requirement table
// (SECURITY.md) and the design notes of authd. Its test keeps the rest of
// the repository pointing at them: every requirement id cited anywhere
// resolves to an entry of SECURITY.md, no file points outside the
// repository, and every relative link in a Markdown file leads to a file.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requirementID matches the ids SECURITY.md defines: table rows such as
// AUTH-07, RT-04 and FI-1b, and the real-world failures F1 to F16, whose
// lettered items are cited as F8b.
var requirementID = regexp.MustCompile(`\b(?:(?:AUTH|SESS|JWT|RT|OA|RL|LOG|HTTP|CONC|FI)-[0-9]+[a-z]?|F[0-9]+[a-z]?)\b`)

// repoFiles returns the text files of the repository (paths relative to its
// root), without VCS state, dependencies and build output.
func repoFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "screenshots", "results", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".js", ".html", ".css", ".yaml", ".yml", ".sh", ".sql", ".pgbench", "":
		default:
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.IndexByte(string(b), 0) >= 0 {
			return nil // a binary left in the work tree
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// defined returns the ids SECURITY.md defines, with each lettered item of a
// real-world failure ("- (b) ..." under "**F8. ...**") as F8b.
func defined(t *testing.T, security string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	row := regexp.MustCompile(`(?m)^\|\s*(?:\*\*)?([A-Z]+-[0-9]+[a-z]?)(?:\*\*)?\s*\|`)
	for _, m := range row.FindAllStringSubmatch(security, -1) {
		ids[m[1]] = true
	}
	failure := regexp.MustCompile(`(?m)^\*\*(F[0-9]+)\.`)
	item := regexp.MustCompile(`(?m)^- \(([a-z])\)`)
	heads := failure.FindAllStringSubmatchIndex(security, -1)
	for i, h := range heads {
		id := security[h[2]:h[3]]
		ids[id] = true
		end := len(security)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		for _, m := range item.FindAllStringSubmatch(security[h[1]:end], -1) {
			ids[id+m[1]] = true
		}
	}
	if len(ids) < 50 {
		t.Fatalf("found only %d requirement ids in SECURITY.md; has its table format changed?", len(ids))
	}
	return ids
}

func TestRequirementIDsResolve(t *testing.T) {
	files := repoFiles(t)
	security, ok := files["docs/SECURITY.md"]
	if !ok {
		t.Fatal("docs/SECURITY.md is missing")
	}
	ids := defined(t, security)
	for path, text := range files {
		if path == "docs/SECURITY.md" {
			continue
		}
		for i, line := range strings.Split(text, "\n") {
			for _, id := range requirementID.FindAllString(line, -1) {
				if !ids[id] {
					t.Errorf("%s:%d cites %s, which docs/SECURITY.md does not define", path, i+1, id)
				}
			}
		}
	}
}

// A clone stands on its own: nothing points at the steering folder beside
// the repository, where the contract used to live.
func TestNothingPointsOutsideTheRepository(t *testing.T) {
	outside := ".." + "/shared"
	for path, text := range repoFiles(t) {
		for i, line := range strings.Split(text, "\n") {
			if strings.Contains(line, outside) {
				t.Errorf("%s:%d points at %s; the contract is docs/API.md, the requirements docs/SECURITY.md", path, i+1, outside)
			}
		}
	}
}

func TestMarkdownLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(?:#[^)]*)?\)`)
	for path, text := range repoFiles(t) {
		if filepath.Ext(path) != ".md" {
			continue
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join("..", filepath.Dir(path), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", path, target)
			}
		}
	}
}
