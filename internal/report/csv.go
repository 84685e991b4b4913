package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Tables are the CSV tables of a report: by day (the default), by hour of the
// day and by level.
var Tables = []string{"days", "hours", "levels"}

// table returns the table name asks for: one of Tables, days by default.
func table(name string) string {
	if slices.Contains(Tables, name) {
		return name
	}
	return Tables[0]
}

// CSVName is the file name of rep's table as CSV.
func CSVName(rep Report, name string) string {
	return fmt.Sprintf("report-%s-%s-%s-%s.csv", rep.Lot.ID, table(name), rep.From, rep.To)
}

// WriteCSV writes one table of rep, named as in Tables, as CSV: the pages'
// download and the API's. Amounts are in minor units of the lot's currency,
// hours decimal, days and hours the lot's own.
func WriteCSV(w io.Writer, rep Report, name string) error {
	f2 := func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	itoa := strconv.Itoa
	var rows [][]string
	switch table(name) {
	case "hours":
		rows = append(rows, []string{"lot_id", "from", "to", "time_zone", "hour", "occupied_hours", "avg_cars", "avg_pct"})
		for _, h := range rep.Hours {
			rows = append(rows, []string{rep.Lot.ID, rep.From, rep.To, rep.Lot.TimeZone, fmt.Sprintf("%02d:00", h.Hour), f2(h.OccupiedHours), f2(h.AvgCars), f2(h.Pct)})
		}
	case "levels":
		rows = append(rows, []string{"lot_id", "from", "to", "level_id", "level", "spots", "spot_hours", "booked_hours", "occupied_hours", "occupied_pct"})
		for _, l := range rep.Levels {
			rows = append(rows, []string{rep.Lot.ID, rep.From, rep.To, l.Level.ID, l.Level.Name, itoa(l.Spots), f2(l.SpotHours), f2(l.BookedHours), f2(l.OccupiedHours), f2(l.OccupiedPct())})
		}
	default:
		rows = append(rows, []string{"lot_id", "date", "time_zone", "currency", "charges", "charged", "overstay_charged", "refunds", "refunded", "net",
			"bookings", "spot_hours", "booked_hours", "occupied_hours", "occupied_pct", "entries", "peak_cars",
			"no_shows", "overstays", "overstay_hours", "gate_entries", "gate_exits", "gate_denied"})
		for i, d := range rep.Days {
			rv, o, st, g := rep.Revenue[i], rep.Occupancy[i], rep.Stays[i], rep.Gate[i]
			rows = append(rows, []string{rep.Lot.ID, d.Date, rep.Lot.TimeZone, rv.Currency, itoa(rv.Charges), i64(rv.Charged), i64(rv.OverstayCharged),
				itoa(rv.Refunds), i64(rv.Refunded), i64(rv.Net),
				itoa(o.Bookings), f2(o.SpotHours), f2(o.BookedHours), f2(o.OccupiedHours), f2(o.OccupiedPct()), itoa(o.Entries), itoa(o.PeakCars),
				itoa(st.NoShows), itoa(st.Overstays), f2(st.OverstayHours), itoa(g.Entries), itoa(g.Exits), itoa(g.Denied)})
		}
	}
	cw := csv.NewWriter(w)
	return cw.WriteAll(rows)
}
