package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/lots"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// searchLots GETs /api/v1/lots?query and decodes the page.
func searchLots(t *testing.T, e apiEnv, query string) lots.Page {
	t.Helper()
	resp, body := get(t, e.srv.URL+"/api/v1/lots?"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/lots?%s = %d %s; want 200", query, resp.StatusCode, body)
	}
	var page lots.Page
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page
}

func TestSearchLots(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	f := e.fixture // "Test Garage" at 40.7,-74 with 10 spots
	for i := range 11 {
		l := parking.Lot{ID: parking.NewID("lot"), OperatorID: f.Operator.ID, Name: fmt.Sprintf("Mall %02d", i),
			Address: fmt.Sprintf("%d Main St, Town %d", i, i%3), Lat: 40.7 + float64(i+1)*0.01, Lng: -74,
			TimeZone: "UTC", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: storetest.T0}
		if err := e.store.CreateLot(t.Context(), &l); err != nil {
			t.Fatal(err)
		}
	}

	// Without parameters: the first page of 50, by name, with no window's fields.
	all := searchLots(t, e, "")
	if len(all.Lots) != 12 || all.NextCursor != "" || all.Lots[0].Name != "Mall 00" || all.Lots[0].Free != nil || all.Lots[0].Distance != nil {
		t.Errorf("GET /api/v1/lots = %d lots, next %q, first %+v; want all 12 by name, no counts", len(all.Lots), all.NextCursor, all.Lots[0])
	}

	// Paging by 5: every lot once, then no cursor.
	var seen []string
	query := "limit=5"
	for pages := 0; ; pages++ {
		page := searchLots(t, e, query)
		for _, l := range page.Lots {
			seen = append(seen, l.Name)
		}
		if page.NextCursor == "" {
			if pages != 2 {
				t.Errorf("paging by 5 took %d pages; want 3", pages+1)
			}
			break
		}
		query = "limit=5&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if len(seen) != 12 || !slices.IsSorted(seen) || slices.Compact(slices.Clone(seen))[11] != seen[11] {
		t.Errorf("paging saw %v; want the 12 lots once each, by name", seen)
	}

	// By city, in any case.
	if page := searchLots(t, e, "q=TOWN+2"); len(page.Lots) != 3 {
		t.Errorf("q=TOWN 2 found %d lots; want 3", len(page.Lots))
	}

	// Near a point, nearest first, with distances, within the radius.
	near := searchLots(t, e, "near=40.744,-74&radius=2000")
	var names []string
	for _, l := range near.Lots {
		names = append(names, l.Name)
		if l.Distance == nil || *l.Distance > 2000 {
			t.Errorf("near: %s at %v m; want a distance within 2000", l.Name, l.Distance)
		}
	}
	if fmt.Sprint(names) != "[Mall 03 Mall 04 Mall 02 Mall 05]" {
		t.Errorf("near=40.744,-74 within 2 km = %v; want [Mall 03 Mall 04 Mall 02 Mall 05]", names)
	}

	// A window: free counts and prices, per lot.
	from, to := storetest.T0.Add(time.Hour), storetest.T0.Add(3*time.Hour)
	if _, err := e.engine.Hold(t.Context(), booking.HoldRequest{LotID: f.Lot.ID, SpotID: f.SpotsOf(parking.Large)[0].ID,
		VehicleSize: parking.Large, StartsAt: from, EndsAt: to}); err != nil {
		t.Fatal(err)
	}
	w := "q=garage&size=large&from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
	page := searchLots(t, e, w)
	want, _ := f.Lot.Policy.Price(parking.Large, from, to)
	if len(page.Lots) != 1 || page.Lots[0].Free == nil || *page.Lots[0].Free != 1 || *page.Lots[0].Total != 2 || page.Lots[0].Price == nil || *page.Lots[0].Price != want {
		t.Errorf("GET /api/v1/lots?%s = %+v; want Test Garage with 1 of 2 large spots free at %d", w, page.Lots, want)
	}
}

func TestSearchLotsBadRequests(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	e.store.CreateLot(t.Context(), &parking.Lot{ID: "lot_b", OperatorID: e.fixture.Operator.ID, Name: "B", TimeZone: "UTC", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: storetest.T0})
	nameCursor := searchLots(t, e, "limit=1").NextCursor
	if nameCursor == "" {
		t.Fatal("no next_cursor after one of two lots")
	}
	for _, c := range []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=1000", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"near=abc", []string{"near"}},
		{"near=91,0", []string{"near"}},
		{"near=40.7,-74&radius=0", []string{"radius"}},
		{"near=40.7,-74&radius=1000000", []string{"radius"}},
		{"radius=1000", []string{"radius"}},
		{"cursor=forged", []string{"cursor"}},
		{"cursor=eyJpIjoiIn0", []string{"cursor"}},                                  // {"i":""}
		{"near=40.7,-74&cursor=" + url.QueryEscape(nameCursor), []string{"cursor"}}, // of another order
		{"from=2030-01-07T10:00:00Z", []string{"to"}},
		{"size=suv", []string{"from", "to"}},
		{"from=tomorrow&to=2030-01-07T10:00:00Z&size=huge", []string{"from", "size"}},
		{"from=2030-01-07T10:00:00Z&to=2030-01-07T09:00:00Z", []string{"to"}},
		{"limit=0&near=abc&cursor=x", []string{"limit", "near", "cursor"}}, // every field at once
	} {
		resp, body := get(t, e.srv.URL+"/api/v1/lots?"+c.query)
		var p httpapi.Problem
		json.Unmarshal(body, &p)
		var fields []string
		for _, f := range p.Fields {
			fields = append(fields, f.Field)
		}
		if resp.StatusCode != 400 || p.Code != parking.EINVALID || resp.Header.Get("Content-Type") != "application/problem+json" ||
			fmt.Sprint(fields) != fmt.Sprint(c.fields) {
			t.Errorf("GET /api/v1/lots?%s = %d %s; want 400 invalid naming %v", c.query, resp.StatusCode, body, c.fields)
		}
	}
}
