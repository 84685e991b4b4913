package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"parkd/internal/httpapi"
)

// client talks to a test server as one caller.
type client struct {
	t     testing.TB
	base  string
	token string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the body as a problem.
func (r response) problem() httpapi.Problem {
	var p httpapi.Problem
	json.Unmarshal(r.body, &p)
	return p
}

// into decodes the body into v.
func (r response) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; body is JSON-encoded unless it is a string. headers are
// name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any, headers ...string) response {
	c.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.status != want {
		c.t.Fatalf("%s %s = %d %s; want %d", method, path, r.status, r.body, want)
	}
	return r
}

// signUp creates a driver and signs in as them.
func signUp(t testing.TB, base, name, email string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	c.must(http.StatusCreated, "POST", "/api/v1/users", map[string]string{"name": name, "email": email, "password": "correct horse battery"})
	var s struct{ Token string }
	c.must(http.StatusCreated, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse battery"}).into(t, &s)
	c.token = s.Token
	return c
}
