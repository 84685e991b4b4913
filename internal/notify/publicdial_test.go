package notify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parkd/internal/notify"
)

// TestPublicHTTPClient: webhooks cannot be pointed at parkd's own network,
// by address or by a name that resolves into it.
func TestPublicHTTPClient(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()
	client := notify.PublicHTTPClient(5 * time.Second)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::1]" + port, "http://10.0.0.1" + port, "http://169.254.169.254/latest/meta-data/"} {
		resp, err := client.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST %s = %s; want it refused", u, resp.Status)
			continue
		}
		if !strings.Contains(err.Error(), "not public") {
			t.Errorf("POST %s = %v; want refused as not public", u, err)
		}
	}
	if hits != 0 {
		t.Errorf("the loopback server was reached %d times; want 0", hits)
	}
}
