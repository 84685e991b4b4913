package gate

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// Gates are devices of a lot: its operators add them, list them, read their
// log and open them by hand. To anyone who does not run the lot a gate is not
// found: gates are not public.

// operatedGate returns gate id if u runs its lot; otherwise not found.
func (s *Service) operatedGate(ctx context.Context, u parking.User, id string) (parking.Gate, error) {
	g, err := s.store.Gate(ctx, id)
	if err != nil {
		return parking.Gate{}, err
	}
	if _, err := s.engine.ManagedLot(ctx, u, g.LotID); err != nil {
		return parking.Gate{}, parking.Errorf(parking.ENOTFOUND, "gate not found")
	}
	return g, nil
}

// Scanner is who sends a scan: a gate device, by its key, or a signed-in
// operator running a kiosk in the browser. A zero Device (or User) is absent.
type Scanner struct {
	Device parking.Gate
	User   parking.User
}

// ScanAt decides a scan at gate gateID (see Scan): a device scans only at its
// own gate; an operator at any gate of a lot they run.
func (s *Service) ScanAt(ctx context.Context, by Scanner, gateID string, sc Scan) (Decision, error) {
	g := by.Device
	switch {
	case g.ID != "":
		if g.ID != gateID {
			return Decision{}, parking.Errorf(parking.EFORBIDDEN, "this device key belongs to another gate")
		}
	case by.User.ID == "":
		return Decision{}, parking.Errorf(parking.EUNAUTHORIZED, "a gate scans with its device key: Authorization: Bearer pkg_...")
	default:
		var err error
		if g, err = s.operatedGate(ctx, by.User, gateID); err != nil {
			return Decision{}, err
		}
	}
	return s.Scan(ctx, g, sc)
}

// NewGate is a gate device just added, with its key: the key is shown only
// here, parkd keeps only its hash.
type NewGate struct {
	Gate parking.Gate `json:"gate"`
	Key  string       `json:"key"`
}

// CreateGate adds a gate device, named name, for direction, to lot lotID,
// which u runs.
func (s *Service) CreateGate(ctx context.Context, u parking.User, lotID, name string, direction parking.Direction) (NewGate, error) {
	lot, err := s.engine.ManagedLot(ctx, u, lotID)
	if err != nil {
		return NewGate{}, err
	}
	var ve parking.ValidationError
	switch n := utf8.RuneCountInString(strings.TrimSpace(name)); {
	case n == 0:
		ve.Add("name", "is required")
	case n > 100:
		ve.Add("name", "must be at most 100 characters")
	}
	if direction != parking.Entry && direction != parking.Exit {
		ve.Add("direction", `must be "entry" or "exit"`)
	}
	if err := ve.Err(); err != nil {
		return NewGate{}, err
	}
	key, hash := auth.NewGateKey()
	g := parking.Gate{ID: parking.NewID("gat"), LotID: lot.ID, Name: strings.TrimSpace(name), Direction: direction, KeyHash: hash, CreatedAt: s.clock.Now()}
	if err := s.store.CreateGate(ctx, &g); err != nil {
		return NewGate{}, err
	}
	return NewGate{Gate: g, Key: key}, nil
}

// Gates lists the gates of lot lotID, which u runs.
func (s *Service) Gates(ctx context.Context, u parking.User, lotID string) ([]parking.Gate, error) {
	lot, err := s.engine.ManagedLot(ctx, u, lotID)
	if err != nil {
		return nil, err
	}
	return s.store.Gates(ctx, lot.ID)
}

// EventQuery narrows a lot's entry/exit log: events in [From, To) (zero From:
// a day ago; zero To: a minute from now), of one plate (as typed) or
// reservation, at most Limit (0: all).
type EventQuery struct {
	From, To      time.Time
	Plate         string
	ReservationID string
	Limit         int
}

// GateEvents reads the entry/exit log of lot lotID, which u runs, oldest
// first.
func (s *Service) GateEvents(ctx context.Context, u parking.User, lotID string, q EventQuery) ([]parking.GateEvent, error) {
	lot, err := s.engine.ManagedLot(ctx, u, lotID)
	if err != nil {
		return nil, err
	}
	f := parking.GateEventFilter{From: q.From, To: q.To, ReservationID: q.ReservationID, Limit: q.Limit}
	if q.Plate != "" {
		if f.Plate, err = parking.ParsePlate(q.Plate); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	if f.From.IsZero() {
		f.From = now.Add(-24 * time.Hour)
	}
	if f.To.IsZero() {
		f.To = now.Add(time.Minute)
	}
	return s.store.GateEvents(ctx, lot.ID, f)
}
