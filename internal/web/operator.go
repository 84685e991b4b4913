package web

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/parking"
)

// operatorLot returns the lot {lot} if the signed-in user runs it; otherwise it
// answers (sign in, 403 or 404) and returns false.
func (s *site) operatorLot(w http.ResponseWriter, r *http.Request) (parking.User, parking.Lot, bool) {
	me, ok := s.signedIn(w, r)
	if !ok {
		return me, parking.Lot{}, false
	}
	lot, err := s.Lots.ManagedLot(r.Context(), me, r.PathValue("lot"))
	if err != nil {
		s.fail(w, r, err)
		return me, lot, false
	}
	return me, lot, true
}

func (s *site) handleOperatorHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		mine, err := s.Lots.ManagedLots(r.Context(), me)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].Name < mine[j].Name })
		s.render(w, r, http.StatusOK, "operator", "Operator", mine)
	})
}

// dashboard is the operator's live view of one lot.
type dashboard struct {
	lotMap
	Gates []parking.Gate
	// Attention lists what the operator may need to act on: cars inside past
	// their time, and bookings the lot had to cancel because no spot fitted.
	Attention []attention
}

// attention is one line of the dashboard's "Needs attention".
type attention struct {
	Reservation parking.Reservation
	Spot        string // its label
	Overstaying bool   // else cancelled by the lot
	Why         string
}

// Bounds of the dashboard's "Needs attention": cancellations of bookings
// that started up to attentionPast ago or start within attentionAhead, at
// most maxAttention lines.
const (
	attentionPast  = 12 * time.Hour
	attentionAhead = 24 * time.Hour
	maxAttention   = 50
)

func (s *site) handleOperatorLot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, lot, ok := s.operatorLot(w, r)
		if !ok {
			return
		}
		m, ok := s.lotMap(w, r, lot)
		if !ok {
			return
		}
		m.Operator = true
		ctx := r.Context()
		gates, err := s.Gates.Gates(ctx, me, lot.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d := dashboard{lotMap: m, Gates: gates}
		now := s.Clock.Now()
		list, err := s.Engine.LotReservations(ctx, me, lot.ID, now.Add(-attentionPast), now.Add(attentionAhead))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rs := list.Reservations
		labels := map[string]string{}
		for _, l := range d.Levels {
			for _, t := range l.Tiles {
				labels[t.ID] = t.Label
			}
		}
		overstaying := map[string]bool{}
		for _, res := range rs {
			switch {
			case res.Overstaying(now):
				overstaying[res.SpotID] = true
				d.Attention = append(d.Attention, attention{Reservation: res, Spot: labels[res.SpotID], Overstaying: true})
			case res.Status == parking.StatusCancelled && res.ChangeReason != "":
				d.Attention = append(d.Attention, attention{Reservation: res, Spot: labels[res.SpotID], Why: parking.ReasonText(res.ChangeReason)})
			}
		}
		sort.SliceStable(d.Attention, func(i, j int) bool {
			a, b := d.Attention[i], d.Attention[j]
			if a.Overstaying != b.Overstaying {
				return a.Overstaying
			}
			return a.Reservation.StartsAt.Before(b.Reservation.StartsAt)
		})
		if len(d.Attention) > maxAttention {
			d.Attention = d.Attention[:maxAttention]
		}
		markOverstaying(d.Levels, overstaying)
		s.render(w, r, http.StatusOK, "dashboard", lot.Name+" · live occupancy", d)
	})
}

// markOverstaying shows the operator which occupied spots hold a car past its
// time (drivers see them occupied, as before).
func markOverstaying(levels []levelPlan, spots map[string]bool) {
	for i := range levels {
		for j := range levels[i].Tiles {
			t := &levels[i].Tiles[j]
			if spots[t.ID] && t.Status == booking.Occupied {
				t.Status = statusOverstaying
				levels[i].Overstaying++
			}
		}
	}
}

type gateLog struct {
	Lot      parking.Lot
	From, To time.Time
	Plate    string
	Events   []gateLogRow
	CSV      string
	Limited  bool
}

type gateLogRow struct {
	parking.GateEvent
	Gate string
}

// maxLogRows bounds the log page; the CSV export has everything.
const maxLogRows = 500

