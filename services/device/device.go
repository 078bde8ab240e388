// UA parsing: mileusna/useragent — maintained (v1.3.5, 2024), no dependencies, a single linear tokenizer with no tables
// built at start-up (~0 B of heap at rest, ~0.5 KiB and 14 objects per Parse), tells tablets from phones and flags
// bots. It replaced medama-io/go-useragent, whose trie held 5.2 MiB in 166,000 heap objects that every GC cycle had to
// mark again (a third of authd's live heap, most of its objects: BENCHMARKS.md); uap-go's regexes took ms per uncached
// UA, mssola/useragent lacks tablets and is dormant.

// Package device describes the device behind a session: the browser, operating
// system and kind of device parsed from its User-Agent header, the default
// name shown for it, the cleaned User-Agent that may be stored and shown, the
// checks on a name chosen by the user, and the IP prefix stored instead of the
// full client address.
package device

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mileusna/useragent"
)

// Device types reported in Info.DeviceType.
const (
	TypeDesktop = "desktop"
	TypeMobile  = "mobile"
	TypeTablet  = "tablet"
	TypeBot     = "bot"
	TypeUnknown = "unknown"
)

const (
	// maxParseBytes bounds the part of a User-Agent that Parse looks at.
	// Real User-Agents are a few hundred bytes; the cap keeps hostile
	// headers cheap.
	maxParseBytes = 1024
	// maxProductLen bounds a product name taken from the User-Agent text.
	maxProductLen = 40
	// MaxUserAgentBytes is the longest User-Agent CleanUserAgent returns.
	MaxUserAgentBytes = 512
	// MaxNameRunes is the longest device name ValidateName accepts.
	MaxNameRunes = 100
)

// ErrInvalidName is returned (wrapped with the reason) by ValidateName.
var ErrInvalidName = errors.New("invalid device name")

// Info is what authd shows about a device, parsed from its User-Agent.
type Info struct {
	// Browser is "Chrome", "Firefox", "Safari", "Edge", "Opera",
	// "Samsung Internet", ..., the product name of a non-browser client
	// ("curl", "okhttp", "Go-http-client", "Googlebot"), or "" when unknown.
	Browser string
	// OS is "Windows", "macOS", "Linux", "Android", "iOS", "iPadOS",
	// "ChromeOS", "FreeBSD", "Windows Phone", "BlackBerry", "HarmonyOS"
	// or "".
	OS string
	// DeviceType is "desktop", "mobile", "tablet", "bot" or "unknown".
	DeviceType string
}

// Parse parses a User-Agent header. It never panics, and its cost is linear
// in at most the first 1 KiB of userAgent, so hostile headers stay cheap.
func Parse(userAgent string) Info {
	if len(userAgent) > maxParseBytes {
		userAgent = userAgent[:maxParseBytes]
	}
	ua := useragent.Parse(userAgent)

	info := Info{
		Browser:    browserName(ua, userAgent),
		OS:         osName(ua.OS),
		DeviceType: deviceType(ua),
	}

	switch {
	case info.OS == "iOS" && info.DeviceType == TypeTablet:
		// iPads have run iPadOS since version 13.
		info.OS = "iPadOS"
	case info.OS == "Android" && info.DeviceType == TypeMobile && !strings.Contains(userAgent, "Mobile"):
		// Android browsers put "Mobile" in the User-Agent of phones only;
		// the library counts an Android device as a phone unless its
		// User-Agent says "tablet".
		info.DeviceType = TypeTablet
	}

	crawler := productName(userAgent, true)
	if crawler != "" {
		// The library flags the crawlers it knows and those that give a
		// URL; one that only names itself ("FooBot/1.0") is a bot too.
		info.DeviceType = TypeBot
	}
	if info.DeviceType == TypeBot && crawler != "" {
		// A crawler names itself ("Googlebot/2.1") beside the browser and
		// OS it imitates; show the crawler.
		info.Browser = crawler
		info.OS = ""
	}
	if info.Browser == "" {
		// Not a known browser: an app or HTTP library ("okhttp/4.12.0").
		info.Browser = productName(userAgent, false)
	}
	return info
}

// browserName maps the library's browser name to the one authd shows. The
// library names a client it does not know after one of the User-Agent's
// product tokens, or after the whole User-Agent when it finds none; only a
// token with a version that is a short plain word is kept, so the result
// is always safe to show.
func browserName(ua useragent.UserAgent, userAgent string) string {
	switch ua.Name {
	case useragent.SamsungBrowser:
		return "Samsung Internet"
	case useragent.Chrome, useragent.Firefox, useragent.Safari, useragent.Edge, useragent.Opera,
		useragent.OperaMini, useragent.OperaTouch, useragent.Vivaldi, useragent.InternetExplorer,
		useragent.HeadlessChrome, useragent.NetFront, useragent.Googlebot, useragent.Applebot,
		useragent.Bingbot, useragent.GoogleAdsBot, useragent.FacebookApp, useragent.InstagramApp, useragent.TiktokApp,
		"Miui Browser", "Huawei Browser", "Android browser":
		return ua.Name
	}
	if ua.Name == userAgent || ua.Version == "" || !isProductName(ua.Name) {
		return ""
	}
	return ua.Name
}

// osName maps the library's OS names to the ones authd shows.
func osName(os string) string {
	if os == useragent.Harmony {
		return "HarmonyOS"
	}
	return os
}

