// Package emailaddr turns an email address as typed into the one form authd
// stores and compares, so that one person has one account: the part before
// the @ through a PRECIS identifier profile (width folding, Unicode case
// folding, NFKC), the domain through IDNA 2008 to its ASCII form (A-labels),
// so that "Bob@Bücher.example", "bob@xn--bcher-kva.example" and
// "ｂｏｂ@bücher.example" are one address. It refuses, with a reason, what
// would let two people (or one attacker) see one address where the database
// sees two: control, format and invisible characters anywhere, a part before
// the @ that mixes Latin with Cyrillic or Greek letters, a domain without a
// dot, an IP-literal domain, and a label that IDNA 2008 refuses.
//
// golang.org/x/text/secure/precis implements RFC 8264/8265 (the IETF rules
// for comparing identifiers) and golang.org/x/net/idna implements UTS #46 and
// IDNA 2008; both are the Go team's own, already in the module graph, and
// nothing in the standard library does either.
package emailaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// MaxLength is the longest stored address in bytes: the longest address SMTP
// can carry (RFC 5321 §4.5.3.1.3).
const MaxLength = 254

// maxInput bounds the input looked at, so that hostile input stays cheap.
const maxInput = 4 * MaxLength

// Error is a refused address. Reason is a full sentence for the user.
type Error struct{ Reason string }

func (e *Error) Error() string { return "invalid email address: " + e.Reason }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// local is the PRECIS profile of the part before the @: the identifier class
// of RFC 8264 (letters, digits and printable ASCII; no spaces, symbols,
// controls or compatibility characters), width folding, Unicode case
// folding, NFKC, and the bidi rule.
var local = precis.NewIdentifier(precis.FoldWidth, precis.FoldCase(), precis.Norm(norm.NFKC), precis.BidiRule)

// Normalize returns the stored form of an email address, or an *Error that
// says why it is refused. Surrounding white space is trimmed. The result is
// a fixed point: Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", refuse("Enter an email address.")
	case len(s) > maxInput:
		return "", refuse("Enter an email address of at most %d characters.", MaxLength)
	case !utf8.ValidString(s):
		return "", refuse("The email address is not valid UTF-8 text.")
	}
	for _, r := range s {
		if Forbidden(r) {
			return "", refuse("The email address contains the invisible or control character %U; type it again without it.", r)
		}
		if unicode.IsSpace(r) {
			return "", refuse("The email address must not contain spaces.")
		}
	}
	if strings.Count(s, "@") != 1 {
		return "", refuse("Enter an email address with exactly one @, such as name@example.com.")
	}
	l, d, _ := strings.Cut(s, "@")
	if l == "" || d == "" {
		return "", refuse("Enter an email address with a name before the @ and a domain after it, such as name@example.com.")
	}
	l, err := normalizeLocal(l)
	if err != nil {
		return "", err
	}
	d, err = normalizeDomain(d)
	if err != nil {
		return "", err
	}
	e := l + "@" + d
	if len(e) > MaxLength {
		return "", refuse("Enter an email address of at most %d characters.", MaxLength)
	}
	return e, nil
}

func normalizeLocal(l string) (string, error) {
	// Width and case folding and NFKC can each undo the others' work
	// ("ℌ" folds to itself and NFKC makes it "H"), so the profile is applied
	// until nothing changes, as RFC 8266 does for nicknames.
	for i := 0; ; i++ {
		next, err := local.String(l)
		if err != nil {
			return "", refuse("The part before the @ has a character that email addresses here may not use (letters, digits and ! # $ %% & ' * + - / = ? ^ _ ` { | } ~ . are fine).")
		}
		if next == l {
			break
		}
		if i == 4 {
			return "", refuse("The part before the @ does not settle into one form; type it again.")
		}
		l = next
	}
	for _, r := range l {
		if r < utf8.RuneSelf && !isAtext(byte(r)) {
			return "", refuse("The part before the @ may not contain %q.", r)
		}
	}
	if strings.HasPrefix(l, ".") || strings.HasSuffix(l, ".") || strings.Contains(l, "..") {
		return "", refuse("The part before the @ may not start or end with a dot or have two dots in a row.")
	}
	if mixesScripts(l) {
		return "", refuse("The part before the @ mixes Latin, Cyrillic or Greek letters, as look-alike addresses do; use letters of one script.")
	}
	return l, nil
}

