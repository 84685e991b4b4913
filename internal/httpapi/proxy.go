package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads a comma-separated list of addresses and networks
// ("127.0.0.1/32, ::1, 10.0.0.0/8") whose X-Forwarded-For parkd believes.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a network", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

type clientAddressKey struct{}

type viaHTTPSKey struct{}

// withClientAddress decides once who the client is, for the sign-in
// throttle, the anonymous Idempotency-Key scope and the access log: the peer
// that connected, unless that peer is a trusted proxy (nginx), in which case
// the rightmost address of X-Forwarded-For that is not a trusted proxy. The
// hops left of it were written by the client and are not believed; nor is the
// header of a peer that is not trusted. Likewise a trusted proxy's
// X-Forwarded-Proto says whether the client reached it over HTTPS.
func withClientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := peerAddress(r)
		addr := forwardedClient(peer, r.Header.Values("X-Forwarded-For"), trusted)
		ctx := context.WithValue(r.Context(), clientAddressKey{}, addr)
		if isTrusted(peer, trusted) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			ctx = context.WithValue(ctx, viaHTTPSKey{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// viaHTTPS reports whether the client reached parkd over HTTPS, directly or
// through a trusted proxy: its cookies are then Secure, and its links https.
func viaHTTPS(r *http.Request) bool {
	forwarded, _ := r.Context().Value(viaHTTPSKey{}).(bool)
	return r.TLS != nil || forwarded
}

// clientAddress is the client's IP as withClientAddress decided it, or the
// peer's when it did not run.
func clientAddress(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddressKey{}).(string); ok {
		return a
	}
	return peerAddress(r)
}

// peerAddress is the IP of the peer that connected.
func peerAddress(r *http.Request) string {
	host := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(host); err == nil {
		return ap.Addr().Unmap().String()
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// forwardedClient walks X-Forwarded-For from the right, starting at the peer,
// for as long as each hop is a trusted proxy, and returns the first hop that
// is not one (the client as the outermost proxy saw it). A hop that is not an
// address ends the walk at the last trusted one.
func forwardedClient(peer string, header []string, trusted []netip.Prefix) string {
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, h := range header {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return client
		}
		client = a.Unmap().String()
		if !isTrusted(client, trusted) {
			return client
		}
	}
	return client
}

func isTrusted(addr string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
