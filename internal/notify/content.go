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
}

type link struct{ Text, URL string }

// facts are what a message is written from.
type facts struct {
	User        parking.User
	Reservation parking.Reservation
	Lot         parking.Lot
	Spot        parking.Spot
	Payment     parking.Payment   // for overstay charges, refunds and extensions
	Payments    []parking.Payment // for receipts and cancellations by the lot
	BaseURL     string
	// OldSpot and Reason are, for a move, the spot the booking left and why.
	OldSpot parking.Spot
	Reason  string
	// PassAttached says the email carries the pass as pass.png.
	PassAttached bool
}

func (f facts) reservationURL() string {
	return strings.TrimRight(f.BaseURL, "/") + "/reservations/" + f.Reservation.ID
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
		}
		// Only an email can carry the pass; the app shows it on the
		// reservation's page.
		show := "Show your gate pass (the QR code on your reservation's page)"
		if f.PassAttached {
			show = "Show the attached QR code"
		}
		m.Lines = append(m.Lines, show+" at the entry gate, from "+f.when(f.Lot.Policy.EarliestEntry(r))+".")
		m.Links = []link{pass, {"Your reservation", f.reservationURL()}, {"Directions", f.directions()}}
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
	case KindMoved:
		m.Subject = "Your spot at " + f.Lot.Name + " has changed: please park at " + f.Spot.Label
		m.Lines = []string{
			"Your booking was moved from spot " + f.OldSpot.Label + " to spot " + f.Spot.Label + ", because " + parking.ReasonText(f.Reason) + ".",
			"Where: " + f.where(),
			"When: " + window,
			"Your gate pass stays the same: it names your booking, not the spot.",
			"Reservation: " + r.ID,
		}
		m.Links = []link{{"Your reservation", f.reservationURL()}, {"The way to spot " + f.Spot.Label, f.reservationURL() + "/navigate"}}
	case KindLotCancelled:
		m.Subject = "Cancelled: your parking at " + f.Lot.Name + ", " + f.when(r.StartsAt)
		m.Lines = []string{
			"We are sorry: we had to cancel your booking of spot " + f.Spot.Label + ", because " + parking.ReasonText(r.ChangeReason) +
				", and no other spot fits your vehicle for that time.",
			"When: " + window,
		}
		if paid := paidFor(f.Payments); paid > 0 {
			m.Lines = append(m.Lines, "You are refunded in full: "+parking.FormatMoney(paid, r.Currency)+" goes back to your card. A notice follows when the refund is made.")
		} else {
			m.Lines = append(m.Lines, "Nothing was charged.")
		}
		m.Lines = append(m.Lines, "Reservation: "+r.ID)
		m.Links = []link{{"Find another spot", strings.TrimRight(f.BaseURL, "/") + "/lots/" + f.Lot.ID}}
	case KindExtended:
		m.Subject = "Extended: your parking at " + f.Lot.Name + " now ends " + f.when(r.EndsAt)
		m.Lines = []string{"Your stay is extended: please leave by " + f.when(r.EndsAt) + "."}
		if f.Payment.ExtendsFrom != nil && f.Payment.ExtendsTo != nil {
			m.Lines = append(m.Lines, "Extra time: "+f.when(*f.Payment.ExtendsFrom)+" to "+f.when(*f.Payment.ExtendsTo))
		}
		m.Lines = append(m.Lines,
			"Where: "+f.where(),
			"Charged: "+parking.FormatMoney(f.Payment.Amount, f.Payment.Currency)+card(f.Payment),
			"Reservation: "+r.ID)
		m.Links = []link{{"Your reservation", f.reservationURL()}}
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
			case p.ExtendsTo != nil:
				what = "Extension"
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

// paidFor is what the driver paid for a booking and its extensions: the
// succeeded booking charges.
func paidFor(ps []parking.Payment) int64 {
	var paid int64
	for _, p := range ps {
		if p.Kind == parking.Charge && p.Purpose == parking.PurposeBooking && p.Status == parking.PaymentSucceeded {
			paid += p.Amount
		}
	}
	return paid
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
