package device

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrefix(t *testing.T) {
	tests := []struct {
		addr netip.Addr
		want string
	}{
		{netip.MustParseAddr("203.0.113.77"), "203.0.113.0/24"},
		{netip.MustParseAddr("192.0.2.7"), "192.0.2.0/24"},
		{netip.MustParseAddr("10.0.0.1"), "10.0.0.0/24"},
		{netip.MustParseAddr("127.0.0.1"), "127.0.0.0/24"},
		{netip.MustParseAddr("0.0.0.0"), "0.0.0.0/24"},
		{netip.MustParseAddr("255.255.255.255"), "255.255.255.0/24"},
		{netip.MustParseAddr("::ffff:192.0.2.7"), "192.0.2.0/24"},
		{netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "2001:db8:1::/48"},
		{netip.MustParseAddr("2001:db8:1::"), "2001:db8:1::/48"},
		{netip.MustParseAddr("2001:db8:ffff:ffff::1"), "2001:db8:ffff::/48"},
		{netip.MustParseAddr("::1"), "::/48"},
		{netip.MustParseAddr("fe80::1%eth0"), "fe80::/48"},
		{netip.Addr{}, ""},
	}
	for _, tt := range tests {
		if got := Prefix(tt.addr); got != tt.want {
			t.Errorf("Prefix(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestPrefixString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"203.0.113.77", "203.0.113.0/24"},
		{" 203.0.113.77 ", "203.0.113.0/24"},
		{"203.0.113.77:443", "203.0.113.0/24"},
		{"::ffff:192.0.2.7", "192.0.2.0/24"},
		{"[::ffff:192.0.2.7]", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"},
		{"2001:DB8:1::AB", "2001:db8:1::/48"},
		{"[2001:db8:1::1]", "2001:db8:1::/48"},
		{"[2001:db8:1::1]:8080", "2001:db8:1::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"[fe80::1%25eth0]", "fe80::/48"},
		{"[fe80::1%eth0]:443", "fe80::/48"},
		{"192.0.2.7%eth0", "192.0.2.0/24"},
		{"", ""},
		{"   ", ""},
		{"garbage", ""},
		{"unknown", ""},
		{"256.1.1.1", ""},
		{"1.2.3", ""},
		{"192.0.2.0/24", ""},
		{"2001:db8::g", ""},
		{"[2001:db8::1", ""},
		{"%eth0", ""},
		{"[]", ""},
		{"203.0.113.77, 10.0.0.1", ""},
		{strings.Repeat("1", 10000), ""},
	}
	for _, tt := range tests {
		if got := PrefixString(tt.in); got != tt.want {
			t.Errorf("PrefixString(%.60q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
