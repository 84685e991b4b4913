package parking

import (
	"errors"
	"math"
	"time"
)

// LotQuery asks the store for one page of lots: those whose name or address
// holds Text, in order of name or, with Near, of distance within Radius, after
// the cursor After. Every backend answers it with one query; CountFree counts
// the free spots of all of a page's lots in one more, so that a page costs two
// queries however many lots it holds (none for the counts where the index
// has every lot of the page).
type LotQuery struct {
	// Text is a lower-case substring of the name or the address (where the
	// city is); "" matches every lot.
	Text string
	// Near, when set, orders the lots by DistanceKey from it, and keeps
	// those within Radius metres.
	Near   *Point
	Radius float64
	// After is the last lot of the previous page; zero for the first page.
	After LotCursor
	// Limit is how many lots to return at most.
	Limit int
}

// Point is a place on earth, in degrees.
type Point struct{ Lat, Lng float64 }

// LotCursor is where a page of lots ended: the sort key (Name, or Key near a
// point) and the id of its last lot, which breaks ties. An empty ID is the
// start.
type LotCursor struct {
	Name string
	Key  int64
	ID   string
}

// LotWindow asks, per lot, for the spots a vehicle of Size fits (every spot
// when Size is zero) and how many of them nothing claims over [From, To) at
// Now (Policy.Claims, as Bookings), in service.
type LotWindow struct {
	From, To, Now time.Time
	Size          Size
}

// LotStamp changes whenever a lot's record or its spots change: the lot's
// version, and its spots' number and the sum of their versions (an edit of a
// spot raises its version, a new spot adds one; spots are never deleted).
type LotStamp struct {
	Version      int64
	Spots        int
	SpotVersions int64
}

// StampOf is the stamp of a lot and its spots as read.
func StampOf(l Lot, spots []Spot) LotStamp {
	st := LotStamp{Version: l.Version, Spots: len(spots)}
	for _, sp := range spots {
		st.SpotVersions += sp.Version
	}
	return st
}

// LotMatch is a lot a LotQuery found. Key is its DistanceKey from the query's
// point (0 without one); Total and Free answer a LotWindow (CountFree).
type LotMatch struct {
	Lot
	Key         int64
	Total, Free int
}

// MetresPerDegree is the length of a degree of latitude on the mean earth
// (radius 6,371,008.8 m).
const MetresPerDegree = earthRadius * math.Pi / 180

const earthRadius = 6371008.8

// Scale is what a degree of longitude is worth, in degrees of latitude, at p:
// the cosine of its latitude.
func (p Point) Scale() float64 { return math.Cos(p.Lat * math.Pi / 180) }

// DistanceKey is the order of lots near p, as every backend computes it in
// SQL from plain arithmetic (no trigonometry, which SQLite may lack):
//
//	ROUND(((lat - p.Lat)*(lat - p.Lat) + ((lng - p.Lng)*s)*((lng - p.Lng)*s)) * m2)
//
// with s = p.Scale() and m2 = MetresPerDegree², the square of the
// equirectangular distance in whole square metres. It is within a fraction of
// a percent of the true distance squared over the radii searched (at most
// MaxRadius), and being whole it survives a cursor's round trip exactly.
// Meridian wrap (±180°) is not handled: no lot is near it.
func DistanceKey(p Point, lat, lng float64) int64 {
	s := p.Scale()
	dy, dx := lat-p.Lat, (lng-p.Lng)*s
	return int64(math.Round((dy*dy + dx*dx) * (MetresPerDegree * MetresPerDegree)))
}

// MaxRadius bounds a search near a point, in metres.
const MaxRadius = 500_000

// Distance is the great-circle distance from p to q in metres (haversine).
func Distance(p, q Point) float64 {
	rad := math.Pi / 180
	dLat, dLng := (q.Lat-p.Lat)*rad, (q.Lng-p.Lng)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(p.Lat*rad)*math.Cos(q.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(a))
}

// LikePattern makes text a LIKE pattern for a substring, with '!' as the
// escape character (ESCAPE '!'): it means the same in SQLite, PostgreSQL and
// MySQL, where a backslash does not.
func LikePattern(text string) string {
	b := make([]byte, 0, len(text)+2)
	b = append(b, '%')
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '%', '_', '!':
			b = append(b, '!', c)
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '%'))
}

// InvalidParameters makes a *ValidationError of a URL's query parameters
// (nil stays nil) an EINVALID error, as every other bad parameter is (400,
// the request's own mistake), that still lists every field: errors.As finds
// both the *Error and the *ValidationError.
func InvalidParameters(err error) error {
	var v *ValidationError
	if !errors.As(err, &v) {
		return err
	}
	return invalidParameters{v}
}

type invalidParameters struct{ v *ValidationError }

func (e invalidParameters) Error() string { return e.v.Error() }

func (e invalidParameters) Unwrap() []error {
	return []error{&Error{Code: EINVALID, Message: "some parameters are invalid: see fields"}, e.v}
}
