// Package demo fills an empty database with a realistic garage and a mall car
// park, so that a fresh parkd has something to show.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// Lots names what Seed created.
type Lots struct {
	Garage   parking.Lot // 450 spots on three levels
	Mall     parking.Lot
	Driver   parking.User
	Operator parking.User // runs the garage
	// The garage's gates, with the device keys below, so the kiosk can be
	// tried at once: /kiosk/{gate id}.
	EntryGate, ExitGate parking.Gate
}

// The demo accounts' credentials; they exist only in a demo database.
const (
	DriverEmail      = "driver@parkd.test"
	DriverPassword   = "demo-driver-pass"
	OperatorEmail    = "operator@parkd.test"
	OperatorPassword = "demo-operator-pass"
	// The device keys of the garage's entry and exit gates, for the kiosk.
	EntryGateKey = "pkg_demo-harbor-street-entry"
	ExitGateKey  = "pkg_demo-harbor-street-exit"
)

// Accounts creates users; auth.Service is one.
type Accounts interface {
	CreateUser(ctx context.Context, name, email, password string, role parking.Role, operatorID string) (parking.User, error)
}

// Store is what seeding asks of parkd's storage: lots and their gates.
type Store interface {
	parking.LotStore
	parking.GateStore
}

// Seed creates the demo lots when the store has no lot yet, and reports
// whether this call created them.
//
// Several parkd instances started at once on an empty database all seed, and
// the demo is still made once: every row has a fixed id (demoID) or a unique
// key (the accounts' emails, the gates' keys), so a row another instance
// inserted first is a conflict that Seed passes over, and each row exists once
// whoever wrote it. Driver and Operator are set only when this call created
// those accounts.
func Seed(ctx context.Context, store Store, accounts Accounts, clock parking.Clock) (Lots, bool, error) {
	lots, err := store.Lots(ctx)
	if err != nil || len(lots) > 0 {
		return Lots{}, false, err
	}
	now := clock.Now()
	var out Lots

	city := parking.Operator{ID: demoID("opr", "Harbor City Parking"), Name: "Harbor City Parking", CreatedAt: now}
	if err := passOver(store.CreateOperator(ctx, &city)); err != nil {
		return Lots{}, false, err
	}
	out.Garage = parking.Lot{
		ID: demoID("lot", "Harbor Street Garage"), OperatorID: city.ID, Name: "Harbor Street Garage",
		Address: "1200 2nd Ave, Seattle, WA 98101", Lat: 47.60795, Lng: -122.33715,
		TimeZone: "America/Los_Angeles", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: now,
	}
	created, err := createLot(ctx, store, &out.Garage, garageLevels)
	if err != nil {
		return Lots{}, false, err
	}

	out.EntryGate = parking.Gate{ID: demoID("gat", "2nd Ave entry"), LotID: out.Garage.ID, Name: "2nd Ave entry", Direction: parking.Entry,
		KeyHash: auth.HashToken(EntryGateKey), CreatedAt: now}
	out.ExitGate = parking.Gate{ID: demoID("gat", "2nd Ave exit"), LotID: out.Garage.ID, Name: "2nd Ave exit", Direction: parking.Exit,
		KeyHash: auth.HashToken(ExitGateKey), CreatedAt: now}
	for _, g := range []*parking.Gate{&out.EntryGate, &out.ExitGate} {
		if err := passOver(store.CreateGate(ctx, g)); err != nil {
			return Lots{}, false, err
		}
	}

	mallOp := parking.Operator{ID: demoID("opr", "Riverside Retail Estates"), Name: "Riverside Retail Estates", CreatedAt: now}
	if err := passOver(store.CreateOperator(ctx, &mallOp)); err != nil {
		return Lots{}, false, err
	}
	mallPolicy := parking.DefaultPolicy()
	mallPolicy.MaxStay = parking.Duration(12 * time.Hour)
	mallPolicy.Rates = map[parking.Size]parking.Rate{
		parking.Motorcycle: {Hourly: 50, DailyMax: 400},
		parking.Compact:    {Hourly: 150, DailyMax: 1200},
		parking.Standard:   {Hourly: 200, DailyMax: 1500},
		parking.Large:      {Hourly: 250, DailyMax: 1800},
	}
	out.Mall = parking.Lot{
		ID: demoID("lot", "Riverside Mall Car Park"), OperatorID: mallOp.ID, Name: "Riverside Mall Car Park",
		Address: "401 NE Northgate Way, Seattle, WA 98125", Lat: 47.70660, Lng: -122.32475,
		TimeZone: "America/Los_Angeles", Currency: "USD", Policy: mallPolicy, CreatedAt: now,
	}
	if _, err := createLot(ctx, store, &out.Mall, mallLevels); err != nil {
		return Lots{}, false, err
	}
	if out.Driver, err = accounts.CreateUser(ctx, "Dana Driver", DriverEmail, DriverPassword, parking.RoleDriver, ""); passOver(err) != nil {
		return Lots{}, false, err
	}
	if out.Operator, err = accounts.CreateUser(ctx, "Omar Operator", OperatorEmail, OperatorPassword, parking.RoleOperator, city.ID); passOver(err) != nil {
		return Lots{}, false, err
	}
	return out, created, nil
}

