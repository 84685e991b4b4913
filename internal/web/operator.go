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
		oprs, err := s.Lots.Operators(r.Context(), me)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h := operatorHome{Lots: mine, Operators: oprs, Admin: me.IsAdmin(), lotForm: newLotForm()}
		if h.Admin {
			h.Directory = directory(oprs, mine)
		}
		s.render(w, r, http.StatusOK, "operator", "Operator", h)
	})
}

// operatorHome is the operator's list of lots and the form that creates one.
type operatorHome struct {
	Lots      []parking.Lot
	Operators []parking.Operator // an admin chooses one for a new lot
	Admin     bool
	Directory []operatorLots // for an admin: every operator and its lots
	lotForm
}

// operatorLots is one operator and the lots it runs.
type operatorLots struct {
	Operator parking.Operator
	Lots     []parking.Lot
}

// directory groups lots under their operators, in the operators' order.
func directory(oprs []parking.Operator, lots []parking.Lot) []operatorLots {
	d := make([]operatorLots, len(oprs))
	at := map[string]int{}
	for i, o := range oprs {
		d[i].Operator = o
		at[o.ID] = i
	}
	for _, l := range lots {
		if i, ok := at[l.OperatorID]; ok {
			d[i].Lots = append(d[i].Lots, l)
		}
	}
	return d
}

// lotForm is what the lot forms offer: zones and currencies to pick from
// (any other IANA zone or ISO 4217 code may be typed; the API checks it),
// and for a new lot the default policy's rates.
type lotForm struct {
	Lot        *parking.Lot // the lot to edit; nil for a new one
	Zones      []string
	Currencies []string
	Sizes      []parking.Size
	policyFields
}

// policyFields fill the "policyfields" template: a lot's rates and policy,
// and its currency (none yet for a new lot).
type policyFields struct {
	Rates    []rateRow
	Policy   parking.Policy
	Currency string
}

func newPolicyFields(p parking.Policy, currency string) policyFields {
	return policyFields{Rates: rateRows(p), Policy: p, Currency: currency}
}

func newLotForm() lotForm {
	return lotForm{Zones: commonZones, Currencies: commonCurrencies, Sizes: parking.Sizes, policyFields: newPolicyFields(parking.DefaultPolicy(), "")}
}

// commonZones are offered in the lot forms' zone list. Go cannot list the
// zones its database holds, and a short list reads better than six hundred.
var commonZones = []string{
	"UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Vancouver", "America/Mexico_City",
	"America/Sao_Paulo", "America/Buenos_Aires", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris",
	"Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich",
	"Europe/Vienna", "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki", "Europe/Warsaw",
	"Europe/Prague", "Europe/Athens", "Europe/Istanbul", "Europe/Kyiv", "Africa/Cairo", "Africa/Johannesburg",
	"Africa/Lagos", "Africa/Nairobi", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Hong_Kong",
	"Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
}

// commonCurrencies are offered in the lot forms' currency list.
var commonCurrencies = []string{"USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY", "CNY", "INR", "SGD", "HKD", "KRW", "BRL", "MXN", "ZAR", "AED"}

// dashboard is the operator's live view of one lot.
type dashboard struct {
	lotMap
	Gates []parking.Gate
	// Attention lists what the operator may need to act on: cars inside past
	// their time, and bookings the lot had to cancel because no spot fitted.
	Attention []attention
	// Edit is the lot's own fields, for the form that changes them.
	Edit lotForm
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
		edit := newLotForm()
		edit.Lot = &lot
		d := dashboard{lotMap: m, Gates: gates, Edit: edit}
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

// Grid geometry of the spot generator, in plan units (about half a metre),
// as the demo lays out its levels: a spot is 6 wide, a row of spots and half
// an aisle 22 deep, 10 of margin.
const (
	gridMargin   = 10.0
	gridRowPitch = 22.0
)

// NextRowY is where the generator puts the first new row on the level: below
// its spots, so that a second grid does not cover the first.
func (l levelSpots) NextRowY() float64 {
	y := gridMargin + gridRowPitch/2
	for _, sp := range l.Spots {
		y = max(y, sp.Y+gridRowPitch)
	}
	return y
}

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
	policyFields
}

type rateRow struct {
	Size             parking.Size
	Hourly, DailyMax string // in major units, for the form
}

// major writes minor units as a decimal in major units ("2.50"), for inputs.
func major(amount int64) string {
	return strconv.FormatInt(amount/100, 10) + "." + strconv.FormatInt(amount%100/10, 10) + strconv.FormatInt(amount%10, 10)
}

// rateRows are a policy's rates, a row per size, for a form.
func rateRows(p parking.Policy) []rateRow {
	var rows []rateRow
	for _, size := range parking.Sizes {
		rt := p.Rates[size]
		rows = append(rows, rateRow{Size: size, Hourly: major(rt.Hourly), DailyMax: major(rt.DailyMax)})
	}
	return rows
}

func (s *site) handlePolicy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := s.operatorLot(w, r)
		if !ok {
			return
		}
		f := policyForm{Lot: lot, Sizes: parking.Sizes, policyFields: newPolicyFields(lot.Policy, lot.Currency)}
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
