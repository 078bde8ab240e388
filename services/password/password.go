// Package password implements the password policy of the authd API
// (API.md "Password policy", SECURITY.md AUTH-01 to AUTH-05 and F9).
//
// A password is accepted when it is at most MaxBytes bytes long (bcrypt's
// input limit: longer passwords are refused, never truncated), has at least
// the policy's minimum number of characters, and is not a common or easily
// guessed password. It is judged exactly as typed: no trimming, no case change
// and no Unicode normalisation, and there are no composition rules.
package password

// The strength estimate comes from github.com/trustelem/zxcvbn v1.0.1. It was
// chosen over github.com/ccojocar/zxcvbn-go (the maintained fork of
// nbutton23's port, last released in 2025) because it is a faithful port of
// Dropbox's zxcvbn 4.4.2, the final upstream release, with the upstream test
// suite ported: the same 30,000-entry common-password list, English words,
// names, keyboard walks, repeats, sequences, dates, l33t and user inputs,
// giving the reference's guess counts. ccojocar's older entropy model rated
// "abab…ab" and "qwertyuiop…" repeated to 72 bytes at score 4, the strongest,
// and took up to 2 s on some 72-byte inputs. trustelem's port has not changed
// since 2019 (neither has zxcvbn's algorithm since 2017), and two defects of
// its own are worked around here: it mixes byte and rune offsets, so
// non-ASCII input can be mis-scored (24 random CJK characters came out at 0
// guesses; see estimatorString), and its dictionary and l33t matchers make the
// time grow steeply with length (about 200 ms for a random 72-character ASCII
// password, against 2 ms for 24 characters; see estimateGuesses).
import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// MaxBytes is the longest password accepted, in bytes: bcrypt reads only the
// first 72 bytes of its input, so anything longer is refused rather than
// silently truncated.
const MaxBytes = 72

// DefaultMinLength is the minimum length, in characters, used when
// Policy.MinLength is zero or negative.
const DefaultMinLength = 12

// MinScore is the lowest zxcvbn score (0 to 4) accepted: 3, "safely
// unguessable, modest protection from offline attacks", an estimate of at
// least 10^8 guesses. Score 2 (10^6) would let through passwords such as
// "P@ssw0rd2024!" (estimated at 10^7 guesses); every common password of the
// contract is far below 10^8 ("password1234" and "qwertyuiop123" about
// 10^4, "12345678" 4), while "correct horse 🐴 staple" and random passwords
// are far above it. zxcvbn adds (10^4)^(l-1) guesses for a password it reads
// as l patterns, so anything of three patterns or more reaches 10^8
// ("smithalice2026" passes); hence the separate rule on the email's local
// part.
const MinScore = 3

// minGuesses is the estimate needed, the lower bound of MinScore. zxcvbn's
// own boundary adds 5 guesses of slack; without it, an 8-character password
// in which zxcvbn finds no pattern (rated at 10^8 + 1 guesses) passes with a
// minimum length of 8, as AUTH-01 requires.
const minGuesses = 1e8

// minLocalPartLen is the shortest email local part (in characters) that a
// password may not contain.
const minLocalPartLen = 4

// minWordLen is the shortest word of an email address given to the estimator
// as a user input, and the shortest run that counts as a copy of earlier text
// in removeCopies.
const minWordLen = 3

// maxPieceCost bounds estimatorCost for one call of the estimator, and
// maxTotalCost for all the calls of one Check. Measured here at up to about
// 2.5 µs per unit (mixed-case text, where most of the time goes to
// lower-casing substrings), they keep one call under about 15 ms and a Check
// under about 30 ms. Every 72-character password without l33t characters
// (at most 5,256 units) is rated in one piece; a random 72-character ASCII
// password would cost some 20,000 to 300,000 units (30 to 200 ms and more).
const (
	maxPieceCost = 6_000
	maxTotalCost = 2 * maxPieceCost
)

var (
	// ErrTooLong reports a password of more than MaxBytes bytes. It is
	// checked before anything else.
	ErrTooLong = errors.New("password is longer than 72 bytes")

	// ErrTooShort reports a password with fewer characters (Unicode code
	// points) than the policy's minimum length.
	ErrTooShort = errors.New("password is too short")

	// ErrWeak reports a common or easily guessed password, or one that
	// contains the user's email address.
	ErrWeak = errors.New("password is too common or too easy to guess")
)

// Policy is the password policy of the contract.
type Policy struct {
	// MinLength is the minimum length in characters (Unicode code points,
	// not bytes). Zero or less means DefaultMinLength.
	MinLength int
}

