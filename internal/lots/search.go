package lots

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"parkd/internal/parking"
)

// Bounds of a search for lots.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 100
	// DefaultRadius is how far from near= a search reaches when it names no
	// radius, in metres; parking.MaxRadius bounds what it may name.
	DefaultRadius = 50_000
	maxQueryLen   = 200
)

// Search is a search for lots as a request states it, every field text, so
// that one call reports every field it does not understand. Empty fields
// take their defaults.
type Search struct {
	Q      string // a piece of the name or the address (street, city)
	Near   string // "lat,lng": order by distance from there
	Radius string // metres from Near; default DefaultRadius
	Limit  string // lots a page; default DefaultSearchLimit
	Cursor string // a page's NextCursor: the page after it
	// From and To (RFC 3339) ask each lot's free spots over [From, To):
	// both or neither. Size counts only the spots a vehicle of that size
	// fits, and prices the window for it; without it every spot counts and
	// no price is given.
	From, To, Size string
}

// Found is a lot a search found. Distance is in metres from the search's
// point; Free, Total and Price answer its window (Price in minor units of the
// lot's currency). Each is left out when the search did not ask.
type Found struct {
	parking.Lot
	Distance *float64 `json:"distance_m,omitempty"`
	Free     *int     `json:"free,omitempty"`
	Total    *int     `json:"total,omitempty"`
	Price    *int64   `json:"price,omitempty"`
}

// Page is one page of a search. NextCursor, empty on the last page, asks for
// the next.
type Page struct {
	Lots       []Found `json:"lots"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// cursor is a page's end as the client carries it: opaque, but not secret
// (base64 of JSON). Near says which order it belongs to, so that a cursor of
// one order never pages another.
type cursor struct {
	Near bool   `json:"n,omitempty"`
	Name string `json:"s,omitempty"`
	Key  int64  `json:"k,omitempty"`
	ID   string `json:"i"`
}

// SearchLots answers one page of a search, in two queries of the store
// whatever the page's size: its lots, and the free spots of all of them
// (none for those when the booking engine's index has every lot of the page).
func (s *Service) SearchLots(ctx context.Context, in Search) (Page, error) {
	q, w, err := s.lotQuery(in)
	if err != nil {
		return Page{}, err
	}
	want := q.Limit
	q.Limit++ // one more, to know whether a next page exists
	found, err := s.store.SearchLots(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Lots: make([]Found, 0, min(len(found), want))}
	if len(found) > want {
		found = found[:want]
		last := found[want-1]
		page.NextCursor = encodeCursor(cursor{Near: q.Near != nil, Name: last.Name, Key: last.Key, ID: last.ID})
	}
	if w != nil {
		if err := s.engine.CountFree(ctx, found, *w); err != nil {
			return Page{}, err
		}
	}
	for _, m := range found {
		f := Found{Lot: m.Lot}
		if q.Near != nil {
			d := math.Round(parking.Distance(*q.Near, parking.Point{Lat: m.Lat, Lng: m.Lng}))
			f.Distance = &d
		}
		if w != nil {
			free, total := m.Free, m.Total
			f.Free, f.Total = &free, &total
			if price, err := m.Policy.Price(w.Size, w.From, w.To); err == nil && w.Size.Valid() {
				f.Price = &price
			}
		}
		page.Lots = append(page.Lots, f)
	}
	return page, nil
}

// lotQuery reads in, reporting every field it cannot use at once; w is nil
// when in asks no window.
func (s *Service) lotQuery(in Search) (q parking.LotQuery, w *parking.LotWindow, err error) {
	var ve parking.ValidationError
	q = parking.LotQuery{Text: strings.ToLower(strings.TrimSpace(in.Q)), Limit: DefaultSearchLimit, Radius: DefaultRadius}
	if !utf8.ValidString(in.Q) || utf8.RuneCountInString(q.Text) > maxQueryLen {
		ve.Add("q", fmt.Sprintf("must be valid text of at most %d characters", maxQueryLen))
	}
	if in.Limit != "" {
		n, err := strconv.Atoi(in.Limit)
		if err != nil || n < 1 || n > MaxSearchLimit {
			ve.Add("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxSearchLimit))
		}
		q.Limit = n
	}
	if in.Near != "" {
		p, ok := parsePoint(in.Near)
		if !ok {
			ve.Add("near", "must be lat,lng in degrees, such as 40.7128,-74.0060")
		}
		q.Near = &p
	}
	if in.Radius != "" {
		r, err := strconv.ParseFloat(in.Radius, 64)
		switch {
		case in.Near == "":
			ve.Add("radius", "needs near")
		case err != nil || !(r >= 1 && r <= parking.MaxRadius):
			ve.Add("radius", fmt.Sprintf("must be metres, from 1 to %d", parking.MaxRadius))
		}
		q.Radius = r
	}
	if in.Cursor != "" {
		c, ok := decodeCursor(in.Cursor)
		if !ok || c.Near != (in.Near != "") {
			ve.Add("cursor", "is not a next_cursor of this search: start again without it")
		}
		q.After = parking.LotCursor{Name: c.Name, Key: c.Key, ID: c.ID}
	}
	if in.From != "" || in.To != "" || in.Size != "" {
		w = &parking.LotWindow{Now: s.clock.Now()}
		if w.From, err = parseTime(in.From); err != nil {
			ve.Add("from", err.Error())
		}
		if w.To, err = parseTime(in.To); err != nil {
			ve.Add("to", err.Error())
		} else if !w.From.IsZero() && !w.To.After(w.From) {
			ve.Add("to", "must be after from")
		}
		if in.Size != "" {
			if w.Size, err = parking.ParseSize(in.Size); err != nil {
				ve.Add("size", parking.ErrorMessage(err))
			}
		}
	}
	return q, w, parking.InvalidParameters(ve.Err())
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("is required with the other of from and to, and with size")
	}
	// An unescaped "+" in a query string arrives as a space: take it back.
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2030-01-07T08:00:00Z")
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// parsePoint reads "lat,lng".
func parsePoint(v string) (parking.Point, bool) {
	lat, lng, ok := strings.Cut(v, ",")
	if !ok {
		return parking.Point{}, false
	}
	la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	ln, err2 := strconv.ParseFloat(strings.TrimSpace(lng), 64)
	if err1 != nil || err2 != nil || !(la >= -90 && la <= 90) || !(ln >= -180 && ln <= 180) {
		return parking.Point{}, false
	}
	return parking.Point{Lat: la, Lng: ln}, true
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(v string) (cursor, bool) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" || !utf8.ValidString(c.Name) || c.Key < 0 {
		return cursor{}, false
	}
	return c, true
}
