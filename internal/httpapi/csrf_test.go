package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"parkd/internal/store/teststore"
)

// TestCrossOriginRequests checks that a page of another site cannot use a
// signed-in browser's cookie to change things, while parkd's own pages,
// programs without a browser, and bearer tokens can.
func TestCrossOriginRequests(t *testing.T) {
	e := newAPI(t, teststore.Backends(t)[0])
	driver := signUp(t, e.srv.URL, "Ada", "ada@example.com")
	signIn := (&client{t: t, base: e.srv.URL}).must(201, "POST", "/api/v1/sessions",
		map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	var session *http.Cookie
	for _, c := range (&http.Response{Header: signIn.header}).Cookies() {
		session = c
	}
	if session == nil {
		t.Fatal("sign-in set no cookie")
	}
	addVehicle := func(i int, headers map[string]string) *http.Response {
		t.Helper()
		body := `{"plate":"AB` + strconv.Itoa(100+i) + `","size":"standard"}`
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/users/me/vehicles", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	own := e.srv.URL // the Origin of parkd's own pages
	cookie := session.Name + "=" + session.Value
	cases := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cookie from another site (Sec-Fetch-Site)", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"cookie from a sibling origin (Sec-Fetch-Site)", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"}, 403},
		{"cookie from another origin (old browser: Origin only)", map[string]string{"Cookie": cookie, "Origin": "https://evil.example"}, 403},
		{"cookie from parkd's own page", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Origin": own}, 201},
		{"cookie from parkd's own page (old browser: Origin only)", map[string]string{"Cookie": cookie, "Origin": own}, 201},
		{"cookie from a program (no origin)", map[string]string{"Cookie": cookie}, 201},
		{"bearer token", map[string]string{"Authorization": "Bearer " + driver.token, "Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}, 201},
	}
	for i, c := range cases {
		if resp := addVehicle(i, c.headers); resp.StatusCode != c.want {
			t.Errorf("%s: POST vehicles = %d; want %d", c.name, resp.StatusCode, c.want)
		} else if c.want == 403 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: refused with %q; want a problem", c.name, resp.Header.Get("Content-Type"))
		}
	}
	// Reading is always allowed: the live map and the lots are public.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/users/me/vehicles", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("cross-site GET = %d; want 200 (safe methods pass)", resp.StatusCode)
	}
}
