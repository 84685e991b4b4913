package web

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// footprint is a spot's drawn shape in plan units (about half a metre), by
// size: a motorcycle bay is visibly smaller than a bay for a van.
var footprint = map[parking.Size][2]float64{
	parking.Motorcycle: {3.2, 6},
	parking.Compact:    {4.6, 9},
	parking.Standard:   {5.2, 10},
	parking.Large:      {5.8, 11.5},
}

// A plan is drawn at least pxPerUnit pixels per plan unit (below that, tiles
// are too small to read or tap, and the plan scrolls sideways instead), and at
// most maxPxPerUnit (above it, a level no longer fits a screen's height).
const (
	pxPerUnit    = 5.5
	maxPxPerUnit = 6.5
)

func sizeLetter(s parking.Size) string {
	switch s {
	case parking.Motorcycle:
		return "M"
	case parking.Compact:
		return "C"
	case parking.Standard:
		return "S"
	case parking.Large:
		return "L"
	}
	return "?"
}

func amenityIcon(a string) string {
	switch a {
	case "ev":
		return "⚡"
	case "accessible":
		return "♿"
	case "covered":
		return "☂"
	}
	return ""
}

func amenityLabel(a string) string {
	switch a {
	case "ev":
		return "EV charger"
	case "accessible":
		return "accessible"
	case "covered":
		return "covered"
	}
	return strings.ReplaceAll(a, "_", " ")
}

// tile is one spot as the map draws it, positioned in percent of its plan.
type tile struct {
	ID, Label, Short string
	Size             parking.Size
	Status           booking.SpotStatus
	Amenities        []string
	Icons            string // the tile's amenity icons; "covered" is said once per level when all are
	Left, Top        string
	Width, Height    string
	Fits             bool   // the vehicle fits, and the spot has what is asked
	Lacks            string // the amenity asked for that the spot lacks
	Spot             parking.Spot
}

// AriaLabel says everything the tile shows, for screen readers.
func (t tile) AriaLabel() string {
	parts := []string{t.Label, t.Size.String()}
	for _, a := range t.Amenities {
		parts = append(parts, amenityLabel(a))
	}
	if t.Status == statusOverstaying {
		parts = append(parts, "occupied by a car past its time") // as map.js says it
	} else {
		parts = append(parts, strings.ReplaceAll(string(t.Status), "_", " "))
	}
	switch {
	case t.Lacks != "":
		parts = append(parts, "no "+amenityLabel(t.Lacks))
	case !t.Fits:
		parts = append(parts, "does not fit your vehicle")
	}
	return strings.Join(parts, ", ")
}

// levelPlan is one level drawn as a plan.
type levelPlan struct {
	Level      parking.Level
	Width      float64 // plan units
	Height     float64
	MinWidthPx int
	MaxWidthPx int
	Tiles      []tile
	Counts     booking.Counts
	AllCovered bool
	// Overstaying counts the occupied spots whose car is past its time (the
	// operator's dashboard only).
	Overstaying int
}

// statusOverstaying is how the operator's dashboard shows an occupied spot whose
// car stays past its window: it holds the spot until it leaves.
const statusOverstaying booking.SpotStatus = "overstaying"

// AspectRatio is the CSS aspect-ratio of the plan. It is made of two numbers,
// so it is safe CSS.
func (l levelPlan) AspectRatio() template.CSS {
	return template.CSS(fmt.Sprintf("%.1f / %.1f", l.Width, l.Height))
}

// planSize is a level's plan size, or, when the level has none, the extent of
// its spots plus a margin.
func planSize(l parking.Level, spots []parking.Spot) (float64, float64) {
	w, h := l.Width, l.Height
	if w > 0 && h > 0 {
		return w, h
	}
	for _, sp := range spots {
		f := footprint[sp.Size]
		w = math.Max(w, sp.X+f[0]/2+10)
		h = math.Max(h, sp.Y+f[1]/2+10)
	}
	return math.Max(w, 20), math.Max(h, 20)
}

func pct(v, of float64) string {
	return fmt.Sprintf("%.2f%%", 100*v/of)
}

// shortLabel is the part of a label that differs within a level: "A07" of "L1-A07".
func shortLabel(label string) string {
	if i := strings.LastIndex(label, "-"); i >= 0 && i < len(label)-1 {
		return label[i+1:]
	}
	return label
}

