package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"parkd/internal/parking"
	"parkd/internal/report"
)

func reportCommands() []command {
	return []command{
		reportCommand("revenue", "a lot's revenue by day, as CSV",
			"Writes, for each day of each lot (or of --lot), the charges and refunds that succeeded that day, as CSV:\n"+
				"lot_id, lot_name, date, currency, charges, charged, overstay_charged, refunds, refunded, net (amounts\n"+
				"in minor units, such as cents) and net_display. Days are the lot's own calendar days.",
			[]string{"lot_id", "lot_name", "date", "currency", "charges", "charged", "overstay_charged", "refunds", "refunded", "net", "net_display"},
			func(ctx context.Context, store parking.Store, lot parking.Lot, days []report.Day, now time.Time) ([][]string, error) {
				rows, err := report.RevenueByDay(ctx, store, lot, days)
				var out [][]string
				for _, r := range rows {
					out = append(out, []string{lot.ID, lot.Name, r.Date, r.Currency, itoa(r.Charges), i64(r.Charged), i64(r.OverstayCharged),
						itoa(r.Refunds), i64(r.Refunded), i64(r.Net), parking.FormatMoney(r.Net, r.Currency)})
				}
				return out, err
			}),
		reportCommand("occupancy", "a lot's occupancy by day, as CSV",
			"Writes, for each day of each lot (or of --lot), how its spots were used, as CSV: lot_id, lot_name,\n"+
				"date, spots (in service now), spot_hours, booked_hours (bookings that kept their spot),\n"+
				"occupied_hours (cars inside, entry to exit), booked_pct, occupied_pct, bookings (starting that\n"+
				"day), entries and peak_cars (the most cars inside at once). Days are the lot's own calendar days.",
			[]string{"lot_id", "lot_name", "date", "spots", "spot_hours", "booked_hours", "occupied_hours", "booked_pct", "occupied_pct", "bookings", "entries", "peak_cars"},
			func(ctx context.Context, store parking.Store, lot parking.Lot, days []report.Day, now time.Time) ([][]string, error) {
				rows, err := report.OccupancyByDay(ctx, store, lot, days, now)
				var out [][]string
				for _, o := range rows {
					out = append(out, []string{lot.ID, lot.Name, o.Date, itoa(o.Spots), f2(o.SpotHours), f2(o.BookedHours), f2(o.OccupiedHours),
						f1(o.BookedPct()), f1(o.OccupiedPct()), itoa(o.Bookings), itoa(o.Entries), itoa(o.PeakCars)})
				}
				return out, err
			}),
	}
}

func itoa(n int) string   { return strconv.Itoa(n) }
func i64(n int64) string  { return strconv.FormatInt(n, 10) }
func f2(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
func f1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// reportCommand is "parkd report NAME": rows for each lot's days, as CSV.
func reportCommand(name, summary, help string, header []string,
	rows func(ctx context.Context, store parking.Store, lot parking.Lot, days []report.Day, now time.Time) ([][]string, error)) command {
	return command{name: "report " + name, summary: summary, help: help,
		define: func(fs *flagSet, a *app) func(context.Context, []string) error {
			var db, lotID, from, to, out string
			dbFlag(fs, &db)
			fs.String(&lotID, "lot", "", "", "only this lot (default: every lot)")
			fs.String(&from, "from", "", "", "the first day, YYYY-MM-DD (default: 30 days before --to)")
			fs.String(&to, "to", "", "", "the last day, YYYY-MM-DD (default: today in the lot's time zone)")
			fs.String(&out, "out", "", "", "write the CSV to this file (default: standard output)")
			command := "parkd report " + name
			return func(ctx context.Context, _ []string) error {
				for _, d := range []struct{ flag, value string }{{"from", from}, {"to", to}} {
					if _, err := time.Parse(time.DateOnly, d.value); d.value != "" && err != nil {
						return usagef(command, "--%s %q: want a date such as 2030-01-31", d.flag, d.value)
					}
				}
				return withStore(ctx, db, func(store parking.Store) error {
					var lots []parking.Lot
					if lotID != "" {
						lot, err := store.Lot(ctx, lotID)
						if err != nil {
							return fmt.Errorf("lot %s: %w", lotID, err)
						}
						lots = []parking.Lot{lot}
					} else {
						var err error
						if lots, err = store.Lots(ctx); err != nil {
							return err
						}
					}
					var w io.Writer = a.stdout
					if out != "" {
						f, err := os.Create(out)
						if err != nil {
							return err
						}
						defer f.Close()
						w = f
					}
					cw := csv.NewWriter(w)
					cw.Write(header)
					now := parking.SystemClock{}.Now()
					for _, lot := range lots {
						last, first := to, from
						loc, err := time.LoadLocation(lot.TimeZone)
						if err != nil {
							return fmt.Errorf("lot %s: time zone %q: %w", lot.ID, lot.TimeZone, err)
						}
						if last == "" {
							last = now.In(loc).Format(time.DateOnly)
						}
						if first == "" {
							t, _ := time.ParseInLocation(time.DateOnly, last, loc)
							first = t.AddDate(0, 0, -30).Format(time.DateOnly)
						}
						days, err := report.Days(lot, first, last)
						if err != nil {
							return usagef(command, "%v", err)
						}
						rs, err := rows(ctx, store, lot, days, now)
						if err != nil {
							return err
						}
						if err := cw.WriteAll(rs); err != nil {
							return err
						}
					}
					cw.Flush()
					return cw.Error()
				})
			}
		}}
}
