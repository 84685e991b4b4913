package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"parkd/internal/booking"
	"parkd/internal/lots"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// lotSearch is the home page's data: the search as asked (Form), one page of
// what it found, and the links to the pages around it.
type lotSearch struct {
	Form       searchForm
	Sizes      []parking.Size
	Lots       []lotSummary
	From, To   time.Time
	Zone       string // of From and To as the page shows them
	Problem    string
	Prev, Next string // links; empty on the first and the last page
	Start      int    // the number of the page's first lot, from 1
	// MapTiles and MapAttribution draw the map of the page's lots
	// (lotsmap.js); no tiles, no map.
	MapTiles, MapAttribution string
}

// searchForm is what the home page's form sends: a GET, so that searching and
// paging work without JavaScript. Zone, which search.js sets to the browser's
// zone, reads the window's local times (UTC without it).
type searchForm struct {
	Q, Near, Size, From, To, Zone string
}

// lotSummary is a lot as the home page lists it, in words.
type lotSummary struct {
	parking.Lot
	Counted     bool // Free and Total answer the window
	Free, Total int
	Price       string // "6.00 USD"; empty without a size
	Distance    string // "1.2 km"; empty without near
	Maps        mapLinks
}

// searchPages bounds how many earlier pages "Previous" walks back through:
// the link carries their cursors.
const searchPages = 30

// handleLots is the home page: a search for lots (lots.Service.SearchLots)
// by name, address or city, near a point, with each lot's free spots and
// price over a window (the next two hours by default), a page at a time.
func (s *site) handleLots() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := searchForm{Q: q.Get("q"), Near: q.Get("near"), Size: q.Get("size"), From: q.Get("from"), To: q.Get("to"), Zone: q.Get("tz")}
		zone := f.Zone
		if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
			zone = "UTC"
		}
		from, to, problem := window(q, zone, s.Clock.Now())
		// trail holds the cursors of the pages before this one ("-" for the
		// first), so that "Previous" needs no cursor that goes backwards.
		var trail []string
		if t := q.Get("trail"); t != "" {
			trail = strings.Split(t, ",")
		}
		trail = trail[max(0, len(trail)-searchPages):]
		cursor := q.Get("cursor")
		page, err := s.Lots.SearchLots(r.Context(), lots.Search{Q: f.Q, Near: f.Near, Size: f.Size, Cursor: cursor, Limit: strconv.Itoa(homePageSize),
			From: from.Format(time.RFC3339), To: to.Format(time.RFC3339)})
		var ve *parking.ValidationError
		if errors.As(err, &ve) {
			problem = searchProblem(ve)
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		out := lotSearch{Form: f, Sizes: parking.Sizes, From: from, To: to, Zone: zone, Problem: problem, Start: len(trail)*homePageSize + 1,
			MapTiles: s.MapTiles, MapAttribution: s.MapAttribution}
		for _, l := range page.Lots {
			sum := lotSummary{Lot: l.Lot, Maps: directions(l.Lat, l.Lng, l.Name)}
			if l.Free != nil && l.Total != nil {
				sum.Counted, sum.Free, sum.Total = true, *l.Free, *l.Total
			}
			if l.Price != nil {
				sum.Price = parking.FormatMoney(*l.Price, l.Currency)
			}
			if l.Distance != nil {
				sum.Distance = distanceText(*l.Distance)
			}
			out.Lots = append(out.Lots, sum)
		}
		link := func(cursor string, trail []string) string {
			v := url.Values{}
			for k, x := range map[string]string{"q": f.Q, "near": f.Near, "size": f.Size, "from": f.From, "to": f.To, "tz": f.Zone, "cursor": cursor, "trail": strings.Join(trail, ",")} {
				if x != "" {
					v.Set(k, x)
				}
			}
			return "/?" + v.Encode()
		}
		if n := len(trail); n > 0 {
			prev := trail[n-1]
			if prev == "-" {
				prev = ""
			}
			out.Prev = link(prev, trail[:n-1])
		}
		if page.NextCursor != "" {
			here := cursor
			if here == "" {
				here = "-"
			}
			out.Next = link(page.NextCursor, append(trail[:len(trail):len(trail)], here))
		}
		w.Header().Set("Content-Security-Policy", s.searchCSP)
		s.render(w, r, http.StatusOK, "lots", "Find parking", out)
	})
}