// plans lays out every level of a lot with its spots' statuses; fits, when
// valid, marks the spots a vehicle of that size fits, and amenity, when
// given, those that have it.
func plans(levels []parking.Level, spots []booking.SpotAvailability, fits parking.Size, amenity string) []levelPlan {
	byLevel := map[string][]booking.SpotAvailability{}
	for _, sa := range spots {
		byLevel[sa.LevelID] = append(byLevel[sa.LevelID], sa)
	}
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].Ordinal < levels[j].Ordinal })
	out := make([]levelPlan, 0, len(levels))
	for _, l := range levels {
		sas := byLevel[l.ID]
		raw := make([]parking.Spot, len(sas))
		for i, sa := range sas {
			raw[i] = sa.Spot
		}
		w, h := planSize(l, raw)
		lp := levelPlan{Level: l, Width: w, Height: h, MinWidthPx: int(w * pxPerUnit), MaxWidthPx: int(w * maxPxPerUnit), AllCovered: len(sas) > 0}
		sort.Slice(sas, func(i, j int) bool {
			if sas[i].Y != sas[j].Y {
				return sas[i].Y < sas[j].Y
			}
			return sas[i].X < sas[j].X
		})
		for _, sa := range sas {
			if !hasAmenity(sa.Amenities, "covered") {
				lp.AllCovered = false
			}
		}
		for _, sa := range sas {
			f := footprint[sa.Size]
			t := tile{ID: sa.ID, Label: sa.Label, Short: shortLabel(sa.Label), Size: sa.Size, Status: sa.Status,
				Amenities: sa.Amenities, Spot: sa.Spot,
				Left: pct(sa.X-f[0]/2, w), Top: pct(sa.Y-f[1]/2, h), Width: pct(f[0], w), Height: pct(f[1], h),
				Fits: !fits.Valid() || fits.Fits(sa.Size)}
			if amenity != "" && !sa.HasAmenity(amenity) {
				t.Fits, t.Lacks = false, amenity
			}
			for _, a := range sa.Amenities {
				if a == "covered" && lp.AllCovered {
					continue
				}
				t.Icons += amenityIcon(a)
			}
			lp.Tiles = append(lp.Tiles, t)
			if t.Fits { // with a filter, the counts are of the spots that pass it
				count(&lp.Counts, sa.Status)
			}
		}
		out = append(out, lp)
	}
	return out
}

func count(c *booking.Counts, st booking.SpotStatus) {
	c.Total++
	switch st {
	case booking.Available:
		c.Available++
	case booking.Held:
		c.Held++
	case booking.Reserved:
		c.Reserved++
	case booking.Occupied:
		c.Occupied++
	case booking.OutOfService:
		c.OutOfService++
	}
}

func hasAmenity(as []string, a string) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// route is the way from a level's entrance to a spot, as SVG polyline points in
// plan units. parkd keeps no drawing of the aisles, so the route follows the
// rule every plan here obeys: spots stand in rows with an aisle in front, and
// the entrance is on the plan's left edge. It runs along the aisle in front
// of the spot and turns into it.
func route(w, h float64, sp parking.Spot) (points string, entranceY float64) {
	f := footprint[sp.Size]
	aisle := math.Min(sp.Y+f[1]/2+3.5, h-1)
	pts := [][2]float64{{0, aisle}, {sp.X, aisle}, {sp.X, sp.Y + f[1]/2}}
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", p[0], p[1])
	}
	return b.String(), aisle
}

// mapLinks are deep links that open a phone's map apps with directions to a place.
// Geo is a geo: URI (RFC 5870), which html/template does not trust on its own
// and would replace with "#ZgotmplZ"; it is built here from two numbers and an
// escaped name only, so it is marked safe.
type mapLinks struct {
	Geo           template.URL
	Apple, Google string
}

func directions(lat, lng float64, name string) mapLinks {
	ll := fmt.Sprintf("%.6f,%.6f", lat, lng)
	return mapLinks{
		Geo:    template.URL("geo:" + ll + "?q=" + url.QueryEscape(ll+"("+name+")")),
		Apple:  "https://maps.apple.com/?daddr=" + ll + "&q=" + url.QueryEscape(name),
		Google: "https://www.google.com/maps/dir/?api=1&destination=" + ll,
	}
}

// inZone returns t in the IANA zone, or UTC when the zone is unknown.
func inZone(t time.Time, zone string) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return t.UTC()
	}
	return t.In(loc)
}

// parseWhen reads a time from a query: RFC 3339, or the "2006-01-02T15:04" of
// an <input type="datetime-local">, read in the lot's zone.
func parseWhen(v, zone string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); err == nil {
		return t.UTC(), true
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// window reads ?from= and ?to=; the default starts at the next five minutes
// (so that it can still be booked when the driver has chosen) and lasts two hours.
func window(q url.Values, zone string, now time.Time) (from, to time.Time, problem string) {
	from, ok := parseWhen(q.Get("from"), zone)
	if !ok {
		from = now.Truncate(5 * time.Minute).Add(5 * time.Minute)
		if q.Get("from") != "" {
			problem = "The start time was not understood; showing the next two hours."
		}
	}
	to, ok = parseWhen(q.Get("to"), zone)
	if !ok || !to.After(from) {
		if ok {
			problem = "The end must be after the start; showing two hours from the start."
		}
		to = from.Add(2 * time.Hour)
	}
	return from, to, problem
}
