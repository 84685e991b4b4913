package web

import (
	"fmt"
	"net/http"
	"strconv"

	"parkd/internal/parking"
	"parkd/internal/report"
)

// reportPage is a lot's report for a period, with its charts drawn here: the
// page needs no chart library, and prints as it shows.
type reportPage struct {
	report.Report
	// Charts: net revenue and occupancy by day, cars by hour, occupancy by level.
	Charts []chart
	// CSV links the report's tables as CSV: by day, by hour, by level.
	CSV map[string]string
}

func (reportPage) wide() {}

// chart is a bar chart as SVG: a bar per value, the full height standing for
// Top (a percentage's 100, the spots of the lot, or the largest value).
type chart struct {
	Title  string
	Top    string // what the full height stands for
	Width  int
	Height int
	Bars   []bar
}

type bar struct {
	X, Y, W, H float64
	Label      string // under the bar
	Value      string // its figure, for the tooltip and screen readers
}

// Chart geometry, in SVG user units.
const (
	chartHeight = 160
	chartLabels = 20 // room under the bars for their labels
	barGap      = 6
)

// newChart draws values as bars barWidth wide, the full height standing for
// top, or for the largest value if that is more.
func newChart(title string, labels []string, values []float64, top float64, barWidth int, format func(float64) string) chart {
	for _, v := range values {
		top = max(top, v)
	}
	c := chart{Title: title, Top: format(top), Width: len(values)*(barWidth+barGap) + barGap, Height: chartHeight + chartLabels}
	for i, v := range values {
		h := 0.0
		if top > 0 && v > 0 {
			h = max(1, float64(chartHeight-4)*v/top)
		}
		x := float64(barGap + i*(barWidth+barGap))
		c.Bars = append(c.Bars, bar{X: x, Y: chartHeight - h, W: float64(barWidth), H: h, Label: labels[i], Value: format(v)})
	}
	return c
}

func (s *site) handleReports() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		rep, err := s.Reports.LotReport(r.Context(), me, r.PathValue("lot"), q.Get("from"), q.Get("to"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if q.Get("format") == "csv" {
			writeCSV(w, rep, q.Get("table"))
			return
		}
		p := reportPage{Report: rep, CSV: map[string]string{}}
		for _, t := range report.Tables {
			p.CSV[t] = "/operator/lots/" + rep.Lot.ID + "/reports?format=csv&table=" + t + "&from=" + rep.From + "&to=" + rep.To
		}
		var days, hours, levels []string
		var net, occ, avg, lvl []float64
		for i, d := range rep.Days {
			days = append(days, d.Date[8:])
			net = append(net, float64(rep.Revenue[i].Net))
			occ = append(occ, rep.Occupancy[i].OccupiedPct())
		}
		for _, h := range rep.Hours {
			hours = append(hours, fmt.Sprintf("%02d", h.Hour))
			avg = append(avg, h.AvgCars)
		}
		for _, l := range rep.Levels {
			levels = append(levels, l.Level.Name)
			lvl = append(lvl, l.OccupiedPct())
		}
		money := func(v float64) string { return parking.FormatMoney(int64(v), rep.Lot.Currency) }
		percent := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }
		spots := 0.0
		if len(rep.Occupancy) > 0 {
			spots = float64(rep.Occupancy[0].Spots)
		}
		cars := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " cars" }
		p.Charts = []chart{
			newChart("Net revenue by day", days, net, 0, 28, money),
			newChart("Occupancy by day (car hours of spot hours)", days, occ, 100, 28, percent),
			newChart("Cars inside on average, by hour of the day", hours, avg, spots, 20, cars),
			newChart("Occupancy by level", levels, lvl, 100, 72, percent),
		}
		s.render(w, r, http.StatusOK, "reports", rep.Lot.Name+" · reports", p)
	})
}

// writeCSV sends one table of rep as a CSV attachment.
func writeCSV(w http.ResponseWriter, rep report.Report, table string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-cache, private")
	h.Set("Content-Disposition", `attachment; filename="`+report.CSVName(rep, table)+`"`)
	report.WriteCSV(w, rep, table)
}
