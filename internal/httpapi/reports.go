package httpapi

import (
	"log/slog"
	"net/http"

	"parkd/internal/report"
)

// handleReport sends one table of a lot's report as CSV, for its operators:
// the file the reports page offers (report.WriteCSV writes both).
func handleReport(log *slog.Logger, reports *report.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		rep, err := reports.LotReport(r.Context(), me, r.PathValue("lot"), q.Get("from"), q.Get("to"))
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+report.CSVName(rep, q.Get("table"))+`"`)
		return report.WriteCSV(w, rep, q.Get("table"))
	})
}
