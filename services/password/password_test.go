package password

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// printableASCII is every printable ASCII character but the space.
const printableASCII = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// randomString returns n characters drawn uniformly from alphabet.
func randomString(rng *rand.Rand, alphabet []rune, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

// runeRange returns the code points lo to hi inclusive.
func runeRange(lo, hi rune) []rune {
	rs := make([]rune, 0, hi-lo+1)
	for r := lo; r <= hi; r++ {
		rs = append(rs, r)
	}
	return rs
}

var (
	asciiAlphabet = []rune(printableASCII)
	cjkAlphabet   = runeRange(0x4E00, 0x9FFF)   // CJK Unified Ideographs: 3 bytes each
	emojiAlphabet = runeRange(0x1F300, 0x1F5FF) // Miscellaneous Symbols and Pictographs: 4 bytes each
	greekCyrillic = runeRange(0x0391, 0x04FF)   // 2 bytes each
)

// userInputs is what the service passes for alice.smith@example.com.
var userInputs = []string{"alice.smith@example.com", "alice.smith", "authd"}

func TestPolicy_Check(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random64 := randomString(rng, asciiAlphabet, 64)
	random72 := randomString(rng, asciiAlphabet, 72)
	randomCJK := randomString(rng, cjkAlphabet, 24)
	randomEmoji := randomString(rng, emojiAlphabet, 18)
	random2Byte := randomString(rng, greekCyrillic, 36)

	p12 := Policy{MinLength: 12}
	p8 := Policy{MinLength: 8}
	tests := []struct {
		name   string
		policy Policy
		pw     string
		inputs []string
		want   error
	}{
		// Minimum length, in characters.
		{"11 chars with minimum 12", p12, "Xk9#mQ2$vL7", nil, ErrTooShort},
		{"12 strong chars with minimum 12", p12, "Xk9#mQ2$vL7@", nil, nil},
		{"7 chars with minimum 8", p8, "Xk9#mQ2", nil, ErrTooShort},
		{"8 strong chars with minimum 8", p8, "Xk9#mQ2$", nil, nil},
		{"characters not bytes: 12 × é is 24 bytes but 12 chars", Policy{MinLength: 13}, strings.Repeat("é", 12), nil, ErrTooShort},
		{"empty", p12, "", nil, ErrTooShort},
		{"zero policy means 12", Policy{}, "Xk9#mQ2$vL7", nil, ErrTooShort},

		// Common and easily guessed passwords, minimum 12.
		{"password123 (11 chars)", p12, "password123", nil, ErrTooShort},
		{"password1234", p12, "password1234", nil, ErrWeak},
		{"12345678 (8 chars)", p12, "12345678", nil, ErrTooShort},
		{"qwertyuiop123", p12, "qwertyuiop123", nil, ErrWeak},
		{"aaaaaaaaaaaa", p12, "aaaaaaaaaaaa", nil, ErrWeak},
		{"P@ssw0rd2024!", p12, "P@ssw0rd2024!", nil, ErrWeak},
		{"iloveyou2026", p12, "iloveyou2026", nil, ErrWeak},
		{"abcdefghijkl", p12, "abcdefghijkl", nil, ErrWeak},
		{"12 spaces", p12, strings.Repeat(" ", 12), nil, ErrWeak},

		// Common passwords, minimum 8.
		{"password123 min 8", p8, "password123", nil, ErrWeak},
		{"12345678 min 8", p8, "12345678", nil, ErrWeak},
		{"aaaaaaaa min 8", p8, "aaaaaaaa", nil, ErrWeak},

		// Any composition is allowed.
		{"passphrase with emoji", p12, "correct horse 🐴 staple", nil, nil},
		{"64 random ASCII", p12, random64, nil, nil},
		{"72 random ASCII", p12, random72, nil, nil},
		{"72 bytes of random 3-byte runes", p12, randomCJK, nil, nil},
		{"72 bytes of random 4-byte runes", Policy{MinLength: 8}, randomEmoji, nil, nil},
		{"72 bytes of random 2-byte runes", p12, random2Byte, nil, nil},
		{"spaces inside", p12, "Tr0ub4dor & 3 xyz", nil, nil},

		// Over 72 bytes, checked first.
		{"25 × € (75 bytes)", p12, strings.Repeat("€", 25), nil, ErrTooLong},
		{"73 bytes, also weak", p12, strings.Repeat("a", 73), nil, ErrTooLong},
		{"73 bytes, also short for minimum 100", Policy{MinLength: 100}, strings.Repeat("a", 73), nil, ErrTooLong},
		{"73 bytes containing the email", p12, "alice.smith" + strings.Repeat("x", 62), userInputs, ErrTooLong},
		{"random 73 bytes", p12, random72 + "x", nil, ErrTooLong},
		{"72 × a is weak, not too long", p12, strings.Repeat("a", 72), nil, ErrWeak},
		{"18 × 🐴 (72 bytes) is weak", p12, strings.Repeat("🐴", 18), nil, ErrWeak},
		{"24 × € (72 bytes) is weak", p12, strings.Repeat("€", 24), nil, ErrWeak},

		// The user's email.
		{"built from the email", p12, "alice.smith2026!!", userInputs, ErrWeak},
		{"email local part, other case", p12, "Xk9#ALICE.Smith", userInputs, ErrWeak},
		{"whole email", p12, "alice.smith@example.com", userInputs, ErrWeak},
		{"email words as user inputs", p8, "zorblaxQ2$", []string{"zorblax.quint@example.com", "zorblax.quint", "authd"}, ErrWeak},
		{"same without user inputs", p8, "zorblaxQ2$", nil, nil},
		{"email with nothing else", p12, "alice.smith2026!!", nil, nil},
		{"local part of 3 chars is not forbidden", p12, "correct bob horse 🐴 staple", []string{"bob@example.com", "bob", "authd"}, nil},
		{"authd is guessable", p8, "authdQ2$", userInputs, ErrWeak},
		{"authd without user inputs", p8, "authdQ2$", nil, nil},

		// Used exactly as typed: spaces are characters and are not trimmed.
		{"surrounding spaces count towards the length", Policy{MinLength: 18}, "  Tr0ub4dor&3xyz  ", userInputs, nil},
		{"same without the spaces is too short", Policy{MinLength: 18}, "Tr0ub4dor&3xyz", userInputs, ErrTooShort},
		{"one leading space counts", Policy{MinLength: 15}, " Tr0ub4dor&3xyz", userInputs, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, tt.inputs...)
			if !matches(err, tt.want) {
				t.Errorf("Check(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}

// matches reports whether err is want (nil for nil) through any wrapping.
func matches(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// TestPolicy_Check_Long shows passwords longer than the estimator's single
// piece (maxEstimateLen characters) rated as a whole: repeats and other
// patterns across the middle stay weak, and long passphrases pass.
func TestPolicy_Check_Long(t *testing.T) {
	p := Policy{MinLength: 12}
	tests := []struct {
		pw   string
		want error
	}{
		{strings.Repeat("iloveyou2026", 6), ErrWeak},
		{strings.Repeat("qwerty1234", 7) + "qw", ErrWeak},
		{strings.Repeat("Password1!", 7), ErrWeak},
		{strings.Repeat("ab", 36), ErrWeak},
		{strings.Repeat("password", 9), ErrWeak},
		{strings.Repeat("19871231", 9), ErrWeak},
		{strings.Repeat("p@55w0rd", 9), ErrWeak},
		{"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst", ErrWeak},
		{strings.Repeat("1234567890", 7) + "12", ErrWeak},
		{strings.Repeat("!@#$%^&*()", 7) + "!@", ErrWeak},
		{strings.Repeat("абвгдежзий", 3), ErrWeak},
		{strings.Repeat("Alice.Smith", 6) + "xyzxyz", ErrWeak},
		{"Xk9#mQ2$vL7@pR4!" + strings.Repeat("a", 40), nil},
		{strings.Repeat("a", 40) + "Xk9#mQ2$vL7@pR4!", nil},
		{"mary had a little lamb whose fleece was white as snow", nil},
		{"the quick brown fox jumps over the lazy dog", nil},
		{"correct horse battery staple and a purple dishwasher", nil},
	}
	for _, tt := range tests {
		if err := p.Check(tt.pw, userInputs...); !matches(err, tt.want) {
			t.Errorf("Check(%q) = %v, want %v", tt.pw, err, tt.want)
		}
	}
}

// TestPolicy_Check_RandomAccepted checks many random passwords of each kind
// the contract names, so that no unlucky draw is refused.
func TestPolicy_Check_RandomAccepted(t *testing.T) {
	p := Policy{MinLength: 12}
	kinds := []struct {
		name     string
		alphabet []rune
		n        int
	}{
		{"64 ASCII", asciiAlphabet, 64},
		{"16 ASCII", asciiAlphabet, 16},
		{"24 × 3-byte", cjkAlphabet, 24},
		{"18 × 4-byte", emojiAlphabet, 18},
		{"36 × 2-byte", greekCyrillic, 36},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range kinds {
		for range 50 {
			pw := randomString(rng, k.alphabet, k.n)
			if len(pw) > MaxBytes {
				t.Fatalf("%s: %d bytes", k.name, len(pw))
			}
			if err := p.Check(pw, userInputs...); err != nil {
				t.Errorf("Check(%q) = %v, want %v", pw, err, nil)
			}
		}
	}
}

func TestPolicy_Check_ErrorsWrapped(t *testing.T) {
	p := Policy{MinLength: 12}
	tests := []struct {
		pw   string
		want error
		text string
	}{
		{strings.Repeat("€", 25), ErrTooLong, "75 bytes"},
		{"Qz9#x", ErrTooShort, "5 characters, at least 12"},
		{"alice.smith2026!!", ErrWeak, "email"},
		{"password1234", ErrWeak, "guessed"},
	}
	for _, tt := range tests {
		err := p.Check(tt.pw, userInputs...)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("Check(%q) = %v, want %v saying %q", tt.pw, err, tt.want, tt.text)
		}
		if err != nil && strings.Contains(err.Error(), tt.pw) {
			t.Errorf("Check(%q) = %v: the error repeats the password", tt.pw, err)
		}
	}
}

// hostileInputs are 72-byte passwords that are slow for zxcvbn ports: long
// repeats, many distinct l33t characters, emoji and random text.
func hostileInputs() map[string]string {
	rng := rand.New(rand.NewPCG(5, 6))
	l33t := []rune("4@8({[<3691!|70$5+%2")
	return map[string]string{
		"a×72":             strings.Repeat("a", 72),
		"ab×36":            strings.Repeat("ab", 36),
		"emoji×18":         strings.Repeat("🐴", 18),
		"€×24":             strings.Repeat("€", 24),
		"1×72":             strings.Repeat("1", 72),
		"digits":           strings.Repeat("1234567890", 7) + "12",
		"shifted digits":   strings.Repeat("1!2@3#4$5%6^7&8*9(0)", 3) + "1!2@3#4$5%6^",
		"p@55w0rd×9":       strings.Repeat("p@55w0rd", 9),
		"l33t period 20":   strings.Repeat(string(l33t), 3) + string(l33t[:12]),
		"l33t period 36":   strings.Repeat(randomString(rng, l33t, 36), 2),
		"random l33t":      randomString(rng, l33t, 72),
		"random ASCII":     randomString(rng, asciiAlphabet, 72),
		"random 3-byte":    randomString(rng, cjkAlphabet, 24),
		"weak head, l33t":  strings.Repeat("a", 36) + randomString(rng, l33t, 36),
		"l33t head, l33t":  strings.Repeat("4@8({[<3691!|70$5+%", 2) + randomString(rng, l33t, 34),
		"dates":            "12/31/1987 12/31/1987 12/31/1987 12/31/1987 12/31/1987 12/31/1987 123456",
		"alphabet":         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst",
		"keyboard×7":       strings.Repeat("qwertyuiop", 7) + "qw",
		"email repeated":   strings.Repeat("alice.smith", 6) + "alice.",
		"spaces":           strings.Repeat(" ", 72),
		"mixed case words": "PasswordDragonMonkeyShadowMasterBaseballFootballLetmeinSupermanQwertyAbc",
	}
}

// TestPolicy_Check_HostileInputsFast checks that no hostile 72-byte input
// costs more than hostileBudget ordinary passwords (before the workaround in
// estimateGuesses a random 72-character ASCII password took about 200 ms,
// some 300 ordinary ones). Each trial times the input and a block of
// refBlock ordinary Checks, which takes about as long, back to back; the
// median of the trials' ratios is compared, so that a busy machine, coverage
// or the race detector, which slow both alike, do not fail it. A median
// over the budget is measured again, at most hostileRounds times, with each
// failed round logged.
func TestPolicy_Check_HostileInputsFast(t *testing.T) {
	const (
		hostileBudget = 40
		refBlock      = 4
		hostileTrials = 5
		hostileRounds = 3
		ordinary      = "correct horse battery staple 42"
	)
	p := Policy{MinLength: 12}
	for name, pw := range hostileInputs() {
		if len(pw) != MaxBytes {
			t.Fatalf("%s: %d bytes, want %d", name, len(pw), MaxBytes)
		}
		for round := 1; ; round++ {
			ratios := make([]float64, 0, hostileTrials)
			var took, ref time.Duration
			var err error
			for range hostileTrials {
				start := time.Now()
				for range refBlock {
					_ = p.Check(ordinary, userInputs...)
				}
				ref = time.Since(start) / refBlock
				start = time.Now()
				err = p.Check(pw, userInputs...)
				took = time.Since(start)
				ratios = append(ratios, float64(took)/float64(ref))
			}
			slices.Sort(ratios)
			ratio := ratios[len(ratios)/2]
			t.Logf("%-18s %8v  %5.1f× an ordinary password (%v)  %v", name, took.Round(time.Microsecond), ratio,
				ref.Round(time.Microsecond), err)
			if ratio <= hostileBudget {
				break
			}
			if round == hostileRounds {
				t.Errorf("Check(%q) takes %.1f times as long as Check(%q) (median of %d; ratios %.1f), want at most %d times",
					pw, ratio, ordinary, hostileTrials, ratios, hostileBudget)
				break
			}
			t.Logf("round %d of %d over %d×, measuring again (ratios %.1f)", round, hostileRounds, hostileBudget, ratios)
		}
	}
}

// TestPolicy_Check_Concurrent checks that concurrent Checks give the answers
// of sequential ones (run it with -race: handlers call Check concurrently).
func TestPolicy_Check_Concurrent(t *testing.T) {
	p := Policy{MinLength: 12}
	inputs := hostileInputs()
	want := make(map[string]error, len(inputs))
	for _, pw := range inputs {
		want[pw] = p.Check(pw, userInputs...)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for pw, w := range want {
				if err := p.Check(pw, userInputs...); !sameError(err, w) {
					t.Errorf("Check(%q) = %v concurrently, %v alone", pw, err, w)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkPolicy_Check(b *testing.B) {
	p := Policy{MinLength: 12}
	inputs := hostileInputs()
	for _, name := range []string{"random ASCII", "random l33t", "l33t head, l33t", "weak head, l33t", "a×72", "ab×36", "emoji×18", "random 3-byte", "mixed case words"} {
		pw := inputs[name]
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(pw)))
			for b.Loop() {
				_ = p.Check(pw, userInputs...)
			}
		})
	}
}

func TestEstimatorString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain ASCII ~!", "plain ASCII ~!"},
		{"🐴🐴", strings.Repeat(string(placeholders['🐴'%5]), 2)},
		{"a€b", "a" + string(placeholders['€'%5]) + "b"},
		{"\xff\xfe", string(placeholders[(invalidByte+0xff)%5]) + string(placeholders[(invalidByte+0xfe)%5])},
	}
	for _, tt := range tests {
		got := estimatorString(decode(tt.in))
		if got != tt.want {
			t.Errorf("estimatorString(decode(%q)) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) != utf8.RuneCountInString(tt.in) {
			t.Errorf("estimatorString(decode(%q)) has %d bytes, want one per character", tt.in, len(got))
		}
	}
}

func TestRemoveCopies(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"iloveyou2026iloveyou2026iloveyou2026", "iloveyou2026"},
		{"abababab", "ab"},
		{"xyzXYZ!", "xyz!"},
		{"abcdef", "abcdef"},
		{"abcab", "abcab"}, // a copy of 2 characters is kept
		{"🐴🐴🐴🐴", "🐴"},
		{"passwordQ7xpassword", "passwordQ7x"},
	}
	for _, tt := range tests {
		if got := string(removeCopies([]rune(tt.in))); got != tt.want {
			t.Errorf("removeCopies(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEstimatorCost(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"abc", 2 * 6},                              // no l33t character: 6 substrings, plain and reversed
		{"a4c", (2 + 2) * 6},                        // one l33t character
		{"4@", (2 + 2*2) * 3},                       // two ways to read a
		{"({[<", (2 + 2*4) * 10},                    // four ways to read c
		{"4@8({[<3691!|70$5+%2", (2 + 2*576) * 210}, // every l33t character
	}
	for _, tt := range tests {
		if got := estimatorCost(tt.s); got != tt.want {
			t.Errorf("estimatorCost(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}