// Check returns nil when pw satisfies the policy, and otherwise ErrTooLong,
// ErrTooShort or ErrWeak, in that order of precedence, wrapped with a reason
// for a person (use errors.Is). pw is judged exactly as given.
//
// userInputs are words the strength estimator must treat as guessable, such
// as the user's email address, its local part and "authd". A password that
// contains the local part (case-insensitively) of an email address among
// them is ErrWeak when that local part has at least 4 characters.
func (p Policy) Check(pw string, userInputs ...string) error {
	if n := len(pw); n > MaxBytes {
		return fmt.Errorf("%w: it has %d bytes, at most %d are allowed", ErrTooLong, n, MaxBytes)
	}
	minLen := p.MinLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if n := utf8.RuneCountInString(pw); n < minLen {
		return fmt.Errorf("%w: it has %d characters, at least %d are required", ErrTooShort, n, minLen)
	}
	if containsLocalPart(pw, userInputs) {
		return fmt.Errorf("%w: it contains your email address", ErrWeak)
	}
	// Written so that a NaN estimate is refused too.
	if g := estimateGuesses(decode(pw), estimatorInputs(userInputs)); !(g >= minGuesses) {
		return fmt.Errorf("%w: it is a common password or follows a pattern that is quickly guessed", ErrWeak)
	}
	return nil
}

// containsLocalPart reports whether pw contains, case-insensitively, the
// local part of an email address among inputs that is at least
// minLocalPartLen characters long.
func containsLocalPart(pw string, inputs []string) bool {
	lower := strings.ToLower(pw)
	for _, in := range inputs {
		at := strings.LastIndexByte(in, '@')
		if at < 0 {
			continue
		}
		local := in[:at]
		if utf8.RuneCountInString(local) >= minLocalPartLen && strings.Contains(lower, strings.ToLower(local)) {
			return true
		}
	}
	return false
}

// estimatorInputs returns the user inputs for the estimator: each input, and
// for an email address also the words it is made of ("alice.smith@example.com"
// adds "alice", "smith", "example" and "com"), so that a password built from
// part of the address is rated as guessable.
func estimatorInputs(userInputs []string) []string {
	inputs := make([]string, 0, len(userInputs)*4)
	for _, in := range userInputs {
		inputs = append(inputs, estimatorString(decode(in)))
		if !strings.Contains(in, "@") {
			continue
		}
		for _, word := range strings.FieldsFunc(in, isEmailSeparator) {
			if utf8.RuneCountInString(word) >= minWordLen {
				inputs = append(inputs, estimatorString(decode(word)))
			}
		}
	}
	return inputs
}

func isEmailSeparator(r rune) bool {
	return r == '@' || r == '.' || r == '_' || r == '-' || r == '+'
}

// invalidByte is added to a byte of invalid UTF-8 to give it a character
// value of its own in decode, beyond every Unicode code point.
const invalidByte = unicode.MaxRune + 1

// decode returns the characters of s: its code points, and each byte of
// invalid UTF-8 as invalidByte plus the byte.
func decode(s string) []rune {
	cs := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = invalidByte + rune(s[i])
		}
		cs = append(cs, r)
		i += size
	}
	return cs
}

// placeholders stand in for non-ASCII characters in the estimator's input.
// They are ASCII control characters, which no dictionary, keyboard graph,
// l33t table or date pattern of zxcvbn contains, and they are at least 6 code
// points apart from each other and from printable ASCII, so that zxcvbn's
// sequence matcher (steps of at most 5) never links them.
var placeholders = [...]byte{0x01, 0x07, 0x0d, 0x13, 0x19}

// estimatorString returns the characters cs with one byte per character, the
// only input the zxcvbn port handles correctly: ASCII is kept and every other
// character becomes placeholders[value mod 5]. This is only what the
// estimator sees; the password itself is never changed.
//
// zxcvbn's lists are pure ASCII, so no dictionary match is lost. The same
// character always maps to the same byte, so repeats ("🐴🐴🐴…") stay repeats,
// and consecutive code points ("абвгд…") map to a cycle of the five
// placeholders, which zxcvbn rates as the repeat it resembles. Random
// non-ASCII characters are rated, like every character zxcvbn knows nothing
// about, at 10 guesses each, less the odd accidental repeat.
func estimatorString(cs []rune) string {
	b := make([]byte, len(cs))
	for i, c := range cs {
		if c < utf8.RuneSelf {
			b[i] = byte(c)
		} else {
			b[i] = placeholders[int(c)%len(placeholders)]
		}
	}
	return string(b)
}