// distanceText writes metres as people read them: "350 m", "1.2 km", "35 km".
func distanceText(m float64) string {
	switch {
	case m < 1000:
		return strconv.Itoa(int(m)) + " m"
	case m < 10_000:
		return strconv.FormatFloat(m/1000, 'f', 1, 64) + " km"
	}
	return strconv.Itoa(int(m/1000+0.5)) + " km"
}

// homePageSize is how many lots the home page lists at a time.
const homePageSize = 20

// searchProblem says in words what of a search the page could not use.
func searchProblem(ve *parking.ValidationError) string {
	var parts []string
	for _, f := range ve.Fields {
		switch f.Field {
		case "cursor":
			parts = append(parts, "The list changed since that link was made: search again.")
		case "near":
			parts = append(parts, "The place to search near was not understood: give it as latitude,longitude.")
		default:
			parts = append(parts, "Check "+f.Field+": "+f.Message+".")
		}
	}
	return strings.Join(parts, " ")
}

func (s *site) handleVehicles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		vs, err := s.Auth.Vehicles(r.Context(), me.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, "vehicles", "My vehicles", struct {
			Vehicles []parking.Vehicle
			Sizes    []parking.Size
			Next     string
		}{vs, parking.Sizes, safeNext(r.URL.Query().Get("next"))})
	})
}

// lotMap is the lot map page's data.
type lotMap struct {
	Lot      parking.Lot
	From, To time.Time
	Problem  string
	Levels   []levelPlan
	Counts   booking.Counts
	Fits     parking.Size
	Amenity  string // "ev" or "accessible": what the driver's spot must have
	Vehicles []parking.Vehicle
	Sizes    []parking.Size
	Maps     mapLinks
	Operator bool // the dashboard: no booking, live counts
	// Prices are what the window costs on a spot of each size, in words
	// ("6.00 USD"), for the spot panel and the line under the form.
	Prices []sizePrice
}

type sizePrice struct {
	Size  parking.Size
	Price string
}

func (lotMap) wide() {}

func (s *site) lotMap(w http.ResponseWriter, r *http.Request, lot parking.Lot) (lotMap, bool) {
	ctx := r.Context()
	q := r.URL.Query()
	m := lotMap{Lot: lot, Sizes: parking.Sizes, Maps: directions(lot.Lat, lot.Lng, lot.Name)}
	m.From, m.To, m.Problem = window(q, lot.TimeZone, s.Clock.Now())
	if v := q.Get("fits"); v != "" {
		m.Fits, _ = parking.ParseSize(v)
	}
	m.Amenity = scarceAmenity(q.Get("amenity"))
	if u, ok := s.user(r); ok {
		vs, err := s.Auth.Vehicles(ctx, u.ID)
		if err != nil {
			s.fail(w, r, err)
			return m, false
		}
		m.Vehicles = vs
	}
	levels, err := s.Lots.Levels(ctx, lot.ID)
	if err != nil {
		s.fail(w, r, err)
		return m, false
	}
	a, err := s.Engine.Availability(ctx, lot.ID, booking.SpotFilter{}, m.From, m.To)
	if err != nil {
		s.fail(w, r, err)
		return m, false
	}
	m.Levels = plans(levels, a.Spots, m.Fits, m.Amenity)
	if m.Problem == "" {
		for _, size := range parking.Sizes {
			if amount, err := lot.Policy.Price(size, m.From, m.To); err == nil {
				m.Prices = append(m.Prices, sizePrice{size, parking.FormatMoney(amount, lot.Currency)})
			}
		}
	}
	for _, l := range m.Levels {
		m.Counts.Total += l.Counts.Total
		m.Counts.Available += l.Counts.Available
	}
	return m, true
}

