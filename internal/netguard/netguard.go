// Package netguard keeps outbound requests of authd (webhook deliveries)
// away from the network authd itself runs in (SSRF): loopback, link-local
// (cloud metadata at 169.254.169.254), private, shared, unspecified and
// multicast addresses are refused. The check that matters is the one at
// connect time (Control), on the address actually dialled after DNS
// resolution, so that a name that resolves to 127.0.0.1, or re-resolves to
// it later (DNS rebinding), is refused as well as the literal address.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrBlocked is returned for a destination in a refused range.
var ErrBlocked = errors.New("destination address is not allowed")

// blockedPrefixes are ranges outside IsLoopback/IsPrivate/… that are not
// public either.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:10::/28"),   // ORCHID
	netip.MustParsePrefix("::ffff:0:0/96"),  // IPv4-mapped (checked unmapped below)
}

// Blocked reports whether ip is an address authd must not connect to.
func Blocked(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Guard checks destinations. AllowPrivate turns the checks off (a webhook
// receiver on the operator's own network, or tests).
type Guard struct {
	AllowPrivate bool
	// Resolver resolves names for CheckHost (nil: net.DefaultResolver).
	Resolver *net.Resolver
}

// Control is a net.Dialer Control function: it refuses the connection when
// the resolved address about to be dialled is blocked.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlocked, address)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlocked, ap.Addr())
	}
	return nil
}

// CheckHost resolves host (a name or a literal address) and returns
// ErrBlocked when any of its addresses is blocked. It is the early check at
// registration, for a clear answer; Control still decides at connect time.
func (g Guard) CheckHost(ctx context.Context, host string) error {
	if g.AllowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return fmt.Errorf("%w: %s", ErrBlocked, ip)
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if Blocked(a) {
			return fmt.Errorf("%w: %s resolves to %s", ErrBlocked, host, a.Unmap())
		}
	}
	return nil
}

// Dialer returns a dialer whose connections pass Control.
func (g Guard) Dialer() *net.Dialer {
	return &net.Dialer{Control: g.Control}
}
