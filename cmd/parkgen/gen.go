package main

import (
	"context"
	"encoding/base32"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// generator draws every row from the seed: lot i from its own stream, so a
// lot's history does not depend on the lots before it.
type generator struct {
	c          config
	now        time.Time
	from, to   time.Time // the history: whole days before today
	userIDs    []string
	plates     []string
	created    time.Time // when the lots, gates and drivers were "created"
	passwdHash string
}

// DriverPassword signs in any generated driver (driverNNNNN@parkgen.example).
const DriverPassword = "parkgen driver password"

func newGenerator(c config, now time.Time) *generator {
	today := now.Truncate(24 * time.Hour)
	g := &generator{c: c, now: now, from: today.AddDate(0, 0, -c.days), to: today,
		created: today.AddDate(0, 0, -c.days-1), passwdHash: auth.HashPassword(DriverPassword)}
	rng := g.rng(0)
	for i := range c.users {
		g.userIDs = append(g.userIDs, newID(rng, "usr"))
		g.plates = append(g.plates, fmt.Sprintf("G%s%04d", string(rune('A'+i%26)), i))
	}
	return g
}

// rng is the stream of one part of the data set: 0 for the drivers, i+1 for
// lot i.
func (g *generator) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.c.seed, stream))
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID is parking.NewID's form, drawn from rng.
func newID(rng *rand.Rand, prefix string) string {
	var b [10]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// city is where some of the lots are.
type city struct {
	name, state, zone string
	lat, lng          float64
}

var cities = []city{
	{"Seattle", "WA", "America/Los_Angeles", 47.6062, -122.3321},
	{"Portland", "OR", "America/Los_Angeles", 45.5152, -122.6784},
	{"San Francisco", "CA", "America/Los_Angeles", 37.7749, -122.4194},
	{"Los Angeles", "CA", "America/Los_Angeles", 34.0522, -118.2437},
	{"San Diego", "CA", "America/Los_Angeles", 32.7157, -117.1611},
	{"Phoenix", "AZ", "America/Phoenix", 33.4484, -112.0740},
	{"Denver", "CO", "America/Denver", 39.7392, -104.9903},
	{"Salt Lake City", "UT", "America/Denver", 40.7608, -111.8910},
	{"Dallas", "TX", "America/Chicago", 32.7767, -96.7970},
	{"Houston", "TX", "America/Chicago", 29.7604, -95.3698},
	{"Austin", "TX", "America/Chicago", 30.2672, -97.7431},
	{"Chicago", "IL", "America/Chicago", 41.8781, -87.6298},
	{"Minneapolis", "MN", "America/Chicago", 44.9778, -93.2650},
	{"St. Louis", "MO", "America/Chicago", 38.6270, -90.1994},
	{"Atlanta", "GA", "America/New_York", 33.7490, -84.3880},
	{"Miami", "FL", "America/New_York", 25.7617, -80.1918},
	{"Orlando", "FL", "America/New_York", 28.5384, -81.3789},
	{"Charlotte", "NC", "America/New_York", 35.2271, -80.8431},
	{"Washington", "DC", "America/New_York", 38.9072, -77.0369},
	{"Philadelphia", "PA", "America/New_York", 39.9526, -75.1652},
	{"New York", "NY", "America/New_York", 40.7128, -74.0060},
	{"Boston", "MA", "America/New_York", 42.3601, -71.0589},
	{"Detroit", "MI", "America/Detroit", 42.3314, -83.0458},
	{"Columbus", "OH", "America/New_York", 39.9612, -82.9988},
	{"Nashville", "TN", "America/Chicago", 36.1627, -86.7816},
}

var streets = []string{"Main St", "Market St", "Oak Ave", "Pine St", "Broadway", "Park Ave", "Lake Dr", "Mill Rd", "Center St", "River Rd"}

// genLot is a lot as created, with what its history needs.
type genLot struct {
	lot         parking.Lot
	levels      []parking.Level
	spots       []parking.Spot
	gates       []parking.Gate
	entry, exit string // gate ids
}

// Store is what parkgen writes through parkd's own storage.
type Store interface {
	CreateOperator(ctx context.Context, o *parking.Operator) error
	CreateLot(ctx context.Context, l *parking.Lot) error
	CreateLevel(ctx context.Context, l *parking.Level) error
	CreateSpots(ctx context.Context, spots []parking.Spot) error
	CreateGate(ctx context.Context, g *parking.Gate) error
}

// lots creates the operator and its lots (genLot).
func (g *generator) lots(ctx context.Context, store Store) ([]genLot, error) {
	op := parking.Operator{ID: newID(g.rng(0), "opr"), Name: "Parkgen Malls", CreatedAt: g.created}
	if err := store.CreateOperator(ctx, &op); err != nil {
		return nil, err
	}
	out := make([]genLot, 0, g.c.lots)
	for i := range g.c.lots {
		gl := g.lot(i, op.ID)
		if err := store.CreateLot(ctx, &gl.lot); err != nil {
			return nil, err
		}
		for l := range gl.levels {
			if err := store.CreateLevel(ctx, &gl.levels[l]); err != nil {
				return nil, err
			}
		}
		if err := store.CreateSpots(ctx, gl.spots); err != nil {
			return nil, err
		}
		for k := range gl.gates {
			if err := store.CreateGate(ctx, &gl.gates[k]); err != nil {
				return nil, err
			}
		}
		out = append(out, gl)
	}
	return out, nil
}

// lot draws lot i: c.levels levels of rows of 25 spots (5% motorcycle, 25%
// compact, 55% standard, 15% large, chargers and accessible bays on the
// ground level) and an entry and an exit gate.
func (g *generator) lot(i int, operatorID string) genLot {
	rng := g.rng(uint64(i) + 1)
	ct := cities[i%len(cities)]
	policy := parking.DefaultPolicy()
	policy.MaxStay = parking.Duration(12 * time.Hour)
	// Within about 15 km of the city centre.
	lat := ct.lat + (rng.Float64()-0.5)*0.27
	lng := ct.lng + (rng.Float64()-0.5)*0.27/math.Cos(ct.lat*math.Pi/180)
	gl := genLot{lot: parking.Lot{ID: newID(rng, "lot"), OperatorID: operatorID,
		Name:    fmt.Sprintf("%s Mall %04d", ct.name, i+1),
		Address: fmt.Sprintf("%d %s, %s, %s", 100+rng.IntN(9000), streets[rng.IntN(len(streets))], ct.name, ct.state),
		Lat:     math.Round(lat*1e6) / 1e6, Lng: math.Round(lng*1e6) / 1e6,
		TimeZone: ct.zone, Currency: "USD", Policy: policy, CreatedAt: g.created}}
	for l := range g.c.levels {
		level := parking.Level{ID: newID(rng, "lvl"), LotID: gl.lot.ID, Name: fmt.Sprintf("Level %d", l+1), Ordinal: l + 1,
			Width: 20 + 25*6, Height: 20 + float64((g.c.perLevel+24)/25)*22}
		gl.levels = append(gl.levels, level)
		for s := range g.c.perLevel {
			row, col := s/25, s%25
			sp := parking.Spot{ID: newID(rng, "spt"), LotID: gl.lot.ID, LevelID: level.ID,
				Label: fmt.Sprintf("L%d-%c%02d", l+1, 'A'+row%26, col+1), Size: spotSize(s),
				Lat: gl.lot.Lat, Lng: gl.lot.Lng, X: 10 + (float64(col)+0.5)*6, Y: 10 + (float64(row)+0.5)*22,
				Amenities: []string{}, InService: true}
			if l == 0 && row == 2 && col < 4 {
				sp.Amenities = append(sp.Amenities, "ev")
			}
			if l == 0 && row == 0 && col >= 21 {
				sp.Amenities = append(sp.Amenities, "accessible")
			}
			gl.spots = append(gl.spots, sp)
		}
	}
	entry := parking.Gate{ID: newID(rng, "gat"), LotID: gl.lot.ID, Name: "Entry", Direction: parking.Entry, KeyHash: auth.HashToken(newID(rng, "pkg")), CreatedAt: g.created}
	exit := parking.Gate{ID: newID(rng, "gat"), LotID: gl.lot.ID, Name: "Exit", Direction: parking.Exit, KeyHash: auth.HashToken(newID(rng, "pkg")), CreatedAt: g.created}
	gl.gates = []parking.Gate{entry, exit}
	gl.entry, gl.exit = entry.ID, exit.ID
	return gl
}

// spotSize is the size of a level's s-th spot: of every 20, one motorcycle,
// five compact, eleven standard and three large.
func spotSize(s int) parking.Size {
	switch k := s % 20; {
	case k == 0:
		return parking.Motorcycle
	case k <= 5:
		return parking.Compact
	case k <= 16:
		return parking.Standard
	default:
		return parking.Large
	}
}

var userColumns = []string{"id", "name", "email", "password_hash", "role", "operator_id", "created_at"}

// users are the drivers: driverNNNNN@parkgen.example, all with DriverPassword.
func (g *generator) users() [][]any {
	rows := make([][]any, len(g.userIDs))
	for i, id := range g.userIDs {
		rows[i] = []any{id, fmt.Sprintf("Driver %05d", i), fmt.Sprintf("driver%05d@parkgen.example", i), g.passwdHash, "driver", nil, g.created}
	}
	return rows
}

var (
	reservationColumns = []string{"id", "user_id", "plate", "vehicle_size", "lot_id", "spot_id", "starts_at", "ends_at", "status",
		"amount", "currency", "hold_expires_at", "created_at", "updated_at", "checked_in_at", "checked_out_at", "price_size"}
	paymentColumns = []string{"id", "reservation_id", "user_id", "kind", "amount", "currency", "status", "gateway", "gateway_id",
		"created_at", "updated_at", "payment_method", "card_brand", "card_last4", "refund_of", "purpose"}
	gateEventColumns = []string{"id", "lot_id", "gate_id", "direction", "reservation_id", "plate", "decision", "at"}
)

// lotHistory is one lot's past, as rows of the three tables.
type lotHistory struct {
	reservations, payments, gateEvents [][]any
	counts                             historyCounts
}

type historyCounts struct{ reservations, payments, gateEvents int }

func (c *historyCounts) add(o historyCounts) {
	c.reservations += o.reservations
	c.payments += o.payments
	c.gateEvents += o.gateEvents
}

// history draws a lot's past reservations spot by spot: windows of one to
// four hours on quarter hours, a random gap between them so that a spot has
// c.perSpotDay a day on average; 82% completed (a charge, an entry and an
// exit), 8% cancelled (a charge and its refund), 6% no-shows (a charge) and
// 4% holds that expired unpaid.
func (g *generator) history(gl genLot, i int) lotHistory {
	rng := g.rng(uint64(i) + 1<<32)
	var h lotHistory
	if g.c.perSpotDay == 0 {
		return h
	}
	// Room for the expected rows and a margin, not grown by copying.
	n := int(float64(len(gl.spots)*g.c.days)*g.c.perSpotDay*1.05) + 16
	h.reservations, h.payments, h.gateEvents = make([][]any, 0, n), make([][]any, 0, n*21/20), make([][]any, 0, n*33/20)
	meanCycle := time.Duration(float64(24*time.Hour) / g.c.perSpotDay)
	const quarter = 15 * time.Minute
	for _, sp := range gl.spots {
		t := g.from.Add(time.Duration(rng.Float64() * float64(meanCycle))).Truncate(quarter)
		for {
			length := time.Duration(4+rng.IntN(13)) * quarter
			start, end := t, t.Add(length)
			if !end.Before(g.to) {
				break
			}
			g.reservation(&h, rng, gl, sp, start, end)
			gap := time.Duration(rng.ExpFloat64() * float64(meanCycle-length))
			t = end.Add(max(gap, 0)).Truncate(quarter).Add(quarter)
		}
	}
	return h
}

func (g *generator) reservation(h *lotHistory, rng *rand.Rand, gl genLot, sp parking.Spot, start, end time.Time) {
	u := rng.IntN(len(g.userIDs))
	userID, plate := g.userIDs[u], g.plates[u]
	amount, err := gl.lot.Policy.Price(sp.Size, start, end)
	if err != nil {
		amount = 0
	}
	created := start.Add(-time.Duration(rng.Int64N(int64(7 * 24 * time.Hour)))).Truncate(time.Second)
	holdExpires := created.Add(time.Duration(gl.lot.Policy.HoldTTL))
	paid := created.Add(time.Duration(30+rng.IntN(240)) * time.Second)
	id := newID(rng, "res")
	var status string
	var updated time.Time
	var in, out any
	switch p := rng.Float64(); {
	case p < 0.82:
		status = string(parking.StatusCompleted)
		arrived := start.Add(time.Duration(rng.IntN(20*60)) * time.Second)
		left := end.Add(-time.Duration(rng.IntN(30*60)) * time.Second)
		in, out, updated = arrived, left, left
		h.gateEvents = append(h.gateEvents,
			[]any{newID(rng, "gev"), gl.lot.ID, gl.entry, "entry", id, plate, "open", arrived},
			[]any{newID(rng, "gev"), gl.lot.ID, gl.exit, "exit", id, plate, "open", left})
		h.counts.gateEvents += 2
		g.charge(h, rng, gl, id, userID, amount, paid, false)
	case p < 0.90:
		status = string(parking.StatusCancelled)
		updated = paid.Add(time.Duration(rng.Int64N(max(int64(start.Sub(paid)), 0) + 1)))
		g.charge(h, rng, gl, id, userID, amount, paid, true)
		h.payments[len(h.payments)-1][10] = updated // the refund's updated_at
		h.payments[len(h.payments)-1][9] = updated  // and created_at
	case p < 0.96:
		status = string(parking.StatusNoShow)
		updated = start.Add(time.Duration(gl.lot.Policy.NoShowAfter))
		g.charge(h, rng, gl, id, userID, amount, paid, false)
	default:
		status, updated = string(parking.StatusExpired), holdExpires
	}
	h.reservations = append(h.reservations, []any{id, userID, plate, int16(sp.Size), gl.lot.ID, sp.ID, start, end, status,
		amount, gl.lot.Currency, holdExpires, created, updated, in, out, int16(sp.Size)})
	h.counts.reservations++
}

// charge adds a succeeded charge for a reservation, and its refund when
// refunded; the refund is the last row.
func (g *generator) charge(h *lotHistory, rng *rand.Rand, gl genLot, resID, userID string, amount int64, at time.Time, refunded bool) {
	chargeID := newID(rng, "pay")
	h.payments = append(h.payments, []any{chargeID, resID, userID, parking.Charge, amount, gl.lot.Currency, parking.PaymentSucceeded,
		"sandbox", "ch_" + chargeID, at, at, "pm_card_visa", "visa", "4242", nil, parking.PurposeBooking})
	h.counts.payments++
	if refunded {
		refundID := newID(rng, "pay")
		h.payments = append(h.payments, []any{refundID, resID, userID, parking.Refund, amount, gl.lot.Currency, parking.PaymentSucceeded,
			"sandbox", "re_" + refundID, at, at, "", "", "", chargeID, parking.PurposeBooking})
		h.counts.payments++
	}
}
