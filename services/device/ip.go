package device

import (
	"net/netip"
	"strings"
)

const (
	// IPv4PrefixBits is the length of the stored network of an IPv4 client.
	IPv4PrefixBits = 24
	// IPv6PrefixBits is the length of the stored network of an IPv6 client.
	IPv6PrefixBits = 48
	// maxAddrLen bounds the address text PrefixString tries to parse; the
	// longest textual IPv6 address with a port and a zone is far shorter.
	maxAddrLen = 128
)

// Prefix returns the network of addr as authd stores it: /24 for IPv4 (and
// IPv4-mapped IPv6, reported as IPv4), /48 for IPv6, e.g. "203.0.113.0/24",
// "2001:db8:1::/48". Any zone is dropped; the full address is never returned.
// It returns "" for the zero Addr.
func Prefix(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap().WithZone("")
	bits := IPv6PrefixBits
	if addr.Is4() {
		bits = IPv4PrefixBits
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// PrefixString parses an address string as gin's ClientIP returns it,
// possibly in brackets ("[2001:db8::1]"), with a zone ("fe80::1%eth0") or
// with a port ("192.0.2.7:443"), and returns its Prefix, or "" when it does
// not parse.
func PrefixString(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxAddrLen {
		return ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return Prefix(ap.Addr())
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	// The zone is dropped anyway; cutting it first also accepts an IPv4
	// address with a zone, which netip refuses.
	s, _, _ = strings.Cut(s, "%")
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return Prefix(addr)
}