func (s *site) handleLotMap() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lot, err := s.Lots.Lot(r.Context(), r.PathValue("lot"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		m, ok := s.lotMap(w, r, lot)
		if !ok {
			return
		}
		s.render(w, r, http.StatusOK, "lot", lot.Name, m)
	})
}

// scarceAmenity returns a, when it is one of the amenities a driver may ask
// "any spot" for (parking.ScarceAmenities), else "".
func scarceAmenity(a string) string {
	for _, s := range parking.ScarceAmenities {
		if a == s {
			return a
		}
	}
	return ""
}

// reserveForm is the reserve page: a spot (or any that fits), a window, a
// vehicle, and the price the server computes for them.
type reserveForm struct {
	Lot                  parking.Lot
	Spot                 *parking.Spot
	Amenity              string // for "any spot": what it must have ("ev", "accessible")
	From, To             time.Time
	Vehicles             []parking.Vehicle
	Vehicle              *parking.Vehicle
	Sizes                []parking.Size
	Price                int64
	PriceFrom            bool   // "any that fits": the price of the smallest fitting size
	PriceRule            string // how the price is computed, in words
	Problems             []string
	CanBook              bool
	HoldMinutes          int
	Gateway              string
	StripePublishableKey string
}

func (s *site) handleReserve() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		q := r.URL.Query()
		lot, err := s.Lots.Lot(ctx, q.Get("lot"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f := reserveForm{Lot: lot, Sizes: parking.Sizes, Gateway: s.Gateway, StripePublishableKey: s.StripePublishableKey,
			HoldMinutes: int(time.Duration(lot.Policy.HoldTTL) / time.Minute), Amenity: scarceAmenity(q.Get("amenity"))}
		var problem string
		f.From, f.To, problem = window(q, lot.TimeZone, s.Clock.Now())
		if problem != "" {
			f.Problems = append(f.Problems, problem)
		}
		if id := q.Get("spot"); id != "" {
			sp, err := s.Lots.Spot(ctx, id)
			if err != nil || sp.LotID != lot.ID {
				s.fail(w, r, parking.Errorf(parking.ENOTFOUND, "no such spot"))
				return
			}
			f.Spot = &sp
			f.Amenity = "" // a chosen spot has what it has
		}
		if f.Vehicles, err = s.Auth.Vehicles(ctx, me.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		for i, v := range f.Vehicles {
			if v.ID == q.Get("vehicle") || f.Vehicle == nil {
				f.Vehicle = &f.Vehicles[i]
			}
		}
		priced(&f)
		s.checkReservation(ctx, &f)
		s.render(w, r, http.StatusOK, "reserve", "Reserve at "+lot.Name, f)
	})
}

// checkReservation says, in words, what stops the form from being booked. The
// API decides in the end; this only saves a driver a failed try.
func (s *site) checkReservation(ctx context.Context, p *reserveForm) {
	problems := p.Problems
	defer func() { p.Problems, p.CanBook = problems, len(problems) == 0 }()
	now := s.Clock.Now()
	if !p.From.After(now) {
		problems = append(problems, "The start time has passed: choose a later start.")
	}
	if p.To.Sub(p.From) > time.Duration(p.Lot.Policy.MaxStay) {
		problems = append(problems, "This lot takes stays of at most "+p.Lot.Policy.MaxStay.Human()+".")
	}
	if p.Vehicle == nil {
		problems = append(problems, "Add your vehicle first, so that we find a spot it fits.")
		return
	}
	if p.Spot != nil {
		if !p.Vehicle.Size.Fits(p.Spot.Size) {
			problems = append(problems, "Your "+p.Vehicle.Size.String()+" vehicle does not fit this "+p.Spot.Size.String()+" spot.")
		}
		st, err := s.Engine.SpotStatus(ctx, *p.Spot, p.From, p.To)
		if err == nil && st != booking.Available {
			problems = append(problems, "This spot is "+strings.ReplaceAll(string(st), "_", " ")+" for that time: pick another spot or time.")
		}
	}
}