// estimateGuesses returns zxcvbn's estimate of the number of guesses needed to
// find the password made of the characters cs.
//
// The password is rated in one piece unless that would take long
// (estimatorCost over maxPieceCost: a long password with several different
// l33t characters, typically a random one). Then repeated text is removed
// first (removeCopies), as zxcvbn's repeat matcher would count it once, and
// the rest is rated in consecutive pieces of bounded cost whose estimates are
// multiplied, as zxcvbn multiplies the guesses of consecutive patterns,
// stopping as soon as the product is high enough. A pattern cut in two by the
// pieces is rated as two patterns, which can raise the estimate; that is the
// price of a bounded time, paid only by passwords of that kind. Should
// maxTotalCost run out first, the text left is not rated, which can only
// lower the estimate.
func estimateGuesses(cs []rune, inputs []string) float64 {
	s := estimatorString(cs)
	if estimatorCost(s) <= maxPieceCost {
		return strength(s, inputs)
	}
	s = estimatorString(removeCopies(cs))
	guesses, budget := 1.0, maxTotalCost
	for s != "" && guesses < minGuesses {
		n := affordablePrefix(s, min(maxPieceCost, budget))
		if n == 0 {
			break
		}
		budget -= estimatorCost(s[:n])
		guesses *= strength(s[:n], inputs)
		s = s[n:]
	}
	return guesses
}

// strength returns zxcvbn's guess estimate for s, an output of
// estimatorString.
func strength(s string, inputs []string) float64 {
	return zxcvbn.PasswordStrength(s, inputs).Guesses
}

// l33tTable is zxcvbn's table of l33t substitutions: the characters that may
// stand for each letter.
var l33tTable = [...]string{
	"4@",   // a
	"8",    // b
	"({[<", // c
	"3",    // e
	"69",   // g
	"1!|",  // i
	"1|7",  // l
	"0",    // o
	"$5",   // s
	"+7",   // t
	"%",    // x
	"2",    // z
}

// l33tCombinations returns a bound on the number of combinations of l33t
// substitutions that zxcvbn's l33t matcher tries for s: none when s has no
// l33t character, else twice the product, over the letters, of how many of
// the letter's l33t characters s contains. (The port's enumeration of the
// combinations is irregular: twice the product covered it in all but 13 of
// 20,000 random sets of l33t characters, and those by at most 2.5 times.)
func l33tCombinations(s string) int {
	product, found := 1, false
	for _, chars := range l33tTable {
		present := 0
		for i := 0; i < len(chars); i++ {
			if strings.IndexByte(s, chars[i]) >= 0 {
				present++
			}
		}
		product *= max(present, 1)
		found = found || present > 0
	}
	if !found {
		return 0
	}
	return 2 * product
}

// estimatorCost returns a measure of the time zxcvbn takes to rate s, an
// output of estimatorString. Most of it goes to looking every substring of s
// up in the dictionaries, once as is, once reversed and once for each
// combination of l33t substitutions, so the cost is the number of
// substrings times the number of those passes.
func estimatorCost(s string) int {
	return (2 + l33tCombinations(s)) * len(s) * (len(s) + 1) / 2
}

// affordablePrefix returns the length of the longest prefix of s whose
// estimatorCost is at most budget (0 if there is none).
func affordablePrefix(s string, budget int) int {
	n := 0
	for n < len(s) && estimatorCost(s[:n+1]) <= budget {
		n++
	}
	return n
}

// removeCopies returns cs without the runs that copy earlier text: from left
// to right, the longest run of at least minWordLen characters starting at
// each position that equals, ignoring case, a run starting further left (the
// two may overlap, as in "abababab") is dropped. "iloveyou2026iloveyou2026…"
// becomes "iloveyou2026".
func removeCopies(cs []rune) []rune {
	out := make([]rune, 0, len(cs))
	for i := 0; i < len(cs); {
		n := longestCopy(cs, i)
		if n >= minWordLen {
			i += n
			continue
		}
		out = append(out, cs[i])
		i++
	}
	return out
}

// longestCopy returns the length of the longest run starting at cs[at] that
// equals, ignoring case, a run starting before at.
func longestCopy(cs []rune, at int) int {
	best := 0
	for from := 0; from < at; from++ {
		n := 0
		for at+n < len(cs) && unicode.ToLower(cs[from+n]) == unicode.ToLower(cs[at+n]) {
			n++
		}
		best = max(best, n)
	}
	return best
}