// deviceType maps the library's device flags to Info.DeviceType.
func deviceType(ua useragent.UserAgent) string {
	switch {
	case ua.Bot:
		return TypeBot
	case ua.Tablet:
		return TypeTablet
	case ua.Mobile:
		return TypeMobile
	case ua.Desktop:
		return TypeDesktop
	}
	return TypeUnknown
}

// productName returns the name of the first "name/version" product token of
// ua other than "Mozilla", or with botOnly the first whose name says it is a
// crawler. Names that are not short plain ASCII words are skipped, so the
// result is always safe to show.
func productName(ua string, botOnly bool) string {
	for ua != "" {
		i := strings.IndexAny(ua, " ;(),")
		tok := ua
		if i >= 0 {
			tok, ua = ua[:i], ua[i+1:]
		} else {
			ua = ""
		}
		name, version, ok := strings.Cut(tok, "/")
		if !ok || version == "" || !isProductName(name) || strings.EqualFold(name, "Mozilla") {
			continue
		}
		if botOnly && !isCrawlerName(name) {
			continue
		}
		return name
	}
	return ""
}

// isProductName reports whether s is a short ASCII word that starts with a
// letter and holds only letters, digits, '-', '_' and '.'.
func isProductName(s string) bool {
	if s == "" || len(s) > maxProductLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// isCrawlerName reports whether a product name is a crawler's, such as
// "Googlebot", "bingbot" or "Baiduspider".
func isCrawlerName(name string) bool {
	lower := strings.ToLower(name)
	return strings.Contains(lower, "bot") || strings.Contains(lower, "spider") || strings.Contains(lower, "crawler")
}

// Name is the default device name of a session without a device_name:
// "Chrome on Windows", "Firefox on Linux", "Safari on iPhone" and "Safari on
// iPad" (Apple's mobile devices are named rather than their OS), just the
// client ("curl") or the device ("Android") when only one is known, and
// "Unknown device" when nothing is known.
func (i Info) Name() string {
	// The parts are fixed names and ASCII product tokens today; cleaning
	// keeps the rule that every device name is clean text whatever the
	// parser returns.
	c := Info{Browser: CleanName(i.Browser), OS: CleanName(i.OS), DeviceType: i.DeviceType}
	return c.name()
}

func (i Info) name() string {
	dev := i.OS
	switch {
	case i.OS == "iPadOS", i.OS == "iOS" && i.DeviceType == TypeTablet:
		dev = "iPad"
	case i.OS == "iOS":
		dev = "iPhone"
	}
	switch {
	case i.Browser != "" && dev != "":
		return i.Browser + " on " + dev
	case i.Browser != "":
		return i.Browser
	case dev != "":
		return dev
	}
	return "Unknown device"
}

// isForbidden reports whether r must not appear in a stored or shown text:
// control characters (C0, DEL, C1, including \n, \r and ESC), the line and
// paragraph separators U+2028 and U+2029, and the bidirectional embeddings,
// overrides and isolates U+202A–U+202E and U+2066–U+2069 that can make text
// display differently from what it is.
func isForbidden(r rune) bool {
	return unicode.IsControl(r) ||
		r == '\u2028' || r == '\u2029' ||
		'\u202A' <= r && r <= '\u202E' ||
		'\u2066' <= r && r <= '\u2069'
}

// CleanUserAgent returns the user agent as it may be stored and shown: invalid
// UTF-8 replaced with U+FFFD, the characters rejected by ValidateName (control
// characters including \n, \r and ESC, line separators and bidi overrides)
// removed, and the result cut on a rune boundary to at most 512 bytes.
func CleanUserAgent(ua string) string {
	var b strings.Builder
	b.Grow(min(len(ua), MaxUserAgentBytes))
	for len(ua) > 0 {
		r, size := utf8.DecodeRuneInString(ua)
		ua = ua[size:]
		if isForbidden(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxUserAgentBytes {
			break
		}
		b.WriteRune(r) // an invalid byte decodes to, and is written as, U+FFFD
	}
	return b.String()
}

// CleanName returns name as clean device-name text: white space of any kind
// (spaces, tabs, line breaks, U+2028, U+2029, U+0085) becomes one space per
// run, every other control (Cc) and format (Cf) character is removed (ESC,
// zero-width spaces and joiners U+200B–U+200D, U+2060, U+FEFF, the soft hyphen
// U+00AD, the bidi marks, embeddings, overrides and isolates), as are the
// other invisible default-ignorable code points (U+034F, the Hangul fillers
// U+115F, U+1160, U+3164, U+FFA0, ...) and invalid UTF-8; the result is
// trimmed. Line breaks become spaces rather than disappearing, so that
// "Work\nlaptop" reads "Work laptop".
func CleanName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	space := false // a space is pending
	for len(name) > 0 {
		r, size := utf8.DecodeRuneInString(name)
		name = name[size:]
		switch {
		case r == utf8.RuneError && size == 1:
			// invalid UTF-8: dropped
		case unicode.IsSpace(r) || r == '\u2028' || r == '\u2029':
			space = b.Len() > 0
		case invisible(r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// invisible reports whether r is a control, format or other
// default-ignorable character that CleanName removes.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// ValidateName checks a user-chosen device name after cleaning it with
// CleanName: the clean name must be 1 to 100 characters (runes). It returns
// the clean name, or ErrInvalidName wrapped with the reason.
func ValidateName(name string) (string, error) {
	name = CleanName(name)
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return "", fmt.Errorf("%w: must have a visible character", ErrInvalidName)
	}
	if n > MaxNameRunes {
		return "", fmt.Errorf("%w: must be at most %d characters, got %d", ErrInvalidName, MaxNameRunes, n)
	}
	return name, nil
}