// demoID is the fixed id of a demo row: it looks like any other id
// (parking.NewID), and every instance that seeds makes the same one.
func demoID(prefix, name string) string {
	sum := sha256.Sum256([]byte("parkd demo: " + prefix + " " + name))
	return prefix + "_" + idEncoding.EncodeToString(sum[:10])
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// passOver is err, unless err says the row is there already: another instance
// seeding at the same time wrote it first, and it is the same row.
func passOver(err error) error {
	switch parking.ErrorCode(err) {
	case parking.ECONFLICT, parking.EEMAILTAKEN:
		return nil
	}
	return err
}

// levelPlan describes one level: its rows of spots, each row a run of sizes.
type levelPlan struct {
	name    string
	ordinal int
	rows    [][]run
	covered bool
	ev      map[string]bool // labels with a charger
	access  map[string]bool // labels reserved for accessible parking
}

type run struct {
	size parking.Size
	n    int
}

func labels(level int, row byte, from, to int) map[string]bool {
	m := map[string]bool{}
	for c := from; c <= to; c++ {
		m[fmt.Sprintf("L%d-%c%02d", level, row, c)] = true
	}
	return m
}

// The garage: three levels of 150 spots (6 rows of 25): about 5% motorcycle,
// 25% compact, 55% standard and 15% large, with chargers and accessible bays
// near the lifts on the lower levels and an open roof on top.
var garageRows = [][]run{
	{{parking.Motorcycle, 8}, {parking.Compact, 17}},
	{{parking.Compact, 20}, {parking.Standard, 5}},
	{{parking.Standard, 25}},
	{{parking.Standard, 25}},
	{{parking.Standard, 25}},
	{{parking.Standard, 3}, {parking.Large, 22}},
}

var garageLevels = []levelPlan{
	{name: "Level 1", ordinal: 1, rows: garageRows, covered: true, ev: labels(1, 'C', 1, 6), access: labels(1, 'F', 4, 7)},
	{name: "Level 2", ordinal: 2, rows: garageRows, covered: true, ev: labels(2, 'C', 1, 4), access: labels(2, 'F', 4, 5)},
	{name: "Level 3 (roof)", ordinal: 3, rows: garageRows},
}

// The mall: a ground level and a basement of 60 spots (4 rows of 15).
var mallRows = [][]run{
	{{parking.Motorcycle, 4}, {parking.Compact, 11}},
	{{parking.Standard, 15}},
	{{parking.Standard, 15}},
	{{parking.Standard, 5}, {parking.Large, 10}},
}

var mallLevels = []levelPlan{
	{name: "Ground", ordinal: 0, rows: mallRows, ev: labels(0, 'B', 1, 4), access: labels(0, 'D', 6, 9)},
	{name: "Basement", ordinal: -1, rows: mallRows, covered: true},
}

// Plan geometry, in plan units (about half a metre each).
const (
	spotWidth  = 6.0
	rowPitch   = 22.0 // a row of spots plus half an aisle
	planMargin = 10.0
	metresPer  = 0.5
)

// createLot creates lot and its levels and spots, passing over those that
// are there already, and reports whether it created the lot.
func createLot(ctx context.Context, store Store, lot *parking.Lot, plans []levelPlan) (bool, error) {
	if err := lot.Validate(); err != nil {
		return false, err
	}
	err := store.CreateLot(ctx, lot)
	created := err == nil
	if err := passOver(err); err != nil {
		return false, err
	}
	var spots []parking.Spot
	for _, p := range plans {
		cols := 0
		for _, r := range p.rows[0] {
			cols += r.n
		}
		level := parking.Level{ID: demoID("lvl", lot.Name+" "+p.name), LotID: lot.ID, Name: p.name, Ordinal: p.ordinal,
			Width: 2*planMargin + float64(cols)*spotWidth, Height: 2*planMargin + float64(len(p.rows))*rowPitch}
		if err := passOver(store.CreateLevel(ctx, &level)); err != nil {
			return false, err
		}
		for ri, row := range p.rows {
			col := 0
			for _, r := range row {
				for range r.n {
					col++
					label := fmt.Sprintf("L%d-%c%02d", p.ordinal, 'A'+ri, col)
					x := planMargin + (float64(col)-0.5)*spotWidth
					y := planMargin + (float64(ri)+0.5)*rowPitch
					lat, lng := offset(lot.Lat, lot.Lng, x*metresPer, y*metresPer)
					amenities := []string{}
					if p.covered {
						amenities = append(amenities, "covered")
					}
					if p.ev[label] {
						amenities = append(amenities, "ev")
					}
					if p.access[label] {
						amenities = append(amenities, "accessible")
					}
					spots = append(spots, parking.Spot{ID: demoID("spt", lot.Name+" "+label), LotID: lot.ID, LevelID: level.ID,
						Label: label, Size: r.size, Lat: lat, Lng: lng, X: x, Y: y, Amenities: amenities, InService: true})
				}
			}
		}
	}
	return created, passOver(store.CreateSpots(ctx, spots))
}

// offset moves a coordinate east by dx and south by dy metres.
func offset(lat, lng, dx, dy float64) (float64, float64) {
	const metresPerDegree = 111_320.0
	return round6(lat - dy/metresPerDegree), round6(lng + dx/(metresPerDegree*math.Cos(lat*math.Pi/180)))
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