// priced fills in the price of a reserve form.
func priced(f *reserveForm) {
	size := parking.Size(0)
	switch {
	case f.Spot != nil:
		size = f.Spot.Size
	case f.Vehicle != nil:
		size, f.PriceFrom = f.Vehicle.Size, true
	}
	if size.Valid() {
		f.Price, _ = f.Lot.Policy.Price(size, f.From, f.To)
		f.PriceRule = priceRule(f.Lot, size)
	}
}

// priceRule says how a lot prices a size: "3.00 USD an hour for a standard
// spot, billed per started 15 min, at most 24.00 USD a day."
func priceRule(lot parking.Lot, size parking.Size) string {
	rate := lot.Policy.Rates[size]
	out := parking.FormatMoney(rate.Hourly, lot.Currency) + " an hour for a " + size.String() + " spot, billed per started " +
		lot.Policy.BillingIncrement.Human()
	if rate.DailyMax > 0 {
		out += ", at most " + parking.FormatMoney(rate.DailyMax, lot.Currency) + " a day"
	}
	return out + "."
}

// reservationRow is a reservation with what its list shows about it.
type reservationRow struct {
	parking.Reservation
	Lot       parking.Lot
	Spot      parking.Spot // zero when the spot is gone
	Refund    string       // what cancelling now gives back, in words
	CanCancel bool
	HasPass   bool
	Upcoming  bool
	Cancelled bool // cancelled, or an unpaid hold that lapsed: it never was a stay
	// EntryFrom and EntryUntil are when the pass opens the entry gate.
	EntryFrom, EntryUntil time.Time
	// MovedFrom is the spot the lot last moved the booking from (zero when
	// it never did), shown while the booking is live; Why says why the lot
	// moved or cancelled it, in words; LotCancelled says the lot, not the
	// driver, cancelled it.
	MovedFrom    parking.Spot
	Why          string
	LotCancelled bool
}

// lookupStore is what a lookup reads: the lots service (Config.Lots).
type lookupStore interface {
	Lot(ctx context.Context, id string) (parking.Lot, error)
	Spots(ctx context.Context, lotID string) ([]parking.Spot, error)
}

// lookup caches lots, and each lot's spots, while one page is built: a list of
// reservations reads each of their lots once, not a lot and a spot per row.
type lookup struct {
	store    lookupStore
	lots     map[string]parking.Lot
	lotSpots map[string][]parking.Spot // by lot
	spots    map[string]parking.Spot   // by id, of the lots in lotSpots
}

func newLookup(store lookupStore) *lookup {
	return &lookup{store: store, lots: map[string]parking.Lot{}, lotSpots: map[string][]parking.Spot{}, spots: map[string]parking.Spot{}}
}

func (l *lookup) lot(ctx context.Context, id string) (parking.Lot, error) {
	if v, ok := l.lots[id]; ok {
		return v, nil
	}
	v, err := l.store.Lot(ctx, id)
	if err == nil {
		l.lots[id] = v
	}
	return v, err
}

// spotsOf returns a lot's spots.
func (l *lookup) spotsOf(ctx context.Context, lotID string) ([]parking.Spot, error) {
	if v, ok := l.lotSpots[lotID]; ok {
		return v, nil
	}
	v, err := l.store.Spots(ctx, lotID)
	if err != nil {
		return nil, err
	}
	l.lotSpots[lotID] = v
	for _, sp := range v {
		l.spots[sp.ID] = sp
	}
	return v, nil
}

