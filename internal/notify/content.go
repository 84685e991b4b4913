package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"parkd/internal/parking"
)

// message is what a notification says, before it is dressed as an email or
// stored as an in-app notification.
type message struct {
	Subject  string
	Greeting string
	Lines    []string
	Links    []link
	PassPNG  bool // attach the pass
}

type link struct{ Text, URL string }

// facts are what a message is written from.
type facts struct {
	User        parking.User
	Reservation parking.Reservation
	Lot         parking.Lot
	Spot        parking.Spot
	Payment     parking.Payment   // for overstay charges and refunds
	Payments    []parking.Payment // for receipts
	BaseURL     string
}

func (f facts) when(t time.Time) string {
	loc, err := time.LoadLocation(f.Lot.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
}

func (f facts) passURL() string {
	return strings.TrimRight(f.BaseURL, "/") + "/api/v1/reservations/" + f.Reservation.ID + "/pass.png"
}

func (f facts) directions() string {
	return fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f#map=18/%.6f/%.6f", f.Lot.Lat, f.Lot.Lng, f.Lot.Lat, f.Lot.Lng)
}

func (f facts) where() string {
	return fmt.Sprintf("%s, spot %s (%s)", f.Lot.Name, f.Spot.Label, f.Lot.Address)
}

// compose writes the message of a notification kind.
func compose(kind string, f facts) message {
	r := f.Reservation
	m := message{Greeting: "Hello " + f.User.Name + ","}
	window := f.when(r.StartsAt) + " to " + f.when(r.EndsAt)
	pass := link{"Your gate pass (QR code)", f.passURL()}
	switch kind {
	case KindConfirmed:
		m.Subject = "Confirmed: " + f.Lot.Name + ", " + f.when(r.StartsAt)
		m.Lines = []string{
			"Your parking is booked and paid.",
			"Where: " + f.where(),
			"When: " + window,
			"Paid: " + parking.FormatMoney(r.Amount, r.Currency),
			"Reservation: " + r.ID,
			"Show the attached QR code at the entry gate, from " + f.when(f.Lot.Policy.EarliestEntry(r)) + ".",
		}
		m.Links = []link{pass, {"Directions", f.directions()}}
		m.PassPNG = true
	case KindReminder:
		m.Subject = "Reminder: your parking at " + f.Lot.Name + " starts " + f.when(r.StartsAt)
		m.Lines = []string{
			"Your parking starts soon.",
			"Where: " + f.where(),
			"When: " + window,
			"If you are not in by " + f.when(f.Lot.Policy.NoShowDeadline(r)) + ", the spot is released.",
			"Reservation: " + r.ID,
		}
		m.Links = []link{pass, {"Directions", f.directions()}}
	case KindEndingSoon:
		m.Subject = "Your parking at " + f.Lot.Name + " ends " + f.when(r.EndsAt)
		m.Lines = []string{
			"Your time is nearly up: please leave by " + f.when(r.EndsAt) + ".",
			"Where: " + f.where(),
			"After " + f.when(f.Lot.Policy.OverstayChargedAfter(r)) + " extra time is charged at the exit.",
			"Reservation: " + r.ID,
		}
	case KindHoldExpiring:
		m.Subject = "Your hold on spot " + f.Spot.Label + " expires " + f.when(r.HoldExpiresAt)
		m.Lines = []string{
			"Pay before " + f.when(r.HoldExpiresAt) + " to keep spot " + f.Spot.Label + " at " + f.Lot.Name + ".",
			"When: " + window,
			"Amount: " + parking.FormatMoney(r.Amount, r.Currency),
			"Reservation: " + r.ID,
		}
	case KindNoShow:
		m.Subject = "Your spot at " + f.Lot.Name + " was released"
		m.Lines = []string{
			"Nobody entered by " + f.when(f.Lot.Policy.NoShowDeadline(r)) + ", so spot " + f.Spot.Label + " was released for others.",
			"When: " + window,
			"Reservation: " + r.ID,
		}
	case KindOverstayCharged:
		m.Subject = "Overstay charge at " + f.Lot.Name
		m.Lines = []string{
			"You stayed past " + f.when(r.EndsAt) + ": the extra time was charged to your saved card.",
			"Charged: " + parking.FormatMoney(f.Payment.Amount, f.Payment.Currency) + card(f.Payment),
			"Reservation: " + r.ID,
		}
	case KindRefund:
		m.Subject = "Refund for your parking at " + f.Lot.Name
		m.Lines = []string{
			"We refunded " + parking.FormatMoney(f.Payment.Amount, f.Payment.Currency) + " to your card. Banks take a few days to show it.",
			"When: " + window,
			"Reservation: " + r.ID,
		}
	case KindReceipt:
		m.Subject = "Receipt: " + f.Lot.Name + ", " + f.when(r.StartsAt)
		m.Lines = []string{"Thank you for parking with us.", "Where: " + f.where(), "Booked: " + window}
		if r.CheckedInAt != nil && r.CheckedOutAt != nil {
			m.Lines = append(m.Lines, "Parked: "+f.when(*r.CheckedInAt)+" to "+f.when(*r.CheckedOutAt))
		}
		var total int64
		for _, p := range f.Payments {
			if p.Status != parking.PaymentSucceeded {
				continue
			}
			what, sign := "Parking", int64(1)
			switch {
			case p.Kind == parking.Refund:
				what, sign = "Refund", -1
			case p.Purpose == parking.PurposeOverstay:
				what = "Overstay"
			}
			total += sign * p.Amount
			m.Lines = append(m.Lines, what+": "+parking.FormatMoney(sign*p.Amount, p.Currency)+card(p))
		}
		m.Lines = append(m.Lines, "Total: "+parking.FormatMoney(total, r.Currency), "Reservation: "+r.ID)
	default:
		m.Subject = "parkd: " + kind
		m.Lines = []string{"Reservation: " + r.ID}
	}
	return m
}

func card(p parking.Payment) string {
	if p.CardLast4 == "" {
		return ""
	}
	return " (" + p.CardBrand + " ending " + p.CardLast4 + ")"
}

// inAppBody is what the app shows: the message's lines.
func (m message) inAppBody() string { return strings.Join(m.Lines, "\n") }

var textEmail = texttemplate.Must(texttemplate.New("text").Parse(`{{.M.Greeting}}

{{range .M.Lines}}{{.}}
{{end}}{{range .M.Links}}
{{.Text}}: {{.URL}}{{end}}

--
parkd. You get this email because you have an account with us.
Unsubscribe: {{.Unsubscribe}}
`))

var htmlEmail = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.M.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>{{.M.Greeting}}</p>
{{range .M.Lines}}<p>{{.}}</p>
{{end}}<ul>{{range .M.Links}}<li><a href="{{.URL}}">{{.Text}}</a></li>{{end}}</ul>
<hr><p style="font-size: small; color: #555">parkd. You get this email because you have an account with us.
<a href="{{.Unsubscribe}}">Unsubscribe</a></p>
</body></html>
`))

// render returns the plain-text and HTML bodies of an email.
func (m message) render(unsubscribe string) (text, html string, err error) {
	data := map[string]any{"M": m, "Unsubscribe": unsubscribe}
	var t, h bytes.Buffer
	if err := textEmail.Execute(&t, data); err != nil {
		return "", "", err
	}
	if err := htmlEmail.Execute(&h, data); err != nil {
		return "", "", err
	}
	return t.String(), h.String(), nil
}
