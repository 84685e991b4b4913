package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parkd/internal/store/teststore"
)

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("parkd %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// field returns what follows prefix on a line of out, up to the next space.
func field(t *testing.T, out, prefix string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, prefix)
	if !ok {
		t.Fatalf("%q not in %q", prefix, out)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(rest), "\n")
	v, _, _ = strings.Cut(v, " ")
	return strings.Trim(v, "()")
}

// TestAdministration runs the administration commands against a database a
// parkd serves from, and checks the server sees what they did.
func TestAdministration(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		db := b.DSN(t)
		base := startParkd(t, "--db", db, "--no-demo")
		mustCLI(t, "admin", "create", "--db", db, "--email", "root@example.com", "--password", "a root password")

		// An operator company, a lot of theirs (made over the API by the admin), its staff.
		opr := field(t, mustCLI(t, "operator", "create", "--db", db, "--name", "Acme Parking"), "(")
		if !strings.HasPrefix(opr, "opr_") {
			t.Fatalf("operator create printed the id %q", opr)
		}
		if out := mustCLI(t, "operator", "list", "--db", db); !strings.Contains(out, opr) || !strings.Contains(out, "Acme Parking") {
			t.Errorf("operator list = %q", out)
		}
		admin := &api{t: t, base: base}
		var sess struct{ Token string }
		admin.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "root@example.com", "password": "a root password"}, &sess)
		admin.token = sess.Token
		var lot struct{ ID string }
		admin.call(201, "POST", "/api/v1/lots", map[string]any{"operator_id": opr, "name": "Pier Garage", "address": "1 Pier",
			"lat": 47.6, "lng": -122.3, "time_zone": "America/Los_Angeles", "currency": "USD"}, &lot, "Idempotency-Key", "lot-1")
		if out := mustCLI(t, "lot", "list", "--db", db); !strings.Contains(out, lot.ID) || !strings.Contains(out, "Pier Garage") {
			t.Errorf("lot list = %q", out)
		}
		mustCLI(t, "user", "create", "--db", db, "--email", "olga@example.com", "--role", "operator", "--lot", lot.ID, "--password", "olga's long password")
		mustCLI(t, "user", "create", "--db", db, "--email", "dan@example.com", "--role", "driver", "--password", "dan's long password")
		signIn := func(email, password string) *api {
			c := &api{t: t, base: base}
			var s struct{ Token string }
			c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": password}, &s)
			c.token = s.Token
			return c
		}
		olga, dan := signIn("olga@example.com", "olga's long password"), signIn("dan@example.com", "dan's long password")
		olga.call(200, "GET", "/api/v1/lots/"+lot.ID+"/reservations", nil, nil)
		dan.call(403, "GET", "/api/v1/lots/"+lot.ID+"/reservations", nil, nil)
		out := mustCLI(t, "user", "role", "--db", db, "--email", "DAN@example.com", "--role", "operator", "--lot", lot.ID)
		if !strings.Contains(out, "dan@example.com is now an operator of "+opr) {
			t.Errorf("user role printed %q", out)
		}
		dan.call(200, "GET", "/api/v1/lots/"+lot.ID+"/reservations", nil, nil)
		mustCLI(t, "user", "role", "--db", db, "--email", "dan@example.com", "--role", "driver")
		dan.call(403, "GET", "/api/v1/lots/"+lot.ID+"/reservations", nil, nil)
		if _, errs, code := runCLI(t, "user", "role", "--db", db, "--email", "nobody@example.com", "--role", "admin"); code != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("user role of a missing user: exit %d, %q; want 1, not found", code, errs)
		}

		// Spots from CSV: every problem named by line first, then all at once.
		csvFile := filepath.Join(t.TempDir(), "spots.csv")
		os.WriteFile(csvFile, []byte("level,label,size,amenities\nL1,A1,standard,\nL1,A1,large,\nL2,B1,huge,\n"), 0o600)
		_, errs, code := runCLI(t, "spots", "import", "--db", db, "--lot", lot.ID, csvFile)
		if code != 1 || !strings.Contains(errs, `line 3: label "A1" repeats line 2's`) || !strings.Contains(errs, `line 4: size "huge"`) {
			t.Errorf("spots import of a bad file: exit %d, %q; want 1 and each problem by line", code, errs)
		}
		os.WriteFile(csvFile, []byte("level,label,size,x,y,amenities,in_service\n"+
			"Ground,G1,compact,3,4,ev;covered,true\nGround,G2,SEDAN,6,4,,\nRoof,R1,large,3,4,,false\n"), 0o600)
		if out := mustCLI(t, "spots", "import", "--db", db, "--lot", lot.ID, csvFile); !strings.Contains(out, "imported 3 spots") || !strings.Contains(out, "created 2 levels") {
			t.Errorf("spots import = %q", out)
		}
		var spots struct {
			Spots []struct {
				Label, Size string
				Amenities   []string
				InService   bool `json:"in_service"`
			}
		}
		getJSON(t, base+"/api/v1/lots/"+lot.ID+"/spots", 200, &spots)
		if len(spots.Spots) != 3 {
			t.Fatalf("the lot has %d spots after the import; want 3", len(spots.Spots))
		}
		for _, s := range spots.Spots {
			if s.Label == "G1" && (s.Size != "compact" || len(s.Amenities) != 2 || !s.InService) ||
				s.Label == "G2" && s.Size != "standard" || s.Label == "R1" && s.InService {
				t.Errorf("imported spot %+v", s)
			}
		}

		// Gate keys: issued, rotated, revoked.
		out = mustCLI(t, "gate", "issue", "--db", db, "--lot", lot.ID, "--name", "North", "--direction", "entry")
		gateID, key := field(t, out, "gate "), field(t, out, "key: ")
		scan := func(key string, want int) {
			t.Helper()
			(&api{t: t, base: base, token: key}).call(want, "POST", "/api/v1/gates/"+gateID+"/scans", map[string]string{"code": "P-nothing"}, nil)
		}
		scan(key, 200)
		rotated := field(t, mustCLI(t, "gate", "rotate", "--db", db, "--gate", gateID), "key: ")
		scan(key, 401)
		scan(rotated, 200)
		mustCLI(t, "gate", "revoke", "--db", db, "--gate", gateID)
		scan(rotated, 401)
		if out := mustCLI(t, "gate", "list", "--db", db, "--lot", lot.ID); !strings.Contains(out, gateID) || !strings.Contains(out, "revoked") {
			t.Errorf("gate list = %q; want the gate, revoked", out)
		}
		if _, errs, code := runCLI(t, "gate", "rotate", "--db", db, "--gate", "gat_missing"); code != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("gate rotate of a missing gate: exit %d, %q", code, errs)
		}

		// Reports: a header and a row per day.
		today := time.Now().In(mustLocation(t, "America/Los_Angeles"))
		from := today.AddDate(0, 0, -2).Format(time.DateOnly)
		for _, name := range []string{"revenue", "occupancy"} {
			file := filepath.Join(t.TempDir(), name+".csv")
			mustCLI(t, "report", name, "--db", db, "--lot", lot.ID, "--from", from, "--out", file)
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(f).ReadAll()
			f.Close()
			if err != nil || len(rows) != 4 || rows[0][0] != "lot_id" || rows[1][0] != lot.ID || rows[1][2] != from {
				t.Errorf("report %s = %q, %v; want a header and 3 days from %s", name, rows, err, from)
			}
		}
		out = mustCLI(t, "report", "occupancy", "--db", db, "--lot", lot.ID, "--from", from, "--to", from)
		day, _ := time.ParseInLocation(time.DateOnly, from, today.Location())
		spotHours := fmt.Sprintf("%.2f", 2*day.AddDate(0, 0, 1).Sub(day).Hours()) // 23 or 25 hours where clocks change
		if rows, _ := csv.NewReader(strings.NewReader(out)).ReadAll(); len(rows) != 2 || rows[1][3] != "2" || rows[1][4] != spotHours {
			t.Errorf("report occupancy for a day = %q; want 2 spots in service, %s spot-hours", rows, spotHours)
		}
	})
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
