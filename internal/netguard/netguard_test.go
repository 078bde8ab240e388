package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/netguard"
)

func TestBlocked(t *testing.T) {
	for _, c := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"169.254.169.254", true},
		{"10.0.0.1", true}, {"10.255.255.255", true}, {"172.16.0.1", true}, {"192.168.1.1", true},
		{"0.0.0.0", true}, {"::", true}, {"fe80::1", true}, {"fc00::1", true}, {"100.64.0.1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"224.0.0.1", true},
		{"93.184.215.14", false}, {"2606:4700::1111", false}, {"8.8.8.8", false},
	} {
		if got := netguard.Blocked(netip.MustParseAddr(c.addr)); got != c.blocked {
			t.Errorf("Blocked(%s) = %v, want %v", c.addr, got, c.blocked)
		}
	}
}

// Registration-time check: literal addresses and a name that resolves to
// loopback (localhost) are refused; AllowPrivate lets them through.
func TestCheckHost(t *testing.T) {
	ctx := context.Background()
	g := netguard.Guard{}
	for _, h := range []string{"127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "10.20.30.40", "localhost"} {
		if err := g.CheckHost(ctx, h); !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("CheckHost(%s) = %v, want ErrBlocked", h, err)
		}
	}
	if err := (netguard.Guard{AllowPrivate: true}).CheckHost(ctx, "localhost"); err != nil {
		t.Errorf("CheckHost(localhost) with AllowPrivate = %v", err)
	}
}

// Connect-time check: a request through the guarded dialer to a loopback
// server, by address or by a name that resolves to it, never reaches it,
// and dials to 169.254.169.254, 10.x and ::1 are refused before any packet
// is sent (Control runs before connect).
func TestDialerRefusesResolvedAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		Proxy: nil, DialContext: netguard.Guard{}.Dialer().DialContext}}
	for _, u := range []string{srv.URL, "http://localhost:" + port, "http://[::1]:" + port,
		"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:" + port} {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s went through", u)
			continue
		}
		if !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("GET %s = %v, want ErrBlocked", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests", n)
	}
	allowed := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: netguard.Guard{AllowPrivate: true}.Dialer().DialContext}}
	resp, err := allowed.Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	resp.Body.Close()
}
