package device

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Real User-Agent strings.
const (
	uaChromeWindows  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefoxLinux   = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaFirefoxUbuntu  = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaSafariMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	uaSafariIPad     = "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	uaChromeIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
	uaChromeTablet   = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36"
	uaFirefoxAndroid = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
	uaSamsungPhone   = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
	uaSamsungTablet  = "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Safari/537.36"
	uaEdgeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80"
	uaOperaWindows   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0"
	uaChromeOS       = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefoxTablet  = "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0"
	uaYandexWindows  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36"
	uaCurl           = "curl/8.5.0"
	uaOkHTTP         = "okhttp/4.12.0"
	uaGoHTTP         = "Go-http-client/1.1"
	uaIOSApp         = "AuthdApp/2.3.1 (iPhone; iOS 17.4.1; Scale/3.00)"
	uaGooglebot      = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGooglebotPhone = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaBingbot        = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
)

// garbage returns n bytes of pseudo-random bytes, the same on every run.
func garbage(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		ua   string
		want Info
	}{
		{"Chrome on Windows", uaChromeWindows, Info{"Chrome", "Windows", TypeDesktop}},
		{"Firefox on Linux", uaFirefoxLinux, Info{"Firefox", "Linux", TypeDesktop}},
		{"Firefox on Ubuntu", uaFirefoxUbuntu, Info{"Firefox", "Linux", TypeDesktop}},
		{"Safari on macOS", uaSafariMac, Info{"Safari", "macOS", TypeDesktop}},
		{"Safari on iPhone", uaSafariIPhone, Info{"Safari", "iOS", TypeMobile}},
		{"Safari on iPad", uaSafariIPad, Info{"Safari", "iPadOS", TypeTablet}},
		{"Chrome on iPhone", uaChromeIPhone, Info{"Chrome", "iOS", TypeMobile}},
		{"Chrome on Android phone", uaChromeAndroid, Info{"Chrome", "Android", TypeMobile}},
		{"Chrome on Android tablet", uaChromeTablet, Info{"Chrome", "Android", TypeTablet}},
		{"Firefox on Android phone", uaFirefoxAndroid, Info{"Firefox", "Android", TypeMobile}},
		{"Samsung phone", uaSamsungPhone, Info{"Samsung Internet", "Android", TypeMobile}},
		{"Samsung tablet", uaSamsungTablet, Info{"Samsung Internet", "Android", TypeTablet}},
		{"Edge on Windows", uaEdgeWindows, Info{"Edge", "Windows", TypeDesktop}},
		{"Opera on Windows", uaOperaWindows, Info{"Opera", "Windows", TypeDesktop}},
		{"Chrome on ChromeOS", uaChromeOS, Info{"Chrome", "ChromeOS", TypeDesktop}},
		// An HTTP library is a client of unknown kind, not a crawler.
		{"curl", uaCurl, Info{"curl", "", TypeUnknown}},
		{"okhttp", uaOkHTTP, Info{"okhttp", "", TypeUnknown}},
		{"Go-http-client", uaGoHTTP, Info{"Go-http-client", "", TypeUnknown}},
		// An app gets its name, and the device part of its User-Agent.
		{"iOS app", uaIOSApp, Info{"AuthdApp", "iOS", TypeMobile}},
		{"Firefox on Android tablet", uaFirefoxTablet, Info{"Firefox", "Android", TypeTablet}},
		{"Chrome-based browser", uaYandexWindows, Info{"YaBrowser", "Windows", TypeDesktop}},
		{"no browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", Info{"", "Windows", TypeDesktop}},
		{"crawler without a URL", "Mozilla/5.0 (compatible; ExampleBot/1.0)", Info{"ExampleBot", "", TypeBot}},
		{"crawler with a URL", "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", Info{"Baiduspider", "", TypeBot}},
		{"Googlebot", uaGooglebot, Info{"Googlebot", "", TypeBot}},
		{"Googlebot smartphone", uaGooglebotPhone, Info{"Googlebot", "", TypeBot}},
		{"bingbot", uaBingbot, Info{"bingbot", "", TypeBot}},
		{"empty", "", Info{"", "", TypeUnknown}},
		{"spaces", "   ", Info{"", "", TypeUnknown}},
		{"no version", "Mozilla", Info{"", "", TypeUnknown}},
		{"hostile product name", "\x1b[31mevil/1.0 <script>/2", Info{"", "", TypeUnknown}},
		{"8 KiB of garbage", garbage(8 << 10), Info{"", "", TypeUnknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parse(tt.ua); got != tt.want {
				t.Errorf("Parse(%.120q) = %+v, want %+v", tt.ua, got, tt.want)
			}
		})
	}
}

