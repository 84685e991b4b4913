package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// api is a client of a running parkd.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a *api) call(want int, method, path string, body any, out any, headers ...string) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s = %d %s; want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// TestEndToEnd drives the real program as a driver would: sign up, sign in,
// add a vehicle, list spots, hold one, cancel it, list the reservations.
func TestEndToEnd(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		c := &api{t: t, base: startParkd(t, "--db", b.DSN(t))}
		c.call(201, "POST", "/api/v1/users", map[string]string{"name": "Grace", "email": "grace@example.com", "password": "a long enough secret"}, nil)
		var sess struct{ Token string }
		c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "grace@example.com", "password": "a long enough secret"}, &sess)
		c.token = sess.Token
		var vehicle struct{ ID string }
		c.call(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "GRC 42", "size": "HATCH_BACK"}, &vehicle)

		var lots struct{ Lots []struct{ ID, Name string } }
		c.call(200, "GET", "/api/v1/lots", nil, &lots)
		garage := lots.Lots[0].ID
		for _, l := range lots.Lots {
			if strings.Contains(l.Name, "Garage") {
				garage = l.ID
			}
		}
		start := time.Now().UTC().Add(time.Hour).Truncate(time.Minute)
		end := start.Add(2 * time.Hour)
		q := "?size=compact&from=" + start.Format(time.RFC3339) + "&to=" + end.Format(time.RFC3339)
		var spots struct {
			Spots []struct{ ID, Label, Status string }
		}
		c.call(200, "GET", "/api/v1/lots/"+garage+"/spots"+strings.ReplaceAll(q, "+", "%2B"), nil, &spots)
		var pick string
		for _, s := range spots.Spots {
			if s.Status == "available" {
				pick = s.ID
				break
			}
		}
		var held struct {
			ID     string
			Status string
			SpotID string `json:"spot_id"`
		}
		c.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "spot_id": pick, "vehicle_id": vehicle.ID,
			"starts_at": start, "ends_at": end}, &held, "Idempotency-Key", "e2e-hold")
		if held.Status != "held" || held.SpotID != pick {
			t.Fatalf("hold = %+v; want held on %s", held, pick)
		}
		var one struct{ Status string }
		c.call(200, "GET", "/api/v1/lots/"+garage+"/spots/"+pick+strings.ReplaceAll(q, "+", "%2B"), nil, &one)
		if one.Status != "held" {
			t.Errorf("the held spot shows %q; want held", one.Status)
		}
		var cancelled struct{ Status string }
		c.call(200, "POST", "/api/v1/reservations/"+held.ID+"/cancel", nil, &cancelled, "Idempotency-Key", "e2e-cancel")
		var mine struct{ Reservations []struct{ ID, Status string } }
		c.call(200, "GET", "/api/v1/users/me/reservations", nil, &mine)
		if len(mine.Reservations) != 1 || mine.Reservations[0].Status != "cancelled" {
			t.Errorf("my reservations = %+v; want the one, cancelled", mine.Reservations)
		}
		c.call(200, "GET", "/api/v1/lots/"+garage+"/spots/"+pick+strings.ReplaceAll(q, "+", "%2B"), nil, &one)
		if one.Status != "available" {
			t.Errorf("the cancelled spot shows %q; want available", one.Status)
		}
	})
}

// TestDemoAccounts: the demo driver and operator can sign in.
func TestDemoAccounts(t *testing.T) {
	c := &api{t: t, base: startParkd(t, "--db", teststore.SQLiteDSN(t))}
	for _, creds := range [][2]string{{demo.DriverEmail, demo.DriverPassword}, {demo.OperatorEmail, demo.OperatorPassword}} {
		var sess struct{ User struct{ Role string } }
		c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": creds[0], "password": creds[1]}, &sess)
	}
}

// TestAdminCreate: "parkd admin create" makes an admin who can sign in.
func TestAdminCreate(t *testing.T) {
	db := teststore.SQLiteDSN(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create", "--db", db, "--email", "Root@Example.com"},
		func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("admin create: %v", err)
	}
	_, password, ok := strings.Cut(out.String(), "password: ")
	if !ok {
		t.Fatalf("admin create printed %q; want the generated password", out.String())
	}
	c := &api{t: t, base: startParkd(t, "--db", db, "--no-demo")}
	var sess struct{ User struct{ Role string } }
	c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "root@example.com", "password": strings.TrimSpace(password)}, &sess)
	if sess.User.Role != "admin" {
		t.Errorf("role = %q; want admin", sess.User.Role)
	}
	if err := run(context.Background(), []string{"admin", "create", "--db", db, "--email", "root@example.com", "--password", "another long one"},
		func(string) string { return "" }, &out, &out); err == nil {
		t.Errorf("a second admin with the same email: nil error; want email taken")
	}
}

// TestReconcileCommand: "parkd payments reconcile" reads the database and the
// gateway and reports; on an empty database it is clean.
func TestReconcileCommand(t *testing.T) {
	var out, errs bytes.Buffer
	db := teststore.SQLiteDSN(t)
	if err := run(context.Background(), []string{"payments", "reconcile", "--db", db}, func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("reconcile = %v; %s", err, errs.String())
	}
	if !strings.Contains(out.String(), `"gateway_charges": 0`) || !strings.Contains(errs.String(), "sandbox") {
		t.Errorf("reconcile printed %s / %s", out.String(), errs.String())
	}
	if err := run(context.Background(), []string{"payments", "nope"}, func(string) string { return "" }, &out, &errs); err == nil {
		t.Errorf("an unknown payments command = nil; want usage")
	}
}
