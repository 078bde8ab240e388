package middleware

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services/device"
)

// FuzzClientAddress: whatever X-Forwarded-For and X-Real-IP say, the client
// address the limits and events use is the TCP peer unless that peer is a
// trusted proxy (F6, RL-01); behind one it is an address, never header
// garbage; and its prefix and rate-limit unit are always well formed.
func FuzzClientAddress(f *testing.F) {
	for _, s := range []struct {
		trusted     bool
		xff, realIP string
	}{
		{false, "203.0.113.9", "203.0.113.9"},
		{true, "203.0.113.9", ""},
		{true, "203.0.113.9, 10.0.0.7", ""},
		{true, "2001:db8:1::7, 127.0.0.1", ""},
		{true, "::ffff:192.0.2.1", ""},
		{true, "fe80::1%eth0", ""},
		{true, "garbage, , ,", "also garbage"},
		{true, "[2001:db8::1]:443", ""},
		{true, "", "198.51.100.4"},
		{false, "", ""},
		{true, "1.2.3.4\r\nX-Evil: 1", ""},
	} {
		f.Add(s.trusted, s.xff, s.realIP)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies([]string{"127.0.0.1/32", "10.0.0.0/8"}); err != nil {
		f.Fatal(err)
	}
	var got string
	r.GET("/", func(c *gin.Context) { got = c.ClientIP() })

	f.Fuzz(func(t *testing.T, trusted bool, xff, realIP string) {
		peer := "198.51.100.200"
		if trusted {
			peer = "127.0.0.1"
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = peer + ":40000"
		req.Header["X-Forwarded-For"] = []string{xff}
		req.Header["X-Real-Ip"] = []string{realIP}
		got = ""
		r.ServeHTTP(httptest.NewRecorder(), req)

		addr, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("ClientIP(peer %s, XFF %q, X-Real-IP %q) = %q, not an address", peer, xff, realIP, got)
		}
		if !trusted && got != peer {
			t.Fatalf("ClientIP(untrusted peer %s, XFF %q) = %q, want the peer", peer, xff, got)
		}
		prefix := device.PrefixString(got)
		p, err := netip.ParsePrefix(prefix)
		if err != nil || (p.Bits() != 24 && p.Bits() != 48) || p != p.Masked() {
			t.Fatalf("PrefixString(%q) = %q, want a /24 or /48 network", got, prefix)
		}
		unit := rateAddress(got)
		if addr.Unmap().Is4() {
			if u, err := netip.ParseAddr(unit); err != nil || u != addr.Unmap() {
				t.Fatalf("rateAddress(%q) = %q, want the IPv4 address", got, unit)
			}
		} else if u, err := netip.ParsePrefix(unit); err != nil || u.Bits() != 64 || !u.Contains(addr.WithZone("")) {
			t.Fatalf("rateAddress(%q) = %q, want its /64", got, unit)
		}
	})
}
