package negotiate

import (
	"net/http/httptest"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"br, gzip;q=0.5", true},
		{"gzip; q=0", false},
		{"gzip;q=0.0", false},
		{"deflate, br", false},
		{"x-gzip", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", tt.header)
		if got := AcceptsGzip(r); got != tt.want {
			t.Errorf("AcceptsGzip(Accept-Encoding: %q) = %v; want %v", tt.header, got, tt.want)
		}
	}
}
