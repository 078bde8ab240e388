package device

import (
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, ua := range []string{
		uaChromeWindows, uaFirefoxLinux, uaSafariMac, uaSafariIPhone, uaSafariIPad,
		uaChromeAndroid, uaSamsungTablet, uaEdgeWindows, uaCurl, uaOkHTTP,
		uaGooglebot, uaGooglebotPhone, uaIOSApp, "",
		"Mozilla\n\x1b[31mX", "a\u202Eb", "bad \xff utf8", "x/1 (((", garbage(512),
	} {
		f.Add(ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		info := Parse(ua)
		if info.Name() == "" {
			t.Errorf("Parse(%q).Name() is empty; Info %+v", ua, info)
		}
		if name := info.Name(); !isCleanText(name) {
			t.Errorf("Parse(%q).Name() = %q, not clean text", ua, name)
		}
		switch info.DeviceType {
		case TypeDesktop, TypeMobile, TypeTablet, TypeBot, TypeUnknown:
		default:
			t.Errorf("Parse(%q) = %+v, unknown DeviceType", ua, info)
		}
		for _, s := range []string{info.Browser, info.OS} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, isForbidden) {
				t.Errorf("Parse(%q) = %+v, want valid UTF-8 without control characters", ua, info)
			}
		}

		clean := CleanUserAgent(ua)
		if len(clean) > MaxUserAgentBytes {
			t.Errorf("CleanUserAgent(%q) is %d bytes, want <= %d", ua, len(clean), MaxUserAgentBytes)
		}
		if !utf8.ValidString(clean) {
			t.Errorf("CleanUserAgent(%q) = %q, not valid UTF-8", ua, clean)
		}
		if i := strings.IndexFunc(clean, isForbidden); i >= 0 {
			t.Errorf("CleanUserAgent(%q) = %q, has a control character at %d", ua, clean, i)
		}
		if again := CleanUserAgent(clean); again != clean {
			t.Errorf("CleanUserAgent(%q) = %q, not idempotent: %q", clean, again, clean)
		}
	})
}

// isCleanText reports whether s is what CleanName returns: valid UTF-8, no
// control, format or other invisible character, no white space but single
// ASCII spaces between words.
func isCleanText(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, invisible) || strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && (unicode.IsSpace(r) || r == '\u2028' || r == '\u2029') })
}

// FuzzValidateName: a device name is refused or comes back as clean text of
// 1 to 100 characters, and cleaning it again changes nothing.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"Work laptop", "  Kitchen\ttablet \n", "Pho\u200bne", "\u202eexe.txt", "\u200b\u2060\ufeff\u00ad",
		"\u3164", "a\u2028b", "bad \xff utf8", "\x1b[31mred", strings.Repeat("é\u200b", 101), "Lena's iPhone 📱",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		clean := CleanName(in)
		if !isCleanText(clean) {
			t.Fatalf("CleanName(%q) = %q, not clean text", in, clean)
		}
		if again := CleanName(clean); again != clean {
			t.Fatalf("CleanName(%q) = %q, but CleanName of that is %q", in, clean, again)
		}
		got, err := ValidateName(in)
		if err != nil {
			if n := utf8.RuneCountInString(clean); n != 0 && n <= MaxNameRunes {
				t.Fatalf("ValidateName(%q) = %v, but its clean form %q has %d characters", in, err, clean, n)
			}
			return
		}
		if got != clean || got == "" || utf8.RuneCountInString(got) > MaxNameRunes {
			t.Fatalf("ValidateName(%q) = %q, want the clean %q of 1 to %d characters", in, got, clean, MaxNameRunes)
		}
	})
}

func FuzzPrefixString(f *testing.F) {
	for _, s := range []string{
		"203.0.113.77", "::ffff:192.0.2.7", "2001:db8:1::1", "[2001:db8:1::1]:8080",
		"fe80::1%eth0", "192.0.2.7%eth0", "", "garbage", "[", "1.2.3.4:99999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := PrefixString(s)
		if got == "" {
			return
		}
		p, err := netip.ParsePrefix(got)
		if err != nil {
			t.Fatalf("PrefixString(%q) = %q, does not parse as a prefix: %v", s, got, err)
		}
		if b := p.Bits(); b != 24 && b != 48 {
			t.Errorf("PrefixString(%q) = %q, want /24 or /48", s, got)
		}
		if p.Addr().Is4() != (p.Bits() == 24) {
			t.Errorf("PrefixString(%q) = %q, want /24 for IPv4 and /48 for IPv6", s, got)
		}
		if p != p.Masked() {
			t.Errorf("PrefixString(%q) = %q, host bits are set", s, got)
		}
	})
}
