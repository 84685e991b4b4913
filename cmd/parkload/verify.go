package main

import (
	"context"
	"net/url"
	"strings"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/postgres"
	"parkd/internal/store/sqlite"
)

// check reads the run's lots' reservations over every window the run booked (from
// an hour before it started to nine days after) and the run's drivers'
// payments, through the API or, with --db, the database, and answers the
// invariants' violations (checkInvariants).
func (l *loader) check(ctx context.Context, started time.Time) ([]string, error) {
	from, to := started.Add(-time.Hour).UTC().Truncate(time.Second), started.Add(9*24*time.Hour).UTC().Truncate(time.Second)
	ours := map[string]bool{}
	for _, d := range l.drivers {
		ours[d.id] = true
	}
	var rs []parking.Reservation
	payments := map[string][]parking.Payment{}
	if l.c.db != "" {
		var store parking.Store
		var err error
		if strings.HasPrefix(l.c.db, "postgres") {
			store, err = postgres.Open(ctx, l.c.db)
		} else {
			store, err = sqlite.Open(ctx, l.c.db)
		}
		if err != nil {
			return nil, err
		}
		defer store.Close()
		for _, lot := range l.lots {
			lrs, err := store.LotReservations(ctx, lot.id, from, to)
			if err != nil {
				return nil, err
			}
			rs = append(rs, lrs...)
		}
		for _, r := range rs {
			if !ours[r.UserID] {
				continue
			}
			if payments[r.ID], err = store.ReservationPayments(ctx, r.ID); err != nil {
				return nil, err
			}
		}
	} else {
		q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
		for _, lot := range l.lots {
			var list struct {
				Reservations []parking.Reservation `json:"reservations"`
			}
			if _, err := l.client.Do(ctx, "GET", "/api/v1/lots/"+url.PathEscape(lot.id)+"/reservations?"+q.Encode(), l.operatorToken, nil, nil, &list); err != nil {
				return nil, err
			}
			rs = append(rs, list.Reservations...)
		}
		for _, d := range l.drivers {
			var ps struct {
				Payments []parking.Payment `json:"payments"`
			}
			if _, err := l.client.Do(ctx, "GET", "/api/v1/users/me/payments", d.token, nil, nil, &ps); err != nil {
				return nil, err
			}
			for _, p := range ps.Payments {
				payments[p.ReservationID] = append(payments[p.ReservationID], p)
			}
		}
	}
	// A hold counts as holding its spot only while it did when it was read:
	// hence now, after the reads.
	l.mu.Lock()
	defer l.mu.Unlock()
	return checkInvariants(time.Now(), rs, payments, ours, l.seen), nil
}
