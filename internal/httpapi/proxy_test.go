package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	nginx := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxy trusted: the header is ignored", nil, "127.0.0.1:5000", []string{"198.51.100.7"}, "127.0.0.1"},
		{"an untrusted peer cannot spoof", nginx, "203.0.113.9:5000", []string{"198.51.100.7"}, "203.0.113.9"},
		{"nginx forwards the client", nginx, "127.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"hops the client wrote are not believed", nginx, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"a chain of trusted proxies", nginx, "127.0.0.1:5000", []string{"198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"several header lines", nginx, "127.0.0.1:5000", []string{"1.2.3.4", "198.51.100.7,10.1.2.3"}, "198.51.100.7"},
		{"garbage ends the walk at the last trusted hop", nginx, "127.0.0.1:5000", []string{"198.51.100.7, nonsense"}, "127.0.0.1"},
		{"trusted without a header", nginx, "127.0.0.1:5000", nil, "127.0.0.1"},
		{"every hop trusted", nginx, "127.0.0.1:5000", []string{"10.9.9.9"}, "10.9.9.9"},
		{"IPv6", nginx, "[::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", nginx, "[::ffff:127.0.0.1]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got string
			h := withClientAddress(c.trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientAddress(r) }))
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = c.peer
			for _, v := range c.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != c.want {
				t.Errorf("clientAddress(peer %s, X-Forwarded-For %q) = %q; want %q", c.peer, c.xff, got, c.want)
			}
		})
	}
}

func TestRequestIDFromTrustedProxy(t *testing.T) {
	nginx := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cases := []struct {
		peer, sent string
		kept       bool
	}{
		{"127.0.0.1:1", "0f8fad5bd9cb469fa16570867728950e", true},
		{"203.0.113.9:1", "0f8fad5bd9cb469fa16570867728950e", false}, // not from nginx
		{"127.0.0.1:1", "4111111111111111", false},                   // reads as a card number
		{"127.0.0.1:1", "bad id<script>", false},
	}
	for _, c := range cases {
		var got string
		h := withRequestID(nginx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = requestID(r.Context()) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.peer
		req.Header.Set("X-Request-Id", c.sent)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if (got == c.sent) != c.kept || got == "" {
			t.Errorf("request id from %s sending %q = %q; want kept %v", c.peer, c.sent, got, c.kept)
		}
	}
}

func TestViaHTTPS(t *testing.T) {
	nginx := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		peer, proto string
		want        bool
	}{
		{"127.0.0.1:1", "https", true},
		{"127.0.0.1:1", "http", false},
		{"203.0.113.9:1", "https", false}, // not from nginx
	} {
		var got bool
		h := withClientAddress(nginx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = viaHTTPS(r) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.peer
		req.Header.Set("X-Forwarded-Proto", c.proto)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if got != c.want {
			t.Errorf("viaHTTPS(peer %s, X-Forwarded-Proto %s) = %v; want %v", c.peer, c.proto, got, c.want)
		}
	}
}