// spot returns a spot of a lot; ok is false when the lot has no such spot.
func (l *lookup) spot(ctx context.Context, lotID, id string) (sp parking.Spot, ok bool, err error) {
	if _, err := l.spotsOf(ctx, lotID); err != nil {
		return sp, false, err
	}
	sp, ok = l.spots[id]
	return sp, ok && sp.LotID == lotID, nil
}

func (s *site) reservationRow(ctx context.Context, lk *lookup, res parking.Reservation, now time.Time) (reservationRow, error) {
	row := reservationRow{Reservation: res}
	lot, err := lk.lot(ctx, res.LotID)
	if err != nil {
		return row, err
	}
	row.Lot = lot
	if sp, ok, err := lk.spot(ctx, res.LotID, res.SpotID); err != nil {
		return row, err
	} else if ok {
		row.Spot = sp
	}
	active := lot.Policy.Holds(res, now)
	row.Upcoming = active && (res.EndsAt.After(now) || res.Inside())
	row.Cancelled = res.Status == parking.StatusCancelled || res.Status == parking.StatusExpired || res.HoldExpired(now)
	row.EntryFrom, row.EntryUntil = lot.Policy.EarliestEntry(res), lot.Policy.NoShowDeadline(res)
	if res.ChangeReason != "" {
		row.Why = parking.ReasonText(res.ChangeReason)
	}
	row.LotCancelled = res.Status == parking.StatusCancelled && res.ChangeReason != ""
	if res.MovedFrom != "" && res.Status.Active() {
		if sp, ok, err := lk.spot(ctx, res.LotID, res.MovedFrom); err != nil {
			return row, err
		} else if ok {
			row.MovedFrom = sp
		}
	}
	row.HasPass = res.Status == parking.StatusConfirmed || res.Status == parking.StatusCheckedIn
	row.CanCancel = active && (res.Status == parking.StatusHeld || res.Status == parking.StatusConfirmed)
	switch {
	case res.Status == parking.StatusHeld:
		row.Refund = "Nothing has been charged."
	case lot.Policy.RefundsOnCancel(res, now):
		row.Refund = "You get " + parking.FormatMoney(res.Amount, res.Currency) + " back in full."
	default:
		row.Refund = "It is too close to the start for a refund: nothing is paid back."
	}
	return row, nil
}

func (s *site) handleReservations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		rs, err := s.Engine.UserReservations(ctx, me.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		now := s.Clock.Now()
		lk := newLookup(s.Lots)
		var data struct{ Upcoming, Past, Cancelled []reservationRow }
		for _, res := range rs {
			row, err := s.reservationRow(ctx, lk, res, now)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			switch {
			case row.Upcoming:
				data.Upcoming = append(data.Upcoming, row)
			case row.Cancelled:
				data.Cancelled = append(data.Cancelled, row)
			default:
				data.Past = append(data.Past, row)
			}
		}
		// Soonest first for what is coming; the store lists newest first.
		sort.SliceStable(data.Upcoming, func(i, j int) bool { return data.Upcoming[i].StartsAt.Before(data.Upcoming[j].StartsAt) })
		s.render(w, r, http.StatusOK, "reservations", "My reservations", data)
	})
}

// reservationPage reads the reservation a page is about, for its driver (or
// the operator of its lot), as the row the page shows; ok is false when the
// page has answered already (sign in, not found).
func (s *site) reservationPage(w http.ResponseWriter, r *http.Request, lk *lookup) (reservationRow, bool) {
	me, ok := s.signedIn(w, r)
	if !ok {
		return reservationRow{}, false
	}
	res, err := s.Engine.VisibleReservation(r.Context(), me, r.PathValue("reservation"))
	if err != nil {
		s.fail(w, r, err)
		return reservationRow{}, false
	}
	row, err := s.reservationRow(r.Context(), lk, res, s.Clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return reservationRow{}, false
	}
	return row, true
}

// reservationView is the reservation page: the row, and the extension form
// when the driver can extend.
type reservationView struct {
	reservationRow
	Extend *extensionForm
}

