package handlers

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode"
)

// csvCells writes one CSV row of cells, each through csvSafe, as the export
// does, and reads it back with every list separator a spreadsheet may use.
func csvCells(t *testing.T, cells []string) map[rune][][]string {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	safe := make([]string, len(cells))
	for i, c := range cells {
		safe[i] = csvSafe(c)
	}
	if err := w.Write(safe); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	out := map[rune][][]string{}
	for _, sep := range []rune{',', ';', '\t'} {
		r := csv.NewReader(bytes.NewReader(buf.Bytes()))
		r.Comma, r.LazyQuotes, r.FieldsPerRecord = sep, true, -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("read %q with %q: %v", buf.Bytes(), sep, err)
		}
		out[sep] = recs
	}
	return out
}

// startsFormula reports whether a cell starts a formula after spaces and
// double quotes.
func startsFormula(cell string) bool {
	rest := strings.TrimLeftFunc(cell, func(r rune) bool {
		return r == '"' || r != '\t' && r != '\r' && unicode.IsSpace(r)
	})
	return rest != "" && strings.ContainsRune("=+-@\t\r", rune(rest[0]))
}

// onlyQuotesAdded reports whether in is out with some single quotes taken
// out: the guard adds characters, it never drops or changes one.
func onlyQuotesAdded(in, out string) bool {
	i := 0
	for j := 0; j < len(out); j++ {
		switch {
		case i < len(in) && in[i] == out[j]:
			i++
		case out[j] != '\'':
			return false
		}
	}
	return i == len(in)
}

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Chrome on Windows", "Chrome on Windows"},
		{"2001:db8::/48", "2001:db8::/48"},
		{"=1+1", "'=1+1"},
		{"  =1", "  '=1"},
		{`" =1`, `" '=1`},
		{"Phone;=HYPERLINK(\"x\")", "Phone;'=HYPERLINK(\"x\")"},
		{"a,-1;+2\t@3", "a,'-1;'+2\t'@3"},
		{"a\t\t=1", "a\t'\t'=1"},
		{"\r=1", "'\r'=1"},
		{"x\n@y", "x\n'@y"},
		{"a-b+c=d@e", "a-b+c=d@e"},
		{"=cmd@evil.example", "'=cmd@evil.example"},
		{"a;\u00a0\u3000=1", "a;\u00a0\u3000'=1"},
		{`{"device_name":"Phone;=X","n":-1}`, `{"device_name":"Phone;'=X","n":-1}`},
	}
	for _, tt := range tests {
		if got := csvSafe(tt.in); got != tt.want {
			t.Errorf("csvSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzCSVSafe: whatever a cell holds (device names, user agents, emails,
// JSON details), the exported row read with comma, semicolon or tab has no
// cell that starts a formula, and the text is the original with single
// quotes added.
func FuzzCSVSafe(f *testing.F) {
	for _, seed := range []string{
		`Phone;=HYPERLINK("http://evil.example/x","click")`,
		"=1+1@example.com", "-2+3@example.com", "+49 170;@SUM(1)",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0)", "\t=1\r\n;\"=2", ` " "=1`,
		`{"device_name":"a;=b","session_ip_prefix":"203.0.113.0/24"}`,
	} {
		f.Add(seed, "plain")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			if got := csvSafe(s); !onlyQuotesAdded(s, got) {
				t.Fatalf("csvSafe(%q) = %q, which is not the text with quotes added", s, got)
			}
			if again := csvSafe(csvSafe(s)); again != csvSafe(s) {
				t.Fatalf("csvSafe(csvSafe(%q)) = %q, want %q", s, again, csvSafe(s))
			}
		}
		for sep, recs := range csvCells(t, []string{a, b}) {
			for _, rec := range recs {
				for _, cell := range rec {
					if startsFormula(cell) {
						t.Fatalf("cells %q, %q read with %q give the formula cell %q", a, b, sep, cell)
					}
				}
			}
		}
	})
}
