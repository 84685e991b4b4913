package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/metrics"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/web"
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

// handleReceipt renders the printable receipt of one payment: the page the
// web app shows at /payments/{payment}/receipt (internal/web renders both),
// in the lot's zone, and none for a payment that did not go through.
func handleReceipt(log *slog.Logger, page *web.ReceiptPage) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		return page.Render(w, r, me, r.PathValue("payment"))
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
