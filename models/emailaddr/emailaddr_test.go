package emailaddr

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob@example.com", "bob@example.com"},
		{"  Bob@Example.COM ", "bob@example.com"},
		{"bob+tag@sub.example.co.uk", "bob+tag@sub.example.co.uk"},
		{"o'brien@example.com", "o'brien@example.com"},
		{"bob@bücher.example", "bob@xn--bcher-kva.example"},
		{"bob@BÜCHER.example", "bob@xn--bcher-kva.example"},
		{"bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example"},
		{"bob@XN--BCHER-KVA.EXAMPLE", "bob@xn--bcher-kva.example"},
		{"ｂｏｂ@ｅｘａｍｐｌｅ.com", "bob@example.com"},
		{"bob@example。com", "bob@example.com"},
		{"Straße@example.com", "strasse@example.com"},
		{"ﬁne@example.com", "fine@example.com"},
		{"ℌello@example.com", "hello@example.com"},
		{"Ünïcödé@example.com", "ünïcödé@example.com"},
		{"u\u0308ber@example.com", "über@example.com"},
		{"Иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"},
		{"ΑΛΦΑ@example.gr", "αλφα@example.gr"},
		{"山田@例え.jp", "山田@xn--r8jz45g.jp"},
		{"やまだタロウ@example.jp", "やまだタロウ@example.jp"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := Normalize(got); again != got || err != nil {
			t.Errorf("Normalize(%q) = %q, %v, not a fixed point of %q", got, again, err, tt.in)
		}
	}
}

func TestNormalize_Refused(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "Enter an email address"},
		{"bob", "exactly one @"},
		{"a@b@example.com", "exactly one @"},
		{"@example.com", "a name before the @"},
		{"bob@", "a name before the @"},
		{"Bob <bob@example.com>", "spaces"},
		{"a b@example.com", "spaces"},
		{"bo\u200bb@example.com", "U+200B"},
		{"bob\u200c@example.com", "U+200C"},
		{"bob\u200d@example.com", "U+200D"},
		{"bob\u200e@example.com", "U+200E"},
		{"bob\u200f@example.com", "U+200F"},
		{"bob\u2060@example.com", "U+2060"},
		{"\ufeffbob@example.com", "U+FEFF"},
		{"bo\u00adb@example.com", "U+00AD"},
		{"bob@exa\u00admple.com", "U+00AD"},
		{"bob\u202e@example.com", "U+202E"},
		{"bob\u2066@example.com", "U+2066"},
		{"bob\u061c@example.com", "U+061C"},
		{"bob\x00@example.com", "U+0000"},
		{"bob\x1b@example.com", "U+001B"},
		{"bob\ufe0f@example.com", "U+FE0F"},
		{"bob\u3164@example.com", "U+3164"},
		{"bob\ue000@example.com", "U+E000"},
		{"p\u0430ypal@example.com", "mixes Latin"},  // Cyrillic а
		{"p\u03b1ypal@example.com", "mixes Latin"},  // Greek α
		{"\u0430\u03b1@example.com", "mixes Latin"}, // Cyrillic with Greek
		{"bob@localhost", "must contain a dot"},
		{"bob@xn--bcher-kva", "must contain a dot"},
		{"bob@[192.0.2.1]", "not an IP address"},
		{"bob@[IPv6:2001:db8::1]", "not an IP address"},
		{"bob@192.0.2.1", "not an IP address"},
		{"bob@example.123", "not an IP address"},
		{"bob@example.com.", "must not end with a dot"},
		{"bob@exa_mple.com", "IDNA 2008"},
		{"bob@-example.com", "IDNA 2008"},
		{"bob@example..com", "IDNA 2008"},
		{"bob@xn--zz.example", "IDNA 2008"},
		{"bob@" + strings.Repeat("a", 64) + ".com", "IDNA 2008"},
		{"bob@a\u200dc.example", "U+200D"},
		{".bob@example.com", "dot"},
		{"bob.@example.com", "dot"},
		{"b..ob@example.com", "dot"},
		{"bob(x)@example.com", "may not contain"},
		{"bob;=1@example.com", "may not contain"},
		{`"bob"@example.com`, "may not contain"},
		{"bob☃@example.com", "may not use"},
		{strings.Repeat("a", 250) + "@example.com", "at most 254"},
		{"bad\xff@example.com", "UTF-8"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Normalize(%q) = %q, %v, want an *Error", tt.in, got, err)
			continue
		}
		if !strings.Contains(e.Reason, tt.reason) {
			t.Errorf("Normalize(%q) refused with %q, want a reason that says %q", tt.in, e.Reason, tt.reason)
		}
	}
}

func TestSearchKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bob", "bob"},
		{" EXAMPLE.com ", "example.com"},
		{"Straße", "strasse"},
		{"@BÜCHER.example", "@xn--bcher-kva.example"},
		{"bob@bücher.example", "bob@xn--bcher-kva.example"},
		{"ｂｏｂ", "bob"},
		{"50%_", "50%_"},
	}
	for _, tt := range tests {
		if got := SearchKey(tt.in); got != tt.want {
			t.Errorf("SearchKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
