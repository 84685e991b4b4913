package storetest

import (
	"fmt"
	"testing"
	"time"

	"parkd/internal/parking"
)

func searchTests() []namedTest {
	return []namedTest{
		{"SearchLotsText", testSearchLotsText},
		{"SearchLotsPaging", testSearchLotsPaging},
		{"SearchLotsNear", testSearchLotsNear},
		{"SearchLotsCounts", testSearchLotsCounts},
		{"LotStamps", testLotStamps},
	}
}

// mustLot creates a lot of f's operator at (lat, lng).
func mustLot(t *testing.T, s parking.Store, f Fixture, name, address string, lat, lng float64) parking.Lot {
	t.Helper()
	l := parking.Lot{ID: parking.NewID("lot"), OperatorID: f.Operator.ID, Name: name, Address: address,
		Lat: lat, Lng: lng, TimeZone: "America/New_York", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: T0}
	if err := s.CreateLot(ctx, &l); err != nil {
		t.Fatalf("CreateLot(%s): %v", name, err)
	}
	return l
}

// searchAll pages through q, limit lots a page, and returns the ids in order.
func searchAll(t *testing.T, s parking.Store, q parking.LotQuery) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("SearchLots(%+v) never ends", q)
		}
		got, err := s.SearchLots(ctx, q)
		if err != nil {
			t.Fatalf("SearchLots(%+v) = %v", q, err)
		}
		if len(got) > q.Limit {
			t.Fatalf("SearchLots(%+v) = %d lots; want at most %d", q, len(got), q.Limit)
		}
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if len(got) < q.Limit {
			return ids
		}
		last := got[len(got)-1]
		q.After = parking.LotCursor{Name: last.Name, Key: last.Key, ID: last.ID}
	}
}

func names(t *testing.T, s parking.Store, q parking.LotQuery) []string {
	t.Helper()
	got, err := s.SearchLots(ctx, q)
	if err != nil {
		t.Fatalf("SearchLots(%+v) = %v", q, err)
	}
	out := []string{}
	for _, m := range got {
		out = append(out, m.Name)
	}
	return out
}

func testSearchLotsText(t *testing.T, s parking.Store) {
	f := MustFixture(t, s) // "Test Garage", "1 Test St"
	mustLot(t, s, f, "Riverside Mall", "200 River Rd, Springfield", 40.71, -74)
	mustLot(t, s, f, "Harbor Street Garage", "5 Harbor St, Shelbyville", 40.72, -74)
	mustLot(t, s, f, "100% Park_ing", "1 Odd Ln, Springfield", 40.73, -74)
	for _, c := range []struct {
		text string
		want string
	}{
		{"", "[100% Park_ing Harbor Street Garage Riverside Mall Test Garage]"},
		{"garage", "[Harbor Street Garage Test Garage]"},
		{"springfield", "[100% Park_ing Riverside Mall]"}, // the city, in the address
		{"river", "[Riverside Mall]"},
		{"%", "[100% Park_ing]"}, // literal, not a wildcard
		{"k_i", "[100% Park_ing]"},
		{"t_g", "[]"},
		{"nowhere", "[]"},
	} {
		if got := fmt.Sprint(names(t, s, parking.LotQuery{Text: c.text, Limit: 10})); got != c.want {
			t.Errorf("SearchLots(Text: %q) = %s; want %s", c.text, got, c.want)
		}
	}
}

func testSearchLotsPaging(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	want := map[string]bool{f.Lot.ID: true}
	for i := range 23 {
		// Names repeat, so that the id breaks ties across pages.
		l := mustLot(t, s, f, fmt.Sprintf("Mall %02d", i%9), "Main St", 40.7+float64(i%5)*0.001, -74)
		want[l.ID] = true
	}
	for _, q := range []parking.LotQuery{
		{Limit: 5},
		{Limit: 1},
		{Limit: 100},
		{Limit: 5, Near: &parking.Point{Lat: 40.7, Lng: -74}, Radius: 50_000},
		{Limit: 3, Near: &parking.Point{Lat: 40.69, Lng: -74.01}, Radius: 50_000},
	} {
		ids := searchAll(t, s, q)
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] || !want[id] {
				t.Errorf("paging %+v: %s twice or unknown", q, id)
			}
			seen[id] = true
		}
		if len(seen) != len(want) {
			t.Errorf("paging %+v found %d lots; want every one of %d exactly once", q, len(seen), len(want))
		}
	}
}

func testSearchLotsNear(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)                           // at 40.7, -74
	mustLot(t, s, f, "Far", "", 41.7, -74)           // 111 km north
	mustLot(t, s, f, "East 2km", "", 40.7, -73.9763) // about 2 km east
	mustLot(t, s, f, "North 1km", "", 40.709, -74)   // about 1 km north
	mustLot(t, s, f, "South 3km", "", 40.673, -74)   // about 3 km south
	here := &parking.Point{Lat: 40.7, Lng: -74}
	q := parking.LotQuery{Near: here, Radius: 50_000, Limit: 10}
	got, err := s.SearchLots(ctx, q)
	if err != nil {
		t.Fatalf("SearchLots(near) = %v", err)
	}
	var order []string
	for _, m := range got {
		order = append(order, m.Name)
		if want := parking.DistanceKey(*here, m.Lat, m.Lng); m.Key < want-1 || m.Key > want+1 {
			t.Errorf("SearchLots(near): %s key %d; want parking.DistanceKey %d", m.Name, m.Key, want)
		}
	}
	if fmt.Sprint(order) != "[Test Garage North 1km East 2km South 3km]" {
		t.Errorf("SearchLots(near 40.7,-74 within 50 km) = %v; want nearest first, Far left out", order)
	}
	q.Radius = 1500
	if got := fmt.Sprint(names(t, s, q)); got != "[Test Garage North 1km]" {
		t.Errorf("SearchLots(within 1.5 km) = %s; want [Test Garage North 1km]", got)
	}
	q.Radius, q.Text = 50_000, "km"
	if got := fmt.Sprint(names(t, s, q)); got != "[North 1km East 2km South 3km]" {
		t.Errorf("SearchLots(near, Text: km) = %s", got)
	}
}