func (s *site) handleGateLog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, lot, ok := s.operatorLot(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		q := r.URL.Query()
		now := s.Clock.Now()
		g := gateLog{Lot: lot, Plate: q.Get("plate")}
		var ok1, ok2 bool
		if g.From, ok1 = parseWhen(q.Get("from"), lot.TimeZone); !ok1 {
			g.From = now.Add(-24 * time.Hour).Truncate(time.Minute)
		}
		if g.To, ok2 = parseWhen(q.Get("to"), lot.TimeZone); !ok2 || !g.To.After(g.From) {
			g.To = now.Add(time.Minute).Truncate(time.Minute)
		}
		events, err := s.Gates.GateEvents(ctx, me, lot.ID, gate.EventQuery{From: g.From, To: g.To, Plate: g.Plate})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		gates, err := s.Gates.Gates(ctx, me, lot.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		names := map[string]string{}
		for _, gt := range gates {
			names[gt.ID] = gt.Name
		}
		// Newest first on screen: the operator looks for what just happened.
		for i := len(events) - 1; i >= 0 && len(g.Events) < maxLogRows; i-- {
			g.Events = append(g.Events, gateLogRow{GateEvent: events[i], Gate: names[events[i].GateID]})
		}
		g.Limited = len(events) > maxLogRows
		g.CSV = "/api/v1/lots/" + lot.ID + "/gate-events?format=csv&from=" + g.From.Format(time.RFC3339) + "&to=" + g.To.Format(time.RFC3339)
		if g.Plate != "" {
			g.CSV += "&plate=" + urlQueryEscape(g.Plate)
		}
		s.render(w, r, http.StatusOK, "gatelog", lot.Name+" · entry/exit log", g)
	})
}

type spotsEditor struct {
	Lot    parking.Lot
	Levels []levelSpots
	Sizes  []parking.Size
}

type levelSpots struct {
	Level parking.Level
	Spots []parking.Spot
}

func (spotsEditor) wide() {}

func (s *site) handleSpotsEditor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := s.operatorLot(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		levels, err := s.Lots.Levels(ctx, lot.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		spots, err := s.Lots.Spots(ctx, lot.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sort.SliceStable(levels, func(i, j int) bool { return levels[i].Ordinal < levels[j].Ordinal })
		e := spotsEditor{Lot: lot, Sizes: parking.Sizes}
		idx := map[string]int{}
		for i, l := range levels {
			idx[l.ID] = i
			e.Levels = append(e.Levels, levelSpots{Level: l})
		}
		sort.SliceStable(spots, func(i, j int) bool { return spots[i].Label < spots[j].Label })
		for _, sp := range spots {
			if i, ok := idx[sp.LevelID]; ok {
				e.Levels[i].Spots = append(e.Levels[i].Spots, sp)
			}
		}
		s.render(w, r, http.StatusOK, "spots", lot.Name+" · spots", e)
	})
}

type policyForm struct {
	Lot   parking.Lot
	Sizes []parking.Size
	Rates []rateRow
}

type rateRow struct {
	Size             parking.Size
	Hourly, DailyMax string // in major units, for the form
}

// major writes minor units as a decimal in major units ("2.50"), for inputs.
func major(amount int64) string {
	return strconv.FormatInt(amount/100, 10) + "." + strconv.FormatInt(amount%100/10, 10) + strconv.FormatInt(amount%10, 10)
}

func (s *site) handlePolicy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := s.operatorLot(w, r)
		if !ok {
			return
		}
		f := policyForm{Lot: lot, Sizes: parking.Sizes}
		for _, size := range parking.Sizes {
			rt := lot.Policy.Rates[size]
			f.Rates = append(f.Rates, rateRow{Size: size, Hourly: major(rt.Hourly), DailyMax: major(rt.DailyMax)})
		}
		s.render(w, r, http.StatusOK, "policy", lot.Name+" · rates and policies", f)
	})
}

func (s *site) handleKiosk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "kiosk", "Gate kiosk", kiosk{Gate: r.PathValue("gate")})
	})
}

type kiosk struct{ Gate string }

func (kiosk) wide() {}
func (kiosk) bare() {}
