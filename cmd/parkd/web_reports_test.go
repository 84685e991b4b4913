package main

import (
	"encoding/csv"
	"strings"
	"testing"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// TestWebReports: the operator's reports page draws its charts as inline SVG
// and offers each table as CSV; only the lot's operators see it.
func TestWebReports(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	garage, mall := demoLots(t, base)
	operator := newBrowser(t, base)
	operator.signIn(demo.OperatorEmail, demo.OperatorPassword)

	path := "/operator/lots/" + garage + "/reports"
	page := operator.get(path+"?from=2030-01-01&to=2030-01-07", 200)
	noGoDurations(t, path, page)
	if n := strings.Count(page, "<svg role=\"img\""); n != 4 {
		t.Errorf("GET %s has %d charts; want 4 (revenue, occupancy, hours, levels)", path, n)
	}
	if !strings.Contains(page, `data-date="2030-01-07"`) || strings.Contains(page, `data-date="2030-01-08"`) {
		t.Errorf("GET %s does not list the days asked for", path)
	}
	if !strings.Contains(operator.get("/operator/lots/"+garage, 200), `href="/operator/lots/`+garage+`/reports"`) {
		t.Errorf("the operator's pages do not link the reports")
	}
	for _, c := range []struct {
		table  string
		header string
		rows   int
	}{
		{"days", "lot_id,date,time_zone,currency,charges", 7},
		{"hours", "lot_id,from,to,time_zone,hour", 24},
		{"levels", "lot_id,from,to,level_id,level", -1},
	} {
		body := operator.get(path+"?format=csv&table="+c.table+"&from=2030-01-01&to=2030-01-07", 200)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) == 0 {
			t.Fatalf("CSV %s: %v\n%s", c.table, err, body)
		}
		if !strings.HasPrefix(strings.Join(rows[0], ","), c.header) {
			t.Errorf("CSV %s header = %v; want it to start %s", c.table, rows[0], c.header)
		}
		if c.rows >= 0 && len(rows)-1 != c.rows {
			t.Errorf("CSV %s has %d rows; want %d", c.table, len(rows)-1, c.rows)
		}
		if c.rows < 0 && len(rows) < 2 {
			t.Errorf("CSV %s lists no level", c.table)
		}
	}
	operator.get(path+"?from=2030-01-07&to=2030-01-01", 400)
	operator.get(path+"?from=yesterday", 400)
	operator.get("/operator/lots/"+mall+"/reports", 403)
	driver := newBrowser(t, base)
	driver.signIn(demo.DriverEmail, demo.DriverPassword)
	driver.get(path, 403)
}