func testSearchLotsCounts(t *testing.T, s parking.Store) {
	f := MustFixture(t, s) // M1 M2 C1 C2 C3 S1 S2 S3 L1 L2
	empty := mustLot(t, s, f, "Empty Lot", "", 40.7, -74)
	other := MustFixture(t, s)
	h := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }
	c1, s1, s2, l1 := f.SpotsOf(parking.Compact)[0], f.SpotsOf(parking.Standard)[0], f.SpotsOf(parking.Standard)[1], f.SpotsOf(parking.Large)[0]
	f.MustHold(t, s, c1.ID, T0, h(1), h(2))                               // held
	conf := f.MustHold(t, s, s1.ID, T0, h(1), h(2))                       // confirmed
	f.MustHold(t, s, s2.ID, T0.Add(-10*time.Minute), h(1), h(2))          // expired hold: free
	f.MustHold(t, s, f.SpotsOf(parking.Motorcycle)[0].ID, T0, h(3), h(4)) // later: free
	MustChange(t, s, conf.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
	if err := s.SetSpotInService(ctx, l1.ID, false, T0); err != nil {
		t.Fatalf("SetSpotInService: %v", err)
	}
	other.MustHold(t, s, other.SpotsOf(parking.Large)[0].ID, T0, h(1), h(2))

	for _, c := range []struct {
		size              parking.Size
		total, free       int
		otherTotal, other int
	}{
		{0, 10, 7, 10, 9}, // every spot: C1 held, S1 confirmed, L1 out of service
		{parking.Motorcycle, 10, 7, 10, 9},
		{parking.Compact, 8, 5, 8, 7},
		{parking.Standard, 5, 3, 5, 4},
		{parking.Large, 2, 1, 2, 1},
	} {
		w := parking.LotWindow{From: h(1), To: h(3), Now: T0, Size: c.size}
		got, err := s.SearchLots(ctx, parking.LotQuery{Limit: 10})
		if err != nil {
			t.Fatalf("SearchLots = %v", err)
		}
		if err := s.CountFree(ctx, got, w); err != nil {
			t.Fatalf("CountFree(window %v) = %v", c.size, err)
		}
		counts := map[string][2]int{}
		for _, m := range got {
			counts[m.ID] = [2]int{m.Total, m.Free}
		}
		want := map[string][2]int{f.Lot.ID: {c.total, c.free}, other.Lot.ID: {c.otherTotal, c.other}, empty.ID: {0, 0}}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("SearchLots(size %v, [1h, 3h)) counts (total, free) = %v; want %v", c.size, counts, want)
		}
	}
	// Without a window, no counts are read.
	got, err := s.SearchLots(ctx, parking.LotQuery{Limit: 10})
	if err != nil || len(got) != 3 || got[0].Total != 0 {
		t.Errorf("SearchLots(no window) = %+v, %v; want 3 lots without counts", got, err)
	}
}

// testLotStamps: a lot's stamp is StampOf its record and spots as read, and
// changes with every edit of either; an empty lot has one, a lot that does
// not exist none.
func testLotStamps(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	empty := mustLot(t, s, f, "Empty Lot", "", 40.7, -74)
	stamp := func() parking.LotStamp {
		t.Helper()
		got, err := s.LotStamps(ctx, []string{f.Lot.ID, empty.ID, "lot_missing"})
		if err != nil {
			t.Fatalf("LotStamps = %v", err)
		}
		if _, ok := got["lot_missing"]; ok || len(got) != 2 || got[empty.ID] != (parking.LotStamp{Version: 1}) {
			t.Errorf("LotStamps = %+v; want the two lots, the empty one at version 1 without spots", got)
		}
		lot, err := s.Lot(ctx, f.Lot.ID)
		if err != nil {
			t.Fatal(err)
		}
		spots, err := s.Spots(ctx, f.Lot.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := parking.StampOf(lot, spots); got[f.Lot.ID] != want {
			t.Errorf("LotStamps[lot] = %+v; StampOf what is stored = %+v", got[f.Lot.ID], want)
		}
		return got[f.Lot.ID]
	}
	seen := map[parking.LotStamp]string{stamp(): "created"}
	changed := func(what string) {
		t.Helper()
		st := stamp()
		if before, ok := seen[st]; ok {
			t.Errorf("after %s the stamp %+v is the one after %s", what, st, before)
		}
		seen[st] = what
	}
	sp := f.Spots[0]
	sp.Label = "renamed"
	if err := s.UpdateSpot(ctx, &sp); err != nil {
		t.Fatal(err)
	}
	changed("an edit of a spot")
	if err := s.SetSpotInService(ctx, f.Spots[1].ID, false, T0); err != nil {
		t.Fatal(err)
	}
	changed("a spot out of service")
	f.MustAddSpots(t, s, 1)
	changed("a new spot")
	lot := f.Lot
	lot.Name = "Renamed Lot"
	if err := s.UpdateLot(ctx, &lot); err != nil {
		t.Fatal(err)
	}
	changed("an edit of the lot")
	if got, err := s.LotStamps(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("LotStamps(none) = %v, %v; want an empty answer", got, err)
	}
}
