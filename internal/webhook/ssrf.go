package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The guard against server-side request forgery (docs/behaviour.md §10.5): an endpoint may
// not be an address of the service's own network. It is checked on the names' addresses at
// creation, and again on the very address each delivery connects to (a dialer's Control runs
// after the name was resolved), so that a name re-pointed at an internal address after its
// creation (DNS rebinding) still reaches nothing.

// ErrInvalidURL refuses an endpoint URL: not http(s), malformed, or internal. The refusals of
// checkURL are URLErrors, which say why.
var ErrInvalidURL = errors.New("invalid webhook url")

// URLError refuses an endpoint URL for Reason; it is ErrInvalidURL (errors.Is).
type URLError struct {
	// Reason says what is wrong, in a few words: "scheme must be http or https".
	Reason string
}

func (e *URLError) Error() string { return ErrInvalidURL.Error() + ": " + e.Reason }

// Is makes a URLError ErrInvalidURL.
func (e *URLError) Is(target error) bool { return target == ErrInvalidURL }

// The reasons of a refused URL (docs/behaviour.md §10.5).
const (
	reasonRequired     = "url is required"
	reasonTooLong      = "longer than 2048 characters"
	reasonSpace        = "leading or trailing white space"
	reasonNotAbsolute  = "not an absolute URL"
	reasonScheme       = "scheme must be http or https"
	reasonCredentials  = "credentials are not allowed in the URL"
	reasonFragment     = "a fragment is not allowed"
	reasonPort         = "invalid port"
	reasonInternalIP   = "is an internal address"
	reasonInternalName = "resolves to an internal address"
	reasonNoResolve    = "host does not resolve"
)

func refuse(reason string) error { return &URLError{Reason: reason} }

// errRefusedAddress is a delivery that would have connected to an internal address.
var errRefusedAddress = errors.New("refused address")

// internalPrefixes are the ranges, beyond what netip classifies, that are no public endpoint:
// "this network", carrier-grade NAT (Alibaba's metadata service lives there), IETF protocol
// assignments, benchmarking, reserved and broadcast; and the IPv6 translation prefixes, whose
// embedded IPv4 address is checked instead.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("fec0::/10"),
}

// internalAddr reports whether a is loopback, private, link-local (the cloud metadata service
// 169.254.169.254 among them), multicast, unspecified or otherwise not a public host.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(a): // NAT64
			return internalAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(a): // 6to4
			return internalAddr(netip.AddrFrom4([4]byte(b[2:6])))
		case netip.MustParsePrefix("::/96").Contains(a): // IPv4-compatible (deprecated): [::127.0.0.1]
			return internalAddr(netip.AddrFrom4([4]byte(b[12:16])))
		}
	}
	return false
}

// resolveTimeout bounds the name lookup of a URL's host at creation.
const resolveTimeout = 3 * time.Second

// checkURL parses an endpoint URL and, unless allowPrivate, refuses one whose host is or
// resolves to an internal address. It returns the URL to store.
func checkURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) (string, error) {
	switch {
	case raw == "":
		return "", refuse(reasonRequired)
	case len(raw) > 2048:
		return "", refuse(reasonTooLong)
	case strings.TrimSpace(raw) != raw:
		return "", refuse(reasonSpace)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return "", refuse(reasonNotAbsolute)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", refuse(reasonScheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", refuse(reasonNotAbsolute)
	case u.User != nil:
		// Credentials in the URL would be shown in every list and audit view; the signature is
		// how a receiver authenticates the sender.
		return "", refuse(reasonCredentials)
	case u.Fragment != "":
		return "", refuse(reasonFragment)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", refuse(reasonPort)
		}
	}
	if allowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if internalAddr(a) {
			return "", refuse(reasonInternalIP)
		}
		return u.String(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", refuse(reasonNoResolve) // a name that does not resolve cannot be checked
	}
	for _, a := range addrs {
		if internalAddr(a) {
			return "", refuse(reasonInternalName)
		}
	}
	return u.String(), nil
}

// dialControl refuses, unless allowPrivate, a connection to an internal address. It runs on the
// address actually dialled, after name resolution.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errRefusedAddress, address)
		}
		if internalAddr(ap.Addr()) {
			return fmt.Errorf("%w %s", errRefusedAddress, ap.Addr())
		}
		return nil
	}
}
