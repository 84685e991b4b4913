package httpapi

import (
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/metrics"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

type payRequest struct {
	PaymentMethod string `json:"payment_method"`
}

// handlePay charges a held reservation: 201 when paid (the reservation is
// confirmed), 202 while the gateway decides, 402 when declined.
func handlePay(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req payRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		out, err := pay.PayReservation(r.Context(), me, r.PathValue("reservation"), req.PaymentMethod)
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if out.Payment.Status == parking.PaymentPending {
			status = http.StatusAccepted
		}
		w.Header().Set("Location", "/api/v1/payments/"+out.Payment.ID)
		writeJSON(w, status, out)
		return nil
	})
}

// handleExtend moves a paid booking's (or a car inside's) end later and
// charges the difference, to the card given or the driver's saved one. 200
// when paid (or nothing was due), 202 while the charge is pending.
func handleExtend(log *slog.Logger, pay *payments.Service) http.Handler {
	type request struct {
		EndsAt        time.Time `json:"ends_at"`
		PaymentMethod string    `json:"payment_method"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			return err
		}
		out, err := pay.ExtendReservation(r.Context(), me, r.PathValue("reservation"), req.EndsAt, req.PaymentMethod)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if out.Payment != nil && out.Payment.Status == parking.PaymentPending {
			status = http.StatusAccepted
		}
		writeJSON(w, status, out)
		return nil
	})
}

// handleWebhook takes the gateway's signed events. It answers 2xx for every
// event it handled or chose to ignore, 400 for one that fails verification,
// and 5xx only when the gateway should send it again.
func handleWebhook(log *slog.Logger, pay *payments.Service, m *metrics.Metrics) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			m.Webhook("refused")
			return decodeError(err)
		}
		ctx, seen := metrics.WatchWebhook(r.Context())
		err = pay.HandleWebhook(ctx, payload, r.Header)
		m.Webhook(webhookVerdict(err, seen()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"received": true})
		return nil
	})
}

// webhookVerdict names what became of a webhook, for the metrics: refused
// (not genuine, or stale), error (to be sent again), applied or duplicate (as
// the counting store saw the payment move), or ignored (nothing to do).
func webhookVerdict(err error, seen string) string {
	switch {
	case parking.ErrorCode(err) == parking.EWEBHOOK:
		return "refused"
	case err != nil:
		return "error"
	case seen != "":
		return seen
	}
	return "ignored"
}

// paymentView is a payment as its owner sees it, with the receipt's address.
type paymentView struct {
	parking.Payment
	ReceiptURL string `json:"receipt_url"`
}

func viewPayment(p parking.Payment) paymentView {
	return paymentView{Payment: p, ReceiptURL: "/api/v1/payments/" + p.ID + "/receipt"}
}

func handleGetPayment(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		p, err := pay.VisiblePayment(r.Context(), me, r.PathValue("payment"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewPayment(p))
		return nil
	})
}

var receiptPage = template.Must(template.New("receipt").Funcs(template.FuncMap{
	"money": parking.FormatMoney,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Receipt {{.Payment.ID}} · parkd</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}
table{width:100%;border-collapse:collapse}td{padding:.3rem 0;border-bottom:1px solid #ddd}td+td{text-align:right}</style>
</head><body>
<h1>{{if eq .Payment.Kind "refund"}}Refund{{else}}Receipt{{end}}</h1>
<p>{{.Lot.Name}}<br>{{.Lot.Address}}</p>
<table>
<tr><td>Amount</td><td><strong>{{money .Payment.Amount .Payment.Currency}}</strong></td></tr>
<tr><td>Status</td><td>{{.Payment.Status}}</td></tr>
<tr><td>Parking</td><td>{{.Reservation.StartsAt.Format "2006-01-02 15:04"}} – {{.Reservation.EndsAt.Format "2006-01-02 15:04"}} UTC</td></tr>
<tr><td>Vehicle</td><td>{{.Reservation.Plate}}</td></tr>
{{if .Payment.CardLast4}}<tr><td>Card</td><td>{{.Payment.CardBrand}} ···· {{.Payment.CardLast4}}</td></tr>{{end}}
<tr><td>Date</td><td>{{.Payment.CreatedAt.Format "2006-01-02 15:04"}} UTC</td></tr>
<tr><td>Reference</td><td>{{.Payment.ID}}</td></tr>
</table>
</body></html>
`))

// handleReceipt renders a printable receipt for one payment.
func handleReceipt(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		rc, err := pay.Receipt(r.Context(), me, r.PathValue("payment"))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := receiptPage.Execute(w, map[string]any{"Payment": rc.Payment, "Reservation": rc.Reservation, "Lot": rc.Lot}); err != nil {
			log.ErrorContext(r.Context(), "receipt", "err", err)
		}
		return nil
	})
}

// handleReconcile runs reconciliation for admins: ?since= (RFC 3339, default
// 30 days ago). It runs in the server because the sandbox's ledger lives here.
func handleReconcile(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		since, err := parseTime(r.URL.Query().Get("since"), "since", time.Time{})
		if err != nil {
			return err
		}
		rep, err := pay.ReconcileFor(r.Context(), me, since)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rep)
		return nil
	})
}

type savedMethodRequest struct {
	PaymentMethod string `json:"payment_method"`
	Consent       bool   `json:"consent"`
}

// handleSavePaymentMethod stores the card a driver agrees to have charged for
// overstays at the exit.
func handleSavePaymentMethod(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		var req savedMethodRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		m, err := pay.SaveMethod(r.Context(), id, req.PaymentMethod, req.Consent)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, m)
		return nil
	})
}

func handleGetPaymentMethod(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		m, err := pay.SavedMethod(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, m)
		return nil
	})
}

func handleDeletePaymentMethod(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		if err := pay.DeleteMethod(r.Context(), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