// isAtext reports whether an ASCII byte may appear in a dot-atom (RFC 5322
// §3.2.3), the only form of local part accepted (no quoted strings).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
}

// mixesScripts reports whether s has letters of more than one of the Latin,
// Cyrillic and Greek scripts, the scripts whose look-alikes (Latin "a",
// Cyrillic "а", Greek "α") make homograph addresses. Other mixes, such as
// Han with Hiragana, are ordinary writing.
func mixesScripts(s string) bool {
	var latin, cyrillic, greek bool
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.Is(unicode.Cyrillic, r):
			cyrillic = true
		case unicode.Is(unicode.Greek, r):
			greek = true
		}
	}
	n := 0
	for _, b := range []bool{latin, cyrillic, greek} {
		if b {
			n++
		}
	}
	return n > 1
}

func normalizeDomain(d string) (string, error) {
	if strings.HasPrefix(d, "[") || isIP(d) {
		return "", refuse("Use a domain name after the @, not an IP address.")
	}
	// Lookup maps what a user may type (capitals, full-width letters and
	// dots) to the ASCII form; Registration then checks that form against
	// IDNA 2008 without any mapping, and the DNS length limits.
	a, err := idna.Lookup.ToASCII(d)
	if err == nil {
		_, err = idna.Registration.ToASCII(a)
	}
	if err != nil {
		return "", refuse("The domain after the @ is not a valid domain name (IDNA 2008): %s.", labelProblem(err))
	}
	if strings.HasSuffix(a, ".") {
		return "", refuse("The domain after the @ must not end with a dot.")
	}
	if !strings.Contains(a, ".") {
		return "", refuse("The domain after the @ must contain a dot, such as example.com.")
	}
	if isIP(a) {
		return "", refuse("Use a domain name after the @, not an IP address.")
	}
	return a, nil
}

// isIP reports whether a domain is an IP address, or looks like one to a
// mail system: a last label of digits only is never a top-level domain.
func isIP(d string) bool {
	if _, err := netip.ParseAddr(d); err == nil {
		return true
	}
	last := d[strings.LastIndexByte(d, '.')+1:]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// labelProblem names the IDNA failure without echoing the input.
func labelProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "disallowed rune"):
		return "it has a character that domain names may not use"
	case strings.Contains(msg, "invalid label"), strings.Contains(msg, "bidirule"):
		return "one of its labels is not allowed"
	case strings.Contains(msg, "length"), strings.Contains(msg, "empty label"):
		return "a label is empty or too long"
	}
	var ie *Error
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return "it cannot be converted to its ASCII form"
}

// Forbidden reports whether r may never appear in an email address: control
// characters, format characters (the zero-width space, joiners and marks
// U+200B–U+200F, U+2060, U+FEFF, the soft hyphen U+00AD, the bidi
// embeddings, overrides and isolates), the line and paragraph separators,
// variation selectors and the other default-ignorable code points, and
// private-use and unassigned code points: all invisible, or shown as
// something they are not.
func Forbidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
		r == utf8.RuneError || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// Legacy returns the form in which authd stored an address before
// normalisation (trimmed and lower-cased), to find accounts that migration
// 00006 could not rewrite.
func Legacy(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// SearchKey returns the form of a search fragment that matches stored
// addresses: a whole address is normalised; a fragment is case-folded and
// NFKC-normalised, and its domain part, if it has an @, converted to ASCII
// when it can be, so that "bücher" finds nothing but "@bücher.example" finds
// "@xn--bcher-kva.example".
func SearchKey(s string) string {
	s = strings.TrimSpace(s)
	if e, err := Normalize(s); err == nil {
		return e
	}
	if len(s) > maxInput {
		s = s[:maxInput]
	}
	for range 4 {
		next := norm.NFKC.String(cases.Fold().String(s))
		if next == s {
			break
		}
		s = next
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 && i+1 < len(s) {
		if a, err := idna.Lookup.ToASCII(s[i+1:]); err == nil {
			s = s[:i+1] + a
		}
	}
	return s
}
