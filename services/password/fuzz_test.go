package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPolicy_Check checks, for any password, minimum length and email, that
// Check does not panic, refuses everything over 72 bytes as ErrTooLong and
// nothing else, reports ErrTooShort exactly when the password has fewer
// characters than the minimum, returns nil or one of the three errors, and
// gives the same answer twice.
func FuzzPolicy_Check(f *testing.F) {
	seeds := []struct {
		pw        string
		minLength uint8
		email     string
	}{
		{"", 12, "alice.smith@example.com"},
		{"password1234", 12, "alice.smith@example.com"},
		{"12345678", 8, "bob@example.com"},
		{"correct horse 🐴 staple", 12, "alice.smith@example.com"},
		{"alice.smith2026!!", 12, "alice.smith@example.com"},
		{"  Tr0ub4dor&3xyz  ", 18, "alice.smith@example.com"},
		{strings.Repeat("€", 25), 12, "alice.smith@example.com"},
		{strings.Repeat("€", 24), 12, "alice.smith@example.com"},
		{strings.Repeat("a", 72), 12, ""},
		{strings.Repeat("a", 73), 100, ""},
		{strings.Repeat("🐴", 18), 12, "🐴🐴🐴🐴@example.com"},
		{strings.Repeat("iloveyou2026", 6), 0, "alice.smith@example.com"},
		{"4@8({[<3691!|70$5+%24@8({[<3691!|70$5+%24@8({[<3691!|70$5+%24@8({[<3691!", 12, ""},
		{"0d4+n;e~0-t;5B4v[_zQ_)nq@_%{c5Dc#*8[G)VpBF8~Tf=5%ooE&%1iXaHVS,vw", 12, "alice.smith@example.com"},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4", 12, "\xff@example.com"},
		{"Pässwörd 2026 ßtraße", 12, "jürgen.müller@example.de"},
		{"\x00\x01\x07\x0d\x13\x19 control characters", 12, "a@b"},
	}
	for _, s := range seeds {
		f.Add(s.pw, s.minLength, s.email)
	}
	f.Fuzz(func(t *testing.T, pw string, minLength uint8, email string) {
		p := Policy{MinLength: int(minLength)}
		err := p.Check(pw, email, "authd")

		if len(pw) > MaxBytes {
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("Check(%q) = %v, want %v", pw, err, ErrTooLong)
			}
			return
		}
		if errors.Is(err, ErrTooLong) {
			t.Fatalf("Check(%q) of %d bytes = %v", pw, len(pw), err)
		}
		if err != nil && !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrWeak) {
			t.Fatalf("Check(%q) = %v, want nil or one of the policy's errors", pw, err)
		}
		minLen := p.MinLength
		if minLen <= 0 {
			minLen = DefaultMinLength
		}
		if short := utf8.RuneCountInString(pw) < minLen; errors.Is(err, ErrTooShort) != short {
			t.Fatalf("Check(%q) with minimum %d = %v, but it has %d characters", pw, minLen, err, utf8.RuneCountInString(pw))
		}
		if again := p.Check(pw, email, "authd"); !sameError(err, again) {
			t.Fatalf("Check(%q) = %v, then %v", pw, err, again)
		}
	})
}

// sameError reports whether a and b are both nil or both the same policy
// error.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	for _, target := range []error{ErrTooLong, ErrTooShort, ErrWeak} {
		if errors.Is(a, target) {
			return errors.Is(b, target)
		}
	}
	return false
}
