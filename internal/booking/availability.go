package booking

import (
	"context"
	"time"

	"parkd/internal/parking"
)

// SpotStatus is what the map shows for a spot over a window.
type SpotStatus string

const (
	Available    SpotStatus = "available"
	Held         SpotStatus = "held"
	Reserved     SpotStatus = "reserved"
	Occupied     SpotStatus = "occupied"
	OutOfService SpotStatus = "out_of_service"
)

// SpotAvailability is a spot and its status over the asked window.
type SpotAvailability struct {
	parking.Spot
	Status SpotStatus `json:"status"`
}

// Counts tallies spots of one size by status.
type Counts struct {
	Total        int `json:"total"`
	Available    int `json:"available"`
	Held         int `json:"held"`
	Reserved     int `json:"reserved"`
	Occupied     int `json:"occupied"`
	OutOfService int `json:"out_of_service"`
}

// Availability is a lot's spots over [From, To).
type Availability struct {
	LotID  string                  `json:"lot_id"`
	From   time.Time               `json:"from"`
	To     time.Time               `json:"to"`
	Spots  []SpotAvailability      `json:"spots"`
	Counts map[parking.Size]Counts `json:"counts"`
	// Version names the index state it was read from ("" when read from
	// the store), and Until when it may change by time alone: until then,
	// while the lot's version stays, it is the same answer.
	Version string    `json:"-"`
	Until   time.Time `json:"-"`
}

// SpotFilter narrows a lot's spots: those a vehicle of size Fits fits (all
// when zero), with every one of Amenities.
type SpotFilter struct {
	Fits      parking.Size
	Amenities []string
}

func (f SpotFilter) match(sp parking.Spot) bool {
	return (!f.Fits.Valid() || f.Fits.Fits(sp.Size)) && sp.HasAmenities(f.Amenities)
}

// Availability returns every spot of the lot that f matches, with its status
// over [from, to) and counts by spot size. A car inside past its window
// occupies its spot until it leaves, over any window after its start.
func (s *Service) Availability(ctx context.Context, lotID string, f SpotFilter, from, to time.Time) (Availability, error) {
	if !to.After(from) {
		return Availability{}, parking.Errorf(parking.EINVALIDWINDOW, "the window must end after it starts")
	}
	v, err := s.view(ctx, lotID, from, to, s.clock.Now())
	if err != nil {
		return Availability{}, err
	}
	a := Availability{LotID: lotID, From: from, To: to, Spots: make([]SpotAvailability, 0, len(v.Spots)), Counts: map[parking.Size]Counts{},
		Version: v.Version, Until: v.Until}
	for i, sp := range v.Spots {
		if !f.match(sp) {
			continue
		}
		st := spotStatus(sp, v.Claims[i])
		a.Spots = append(a.Spots, SpotAvailability{Spot: sp, Status: st})
		c := a.Counts[sp.Size]
		c.Total++
		switch st {
		case Available:
			c.Available++
		case Held:
			c.Held++
		case Reserved:
			c.Reserved++
		case Occupied:
			c.Occupied++
		case OutOfService:
			c.OutOfService++
		}
		a.Counts[sp.Size] = c
	}
	return a, nil
}

// SpotStatus returns one spot's status over [from, to).
func (s *Service) SpotStatus(ctx context.Context, sp parking.Spot, from, to time.Time) (SpotStatus, error) {
	now := s.clock.Now()
	rs, err := s.store.SpotReservations(ctx, sp.ID, now)
	if err != nil {
		return "", err
	}
	var claim parking.Status
	for _, r := range rs {
		if parking.Overlaps(r.StartsAt, r.ClaimEnd(now), from, to) && parking.ClaimRank(r.Status) > parking.ClaimRank(claim) {
			claim = r.Status
		}
	}
	return spotStatus(sp, claim), nil
}

func spotStatus(sp parking.Spot, claim parking.Status) SpotStatus {
	switch {
	case claim == parking.StatusCheckedIn:
		return Occupied // a car is there, in service or not
	case !sp.InService:
		return OutOfService
	case claim == parking.StatusConfirmed:
		return Reserved
	case claim == parking.StatusHeld:
		return Held
	}
	return Available
}
