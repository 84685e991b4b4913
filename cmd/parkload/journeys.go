package main

import (
	"context"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"parkd/internal/parking"
)

// worker runs journeys one after another, as one of the run's drivers.
type worker struct {
	l   *loader
	rng *rand.Rand
	d   driver
	lot lotGates // of the journey
}

// journey runs one journey of the mix, chosen by weight.
func (w *worker) journey() {
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	n := w.rng.IntN(total)
	name := mix[len(mix)-1].name
	for _, m := range mix {
		if n < m.weight {
			name = m.name
			break
		}
		n -= m.weight
	}
	// One lot draws nothing, so that a seed makes the journeys it made before
	// --lots.
	w.lot = w.l.lots[0]
	if len(w.l.lots) > 1 {
		w.lot = w.l.lots[w.rng.IntN(len(w.l.lots))]
	}
	switch name {
	case "browse":
		if w.l.call("lots", "GET", "/api/v1/lots", "", nil, nil, nil) == nil {
			w.l.call("map", "GET", "/api/v1/lots/"+w.lot.id+"/spots", "", nil, nil, nil)
		}
	case "book":
		from, to := w.futureWindow()
		if spot, size, ok := w.freeSpot(from, to); ok {
			if id, ok := w.hold("hold_spot", spot, size, from, to); ok {
				w.pay(id)
			}
		}
	case "book_any":
		from, to := w.futureWindow()
		if id, ok := w.hold("hold_any", "", parking.Standard, from, to); ok {
			w.pay(id)
		}
	case "cancel":
		from, to := w.futureWindow()
		if id, ok := w.hold("hold_any", "", parking.Standard, from, to); ok && w.pay(id) {
			w.l.call("cancel", "POST", "/api/v1/reservations/"+id+"/cancel", w.d.token, w.l.key(), nil, nil)
		}
	case "visit":
		w.visit()
	}
}

// futureWindow is a window of 1 to 4 hours starting on a quarter hour
// between 2 hours and 7 days ahead, so bookings spread over the lot as real
// ones do, and some collide.
func (w *worker) futureWindow() (time.Time, time.Time) {
	from := time.Now().UTC().Truncate(15 * time.Minute).Add(2*time.Hour + time.Duration(w.rng.IntN(7*24*4))*15*time.Minute)
	return from, from.Add(time.Duration(1+w.rng.IntN(4)) * time.Hour)
}

// freeSpot reads the lot's map for a window and picks one of its free spots.
func (w *worker) freeSpot(from, to time.Time) (string, parking.Size, bool) {
	var m struct {
		Spots []struct {
			ID     string       `json:"id"`
			Size   parking.Size `json:"size"`
			Status string       `json:"status"`
		} `json:"spots"`
	}
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	if w.l.call("map", "GET", "/api/v1/lots/"+w.lot.id+"/spots?"+q.Encode(), "", nil, nil, &m) != nil {
		return "", 0, false
	}
	var free []int
	for i, s := range m.Spots {
		if s.Status == "available" {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return "", 0, false
	}
	s := m.Spots[free[w.rng.IntN(len(free))]]
	return s.ID, s.Size, true
}

// hold holds spot (or any spot that fits size, when spot is "") for the
// window, and notes the 201.
func (w *worker) hold(op, spot string, size parking.Size, from, to time.Time) (string, bool) {
	body := map[string]any{
		"lot_id": w.lot.id, "plate": w.plate(), "size": size,
		"starts_at": from.Format(time.RFC3339), "ends_at": to.Format(time.RFC3339),
	}
	if spot != "" {
		body["spot_id"] = spot
	}
	var r struct {
		ID string `json:"id"`
	}
	if w.l.call(op, "POST", "/api/v1/reservations", w.d.token, w.l.key(), body, &r) != nil {
		return "", false
	}
	w.l.mu.Lock()
	w.l.seen.reservations[r.ID] = true
	w.l.mu.Unlock()
	return r.ID, true
}

// pay pays a hold with the sandbox's test card that succeeds.
func (w *worker) pay(id string) bool {
	var out struct {
		Payment struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"payment"`
	}
	if w.l.call("pay", "POST", "/api/v1/reservations/"+id+"/payments", w.d.token, w.l.key(),
		map[string]string{"payment_method": "pm_card_visa"}, &out) != nil {
		return false
	}
	if out.Payment.Status == parking.PaymentSucceeded {
		w.l.mu.Lock()
		w.l.seen.payments[out.Payment.ID] = id
		w.l.mu.Unlock()
	}
	return true
}

// visit books an hour from now, pays, takes the pass, and drives in and out.
func (w *worker) visit() {
	from := time.Now().UTC().Truncate(time.Second)
	id, ok := w.hold("hold_any", "", parking.Standard, from, from.Add(time.Hour))
	if !ok || !w.pay(id) {
		return
	}
	var pass struct {
		Code string `json:"code"`
	}
	if w.l.call("pass", "GET", "/api/v1/reservations/"+id+"/pass", w.d.token, nil, nil, &pass) != nil {
		return
	}
	if !w.lot.scannable() {
		w.l.unscanned.Add(1)
		return
	}
	if w.scan("entry", w.lot.entryGate, w.lot.entryKey, pass.Code) {
		w.scan("exit", w.lot.exitGate, w.lot.exitKey, pass.Code)
	}
}

// scan scans a pass at a gate with its device key; a deny counts as an error.
func (w *worker) scan(op, gate, key, code string) bool {
	var d struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	t0 := time.Now()
	_, err := w.l.client.Do(context.Background(), "POST", "/api/v1/gates/"+gate+"/scans", key, nil, map[string]string{"code": code}, &d)
	if err == nil && d.Decision != "open" {
		err = denied{reason: d.Reason}
	}
	w.l.st.record(op, time.Since(t0), err)
	return err == nil
}

// plate is a plate no other reservation of the run has.
func (w *worker) plate() string {
	return "PL" + strings.ToUpper(strconv.FormatInt(w.l.plates.Add(1), 36))
}
