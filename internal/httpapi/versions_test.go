package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// patchRounds is how many rounds of two concurrent PATCHes each race runs.
const patchRounds = 20

// both sends two requests at once and returns their statuses.
func both(a, b func() response) (int, int) {
	var ra, rb response
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra = a() }()
	go func() { defer wg.Done(); rb = b() }()
	wg.Wait()
	return ra.status, rb.status
}

// TestConcurrentLotPatches: two PATCHes of different policy fields of one lot
// sent at once, without If-Match, both land, round after round; neither
// writes back the other's old value.
func TestConcurrentLotPatches(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		path := "/api/v1/lots/" + e.fixture.Lot.ID
		for round := range patchRounds {
			ttl := fmt.Sprintf("%dm", 2+round)
			cutoff := fmt.Sprintf("%dh", 1+round)
			sa, sb := both(
				func() response {
					return op.call("PATCH", path, map[string]any{"policy": map[string]any{"hold_ttl": ttl}})
				},
				func() response {
					return op.call("PATCH", path, map[string]any{"policy": map[string]any{"cancel_cutoff": cutoff}})
				})
			if sa != 200 || sb != 200 {
				t.Fatalf("round %d: PATCHes = %d, %d; want both 200", round, sa, sb)
			}
			lot, err := e.store.Lot(t.Context(), e.fixture.Lot.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantTTL, _ := time.ParseDuration(ttl)
			wantCutoff, _ := time.ParseDuration(cutoff)
			if lot.Policy.HoldTTL != parking.Duration(wantTTL) || lot.Policy.CancelCutoff != parking.Duration(wantCutoff) {
				t.Fatalf("round %d: policy hold_ttl %v, cancel_cutoff %v; want %v and %v (a change was lost)",
					round, lot.Policy.HoldTTL, lot.Policy.CancelCutoff, ttl, cutoff)
			}
		}
	})
}

// TestConcurrentSettingsPatches: the same for a driver's notification
// settings, from their very first save on (version 0: no row yet).
func TestConcurrentSettingsPatches(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newNotifyAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		adaID := mustUserID(t, ada)
		path := "/api/v1/users/me/notification-settings"
		for round := range patchRounds {
			lead := fmt.Sprintf("%dm", 10+round)
			email := round%2 == 1
			sa, sb := both(
				func() response { return ada.do("PATCH", path, map[string]any{"reminder_lead": lead}) },
				func() response { return ada.do("PATCH", path, map[string]any{"email": email}) })
			if sa != 200 || sb != 200 {
				t.Fatalf("round %d: PATCHes = %d, %d; want both 200", round, sa, sb)
			}
			st, err := e.store.NotificationSettings(t.Context(), adaID)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := time.ParseDuration(lead)
			if st.ReminderLead != parking.Duration(want) || st.Email != email {
				t.Fatalf("round %d: settings %+v; want reminder_lead %s and email %v (a change was lost)", round, st, lead, email)
			}
		}
	})
}

// TestIfMatch: GET and PATCH answer an ETag; a PATCH whose If-Match names
// the current version lands and moves it on; one naming an older version is
// 412 precondition_failed and changes nothing; "*" and a compressed answer's
// weak tag match too.
func TestIfMatch(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		lot := "/api/v1/lots/" + e.fixture.Lot.ID
		level := lot + "/levels/" + e.fixture.Level.ID
		spot := lot + "/spots/" + e.fixture.Spots[0].ID

		for _, c := range []struct {
			name, get, patch string
			first, second    map[string]any
		}{
			{"lot", lot, lot, map[string]any{"name": "First"}, map[string]any{"policy": map[string]any{"hold_ttl": "9m"}}},
			{"level", "", level, map[string]any{"name": "Upper"}, map[string]any{"width": 7}},
			{"spot", spot, spot, map[string]any{"x": 3}, map[string]any{"y": 4}},
		} {
			t.Run(c.name, func(t *testing.T) {
				tag := `"1"`
				if c.get != "" {
					r := op.must(200, nil, "GET", c.get, nil)
					if tag = strongTag(r); tag != `"1"` {
						t.Fatalf("GET %s ETag = %q; want \"1\"", c.name, tag)
					}
				}
				r := op.must(200, nil, "PATCH", c.patch, c.first, "If-Match", tag)
				if got := strongTag(r); got != `"2"` {
					t.Errorf("PATCH ETag = %q; want \"2\"", got)
				}
				before := op.must(200, nil, "GET", orLot(c.get, lot), nil).body
				op.problem(412, parking.EPRECONDITION, "PATCH", c.patch, c.second, "If-Match", tag)
				op.problem(412, parking.EPRECONDITION, "PATCH", c.patch, c.second, "If-Match", `"abc", "7"`)
				if after := op.must(200, nil, "GET", orLot(c.get, lot), nil).body; !bytes.Equal(before, after) {
					t.Errorf("a stale PATCH changed the %s:\n%s\nwas\n%s", c.name, after, before)
				}
				op.must(200, nil, "PATCH", c.patch, c.second, "If-Match", `W/"2"`)
				op.must(200, nil, "PATCH", c.patch, c.first, "If-Match", "*")
			})
		}
	})
}

// strongTag is tag without the W/ a compressed answer adds.
func strongTag(r response) string { return strings.TrimPrefix(r.header.Get("ETag"), "W/") }

// orLot is path, or the lot's (which lists its levels) for a resource with no GET of its own.
func orLot(path, lot string) string {
	if path == "" {
		return lot
	}
	return path
}

// TestSettingsIfMatch: the settings' ETag is "0" until first saved; a stale
// If-Match is 412 and changes nothing.
func TestSettingsIfMatch(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newNotifyAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		path := "/api/v1/users/me/notification-settings"
		if tag := strongTag(ada.must(200, "GET", path, nil)); tag != `"0"` {
			t.Fatalf("GET ETag = %q; want \"0\" (never saved)", tag)
		}
		if tag := strongTag(ada.must(200, "PATCH", path, map[string]any{"email": false}, "If-Match", `"0"`)); tag != `"1"` {
			t.Fatalf("PATCH ETag = %q; want \"1\"", tag)
		}
		before := ada.must(200, "GET", path, nil).body
		r := ada.do("PATCH", path, map[string]any{"in_app": false}, "If-Match", `"0"`)
		if r.status != http.StatusPreconditionFailed || r.problem().Code != parking.EPRECONDITION ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("stale PATCH = %d %s %s; want 412 problem+json precondition_failed", r.status, r.header.Get("Content-Type"), r.body)
		}
		if after := ada.must(200, "GET", path, nil).body; !bytes.Equal(before, after) {
			t.Errorf("a stale PATCH changed the settings: %s; was %s", after, before)
		}
	})
}
