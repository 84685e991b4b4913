package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// demoGarage returns the id of the demo garage a running parkd serves.
func demoGarage(t *testing.T, base string) string {
	t.Helper()
	var lots struct{ Lots []struct{ ID, Name string } }
	getJSON(t, base+"/api/v1/lots", http.StatusOK, &lots)
	for _, l := range lots.Lots {
		if strings.Contains(l.Name, "Garage") {
			return l.ID
		}
	}
	t.Fatalf("no demo garage among %+v", lots.Lots)
	return ""
}

// post sends a JSON body with a bearer token and an Idempotency-Key and
// returns the status and body; a transport error is status 0. It never fails
// the test, so load goroutines may use it.
func post(base, path, token, body, key string) (int, []byte) {
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// jsonField returns a top-level string field of a JSON object.
func jsonField(b []byte, name string) string {
	var m map[string]any
	json.Unmarshal(b, &m)
	s, _ := m[name].(string)
	return s
}