func TestParse_hostileInputIsFast(t *testing.T) {
	inputs := []string{
		garbage(8 << 10),
		strings.Repeat("(", 8<<10),
		strings.Repeat("a", 8<<10),
		strings.Repeat("x/1 ", 2<<10),
		strings.Repeat("Mozilla/5.0 (iPhone; Android; Googlebot/", 200),
		strings.Repeat("\xff", 8<<10),
	}
	for _, in := range inputs {
		start := time.Now()
		for range 10 {
			Parse(in)
		}
		// Tens of microseconds in practice; the bound is loose for slow,
		// shared or race-instrumented runs.
		if d := time.Since(start) / 10; d > 20*time.Millisecond {
			t.Errorf("Parse(%.40q...) took %v per call, want < 20ms", in, d)
		}
	}
}

func TestInfo_Name(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{"Chrome", "Windows", TypeDesktop}, "Chrome on Windows"},
		{Info{"Firefox", "Linux", TypeDesktop}, "Firefox on Linux"},
		{Info{"Safari", "macOS", TypeDesktop}, "Safari on macOS"},
		{Info{"Safari", "iOS", TypeMobile}, "Safari on iPhone"},
		{Info{"Safari", "iPadOS", TypeTablet}, "Safari on iPad"},
		{Info{"Safari", "iOS", TypeTablet}, "Safari on iPad"},
		{Info{"Samsung Internet", "Android", TypeTablet}, "Samsung Internet on Android"},
		{Info{"curl", "", TypeBot}, "curl"},
		{Info{"okhttp", "", TypeUnknown}, "okhttp"},
		{Info{"", "Android", TypeMobile}, "Android"},
		{Info{"", "iOS", TypeMobile}, "iPhone"},
		{Info{"", "", TypeUnknown}, "Unknown device"},
		{Info{}, "Unknown device"},
	}
	for _, tt := range tests {
		if got := tt.info.Name(); got != tt.want {
			t.Errorf("%+v.Name() = %q, want %q", tt.info, got, tt.want)
		}
	}

	// From real User-Agents, end to end.
	for ua, want := range map[string]string{
		uaChromeWindows: "Chrome on Windows",
		uaSafariIPhone:  "Safari on iPhone",
		uaSafariIPad:    "Safari on iPad",
		uaFirefoxLinux:  "Firefox on Linux",
		uaEdgeWindows:   "Edge on Windows",
		uaSamsungTablet: "Samsung Internet on Android",
		uaCurl:          "curl",
		uaGooglebot:     "Googlebot",
		uaIOSApp:        "AuthdApp on iPhone",
		uaChromeTablet:  "Chrome on Android",
		"":              "Unknown device",
	} {
		if got := Parse(ua).Name(); got != want {
			t.Errorf("Parse(%q).Name() = %q, want %q", ua, got, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"Work laptop", "Work laptop", false},
		{"  Work laptop  ", "Work laptop", false},
		{"\u00a0Phone\u3000", "Phone", false},
		{"Lena's iPhone 📱", "Lena's iPhone 📱", false},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), false},
		{" " + strings.Repeat("a", 100) + " ", strings.Repeat("a", 100), false},
		{strings.Repeat("é", 101), "", true},
		{"", "", true},
		{"   ", "", true},
		{"\n", "", true},
		{"\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad", "", true},
		{"\u202e\u2066\u061c\x1b\x00", "", true},
		{"\u3164\u115f\u034f", "", true},
		{"Work\n", "Work", false},
		{"a\rb", "a b", false},
		{"a\tb", "a b", false},
		{"\x1b[31m", "[31m", false},
		{"red \x1b[31mlaptop", "red [31mlaptop", false},
		{"a\u202Eb", "ab", false},
		{"a\u202Ab", "ab", false},
		{"a\u2066b\u2069", "ab", false},
		{"a\u2028b", "a b", false},
		{"a\u2029b", "a b", false},
		{"a\u0085b", "a b", false},
		{"a\x7fb", "ab", false},
		{"a\x00b", "ab", false},
		{"bad \xff utf8", "bad utf8", false},
		{"Pho\u200bne", "Phone", false},
		{"Soft\u00adhyphen", "Softhyphen", false},
		{"  Work \t\n  laptop\u3000\u00a0 2 ", "Work laptop 2", false},
		{"Lena\u2060's \ufeffphone", "Lena's phone", false},
		{"\u3164", "", true},
		{strings.Repeat("a\u200b", 101), "", true},
		{strings.Repeat("a\u200b", 100), strings.Repeat("a", 100), false},
	}
	for _, tt := range tests {
		got, err := ValidateName(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ValidateName(%q) = %q, nil, want ErrInvalidName", tt.in, got)
			} else if !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) error = %v, want one wrapping ErrInvalidName", tt.in, err)
			} else if err.Error() == ErrInvalidName.Error() {
				t.Errorf("ValidateName(%q) error = %v, want a reason", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ValidateName(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

// Names derived from the user agent are clean text too, whatever the parser
// returns.
func TestInfo_NameIsClean(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{Browser: "Evil\u200b  Browser", OS: "Linux\n"}, "Evil Browser on Linux"},
		{Info{Browser: "\u202eexe", OS: ""}, "exe"},
		{Info{Browser: "\u2060", OS: "\ufeff"}, "Unknown device"},
		{Info{Browser: "Fire\u00adfox", OS: "\u00ad"}, "Firefox"},
		{Info{Browser: "", OS: "\u200b"}, "Unknown device"},
	}
	for _, tt := range tests {
		if got := tt.info.Name(); got != tt.want {
			t.Errorf("%+v.Name() = %q, want %q", tt.info, got, tt.want)
		}
	}
}

func TestCleanUserAgent(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{uaChromeWindows, uaChromeWindows},
		{"Mozilla\n\x1b[31mX", "Mozilla[31mX"},
		{"a\r\nb\tc\x00d\x7fe\u0085f", "abcdef"},
		{"a\u202Eb\u2066c\u2028d", "abcd"},
		{"Mozilla/5.0 (Linux; Android 14; Galaxy Tab S9 Ultra; de-DE) ÄÖÜ", "Mozilla/5.0 (Linux; Android 14; Galaxy Tab S9 Ultra; de-DE) ÄÖÜ"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8"},
		{"=HYPERLINK(\"http://x\")", "=HYPERLINK(\"http://x\")"},
	}
	for _, tt := range tests {
		if got := CleanUserAgent(tt.in); got != tt.want {
			t.Errorf("CleanUserAgent(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	long := []string{
		strings.Repeat("a", 10<<10),
		strings.Repeat("é", 5<<10),       // 2-byte runes: 512 bytes fit exactly 256
		"a" + strings.Repeat("€", 4<<10), // 3-byte runes: a cut mid-rune would break UTF-8
		strings.Repeat("😀", 3<<10),
		garbage(10 << 10),
		strings.Repeat("\n", 10<<10) + "ok",
	}
	for _, in := range long {
		got := CleanUserAgent(in)
		if len(got) > MaxUserAgentBytes || !utf8.ValidString(got) || strings.ContainsFunc(got, isForbidden) {
			t.Errorf("CleanUserAgent(%.40q...) = %.40q... (%d bytes, valid UTF-8 %v), want <= %d bytes of valid UTF-8 without control characters",
				in, got, len(got), utf8.ValidString(got), MaxUserAgentBytes)
		}
		if len(got) < MaxUserAgentBytes-utf8.UTFMax && len(in) > 2*MaxUserAgentBytes && !strings.HasPrefix(in, "\n") {
			t.Errorf("CleanUserAgent(%.40q...) cut to %d bytes, want about %d", in, len(got), MaxUserAgentBytes)
		}
	}
	if got := CleanUserAgent(strings.Repeat("\n", 10<<10) + "ok"); got != "ok" {
		t.Errorf("CleanUserAgent(10 KiB of newlines + %q) = %q, want %q", "ok", got, "ok")
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Parse(uaChromeWindows)
	}
}

func BenchmarkParse_garbage8KiB(b *testing.B) {
	g := garbage(8 << 10)
	b.ReportAllocs()
	for b.Loop() {
		Parse(g)
	}
}
