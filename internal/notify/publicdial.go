package notify

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// sharedAddressSpace is 100.64.0.0/10 (RFC 6598), carriers' NAT: not public.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// PublicHTTPClient returns a client that connects only to public addresses.
// Operators choose their webhook URLs; without this, one could point parkd at
// its own network (the database, a cloud's metadata service). The check is made
// on the address actually dialled, after DNS, so a name that resolves to a
// private address is refused too. It uses no proxy, which would be dialled
// instead.
func PublicHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: refuseNonPublic}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = dialer.DialContext
	return &http.Client{Timeout: timeout, Transport: t}
}

// refuseNonPublic is a net.Dialer Control that refuses loopback, private,
// link-local, shared, unspecified and multicast addresses.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook address %q: %w", address, err)
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedAddressSpace.Contains(ip) {
		return fmt.Errorf("webhook address %s is not public: refused (see --webhooks-allow-private)", ip)
	}
	return nil
}