// extensionForm offers a later end: the price of the extra time is the
// server's (booking.PlanExtension), as it will be charged, or the reason it
// cannot be had.
type extensionForm struct {
	Lot                  parking.Lot
	To                   time.Time // the new end asked for (?extend_to=), or an hour more
	Amount               int64
	Currency             string
	Problem              string
	SavedCard            bool // pay with the saved card unless another is given
	Gateway              string
	StripePublishableKey string
	Choices              []extendChoice
}

// extendChoice is a quick choice of a new end: some hours more.
type extendChoice struct {
	Label string
	To    time.Time
}

func (s *site) handleReservation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		row, ok := s.reservationPage(w, r, newLookup(s.Lots))
		if !ok {
			return
		}
		v := reservationView{reservationRow: row}
		me, _ := s.user(r)
		if me.ID == row.UserID && (row.Status == parking.StatusConfirmed || row.Status == parking.StatusCheckedIn) {
			ext, err := s.extensionForm(r, row.Reservation, row.Lot)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			v.Extend = &ext
		}
		s.render(w, r, http.StatusOK, "reservation", "Reservation at "+row.Lot.Name, v)
	})
}

// extensionForm prices extending res to ?extend_to= (an hour more when not
// given) as the extension would be charged, or says why it cannot be.
func (s *site) extensionForm(r *http.Request, res parking.Reservation, lot parking.Lot) (extensionForm, error) {
	ctx := r.Context()
	f := extensionForm{Lot: lot, Currency: res.Currency, Gateway: s.Gateway, StripePublishableKey: s.StripePublishableKey}
	// More time counts from the end, or, for a car already past it, from now.
	from := res.EndsAt
	if now := s.Clock.Now(); !from.After(now) {
		from = now.Truncate(time.Minute)
	}
	for _, h := range []int{1, 2, 4} {
		f.Choices = append(f.Choices, extendChoice{Label: "+" + strconv.Itoa(h) + " h", To: from.Add(time.Duration(h) * time.Hour)})
	}
	var ok bool
	if f.To, ok = parseWhen(r.URL.Query().Get("extend_to"), lot.TimeZone); !ok {
		f.To = f.Choices[0].To
	}
	plan, err := s.Engine.PlanExtension(ctx, res, f.To)
	switch code := parking.ErrorCode(err); {
	case err == nil:
		f.Amount = plan.Amount
	case code == parking.EINTERNAL:
		return f, err
	default:
		f.Problem = sentence(parking.ErrorMessage(err))
	}
	if f.Amount > 0 {
		_, err := s.Payments.SavedMethod(ctx, res.UserID)
		if err != nil && !errors.Is(err, parking.ErrNotFound) {
			return f, err
		}
		f.SavedCard = err == nil
	}
	return f, nil
}

// sentence starts a message with a capital letter and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// navigation is the Navigate page: where the lot is, links to the phone's map
// apps, and the level plan with the way to the spot.
type navigation struct {
	Reservation reservationRow
	Maps        mapLinks
	Level       levelPlan
	Target      tile
	Route       string
	EntranceY   float64
	HasSpot     bool
}

func (navigation) wide() {}

func (s *site) handleNavigate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lk := newLookup(s.Lots)
		row, ok := s.reservationPage(w, r, lk)
		if !ok {
			return
		}
		n := navigation{Reservation: row, Maps: directions(row.Lot.Lat, row.Lot.Lng, row.Lot.Name)}
		if sp := row.Spot; sp.ID != "" {
			// The spot's own coordinates lead closer than the lot's.
			if sp.Lat != 0 || sp.Lng != 0 {
				n.Maps = directions(sp.Lat, sp.Lng, row.Lot.Name+" "+sp.Label)
			}
			levels, lerr := s.Lots.Levels(r.Context(), row.LotID)
			spots, serr := lk.spotsOf(r.Context(), row.LotID) // read for the row already
			if err := errors.Join(lerr, serr); err != nil {
				s.fail(w, r, err)
				return
			}
			var same []booking.SpotAvailability
			var level []parking.Level
			for _, l := range levels {
				if l.ID == sp.LevelID {
					level = append(level, l)
				}
			}
			for _, o := range spots {
				if o.LevelID == sp.LevelID {
					same = append(same, booking.SpotAvailability{Spot: o, Status: booking.Available})
				}
			}
			if ps := plans(level, same, 0, ""); len(ps) == 1 {
				n.Level, n.HasSpot = ps[0], true
				for _, t := range n.Level.Tiles {
					if t.ID == sp.ID {
						n.Target = t
					}
				}
				n.Route, n.EntranceY = route(n.Level.Width, n.Level.Height, sp)
			}
		}
		s.render(w, r, http.StatusOK, "navigate", "Navigate to "+row.Lot.Name, n)
	})
}

type paymentRow struct {
	parking.Payment
	Lot parking.Lot
}

func (s *site) handlePayments() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		ps, err := s.Payments.UserPayments(ctx, me.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// A payment is for one of the payer's own reservations: read them
		// all at once rather than one per payment.
		rs, err := s.Engine.UserReservations(ctx, me.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		lotOf := make(map[string]string, len(rs))
		for _, res := range rs {
			lotOf[res.ID] = res.LotID
		}
		lk := newLookup(s.Lots)
		rows := make([]paymentRow, 0, len(ps))
		for _, p := range ps {
			row := paymentRow{Payment: p}
			if lotID, ok := lotOf[p.ReservationID]; ok {
				row.Lot, _ = lk.lot(ctx, lotID)
			}
			rows = append(rows, row)
		}
		s.render(w, r, http.StatusOK, "payments", "Payments", rows)
	})
}

// receipt is what a receipt shows: a charge that went through (or a refund),
// its reservation, and the refunds made of it (payments.Service.Receipt), and
// the line's words.
type receipt struct {
	payments.Receipt
	What string // the parking, an overstay, an extension
}

// handleReceipt shows a printable receipt for a payment that went through;
// a failed or pending charge has none. Another's payment is not found, as on
// the API.
func (s *site) handleReceipt() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		if err := s.receipt(w, r, me, r.PathValue("payment")); err != nil {
			s.fail(w, r, err)
		}
	})
}

// ReceiptPage is the receipt page for the API's
// /api/v1/payments/{payment}/receipt, so that a receipt reads the same
// wherever it is asked for; the API answers its errors itself.
type ReceiptPage struct{ s *site }

// NewReceiptPage returns the receipt page of the pages c builds.
func NewReceiptPage(c Config) *ReceiptPage { return &ReceiptPage{s: newSite(c)} }

// Render writes the receipt of payment id for me, or returns why there is
// none (not found, or a payment that did not go through) having written
// nothing.
func (p *ReceiptPage) Render(w http.ResponseWriter, r *http.Request, me parking.User, id string) error {
	return p.s.receipt(w, r, me, id)
}

// receipt renders the receipt of payment id for me, or returns why there is
// none, having written nothing.
func (s *site) receipt(w http.ResponseWriter, r *http.Request, me parking.User, id string) error {
	got, err := s.Payments.Receipt(r.Context(), me, id)
	if err != nil {
		return err
	}
	p := got.Payment
	if p.Status != parking.PaymentSucceeded {
		return parking.Errorf(parking.ENOTFOUND, "this payment did not go through: it has no receipt")
	}
	rc := receipt{Receipt: got}
	switch {
	case p.Kind == parking.Refund:
		rc.What = "Refund for your parking"
	case p.ExtendsTo != nil:
		rc.What = "Extending your stay"
	case p.Purpose == parking.PurposeOverstay:
		rc.What = "Time past the end of your booking"
	default:
		rc.What = "Parking"
	}
	s.render(w, r, http.StatusOK, "receipt", "Receipt "+p.ID, rc)
	return nil
}
