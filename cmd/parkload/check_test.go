package main

import (
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
)

func TestCheckInvariants(t *testing.T) {
	now := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return now.Add(time.Duration(h) * time.Hour) }
	res := func(id, spot string, status parking.Status, from, to int) parking.Reservation {
		return parking.Reservation{ID: id, UserID: "usr_load", SpotID: spot, Status: status, StartsAt: at(from), EndsAt: at(to), HoldExpiresAt: now.Add(5 * time.Minute)}
	}
	lapsed := res("r_lapsed", "s1", parking.StatusHeld, 1, 3)
	lapsed.HoldExpiresAt = now.Add(-time.Minute)
	charge := func(id, resID, status string) parking.Payment {
		return parking.Payment{ID: id, ReservationID: resID, Kind: parking.Charge, Status: status, Purpose: parking.PurposeBooking}
	}
	refund := func(id, of, resID string) parking.Payment {
		return parking.Payment{ID: id, ReservationID: resID, Kind: parking.Refund, Status: parking.PaymentSucceeded, RefundOf: of, Purpose: parking.PurposeBooking}
	}
	ours := map[string]bool{"usr_load": true}
	none := observed{reservations: map[string]bool{}, payments: map[string]string{}}
	tests := []struct {
		name     string
		rs       []parking.Reservation
		payments []parking.Payment
		seen     observed
		want     []string // a substring of each violation, in order
	}{
		{
			name:     "back to back on one spot, and a paid booking charged once",
			rs:       []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3), res("r2", "s1", parking.StatusHeld, 3, 5)},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentSucceeded)},
			seen:     observed{reservations: map[string]bool{"r1": true, "r2": true}, payments: map[string]string{"p1": "r1"}},
		},
		{
			name:     "overlap on one spot",
			rs:       []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3), res("r2", "s1", parking.StatusCheckedIn, 2, 4)},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentSucceeded), charge("p2", "r2", parking.PaymentSucceeded)},
			seen:     none,
			want:     []string{"double booking on spot s1: r1"},
		},
		{
			name: "overlap with a long claim behind a short one",
			rs:   []parking.Reservation{res("r1", "s1", parking.StatusHeld, 1, 10), res("r2", "s1", parking.StatusHeld, 2, 3), res("r3", "s1", parking.StatusHeld, 5, 6)},
			seen: none,
			want: []string{"r1", "r1"},
		},
		{
			name: "cancelled, expired and lapsed holds do not hold their spot",
			rs: []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3), res("r2", "s1", parking.StatusCancelled, 1, 3),
				res("r3", "s1", parking.StatusExpired, 1, 3), lapsed},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentSucceeded)},
			seen:     none,
		},
		{
			name: "a 201 missing",
			rs:   []parking.Reservation{res("r1", "s1", parking.StatusHeld, 1, 3)},
			seen: observed{reservations: map[string]bool{"r1": true, "r9": true}, payments: map[string]string{"p9": "r1"}},
			want: []string{"reservation r9 was answered 201", "payment p9 (reservation r1) was answered 201"},
		},
		{
			name: "confirmed without a charge, and one charged twice",
			rs:   []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3), res("r2", "s2", parking.StatusCompleted, 1, 3), res("r3", "s3", parking.StatusCancelled, 1, 3)},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentFailed),
				charge("p2", "r2", parking.PaymentSucceeded), charge("p3", "r2", parking.PaymentSucceeded),
				charge("p4", "r3", parking.PaymentSucceeded), charge("p5", "r3", parking.PaymentSucceeded)},
			seen: none,
			want: []string{"r1 is confirmed with 0", "r2 is completed with 2", "r3 (cancelled) was charged 2 times"},
		},
		{
			name: "a second charge refunded, and a cancelled booking refunded",
			rs:   []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3), res("r2", "s2", parking.StatusCancelled, 1, 3)},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentSucceeded), charge("p2", "r1", parking.PaymentSucceeded), refund("f1", "p2", "r1"),
				charge("p3", "r2", parking.PaymentSucceeded), refund("f2", "p3", "r2")},
			seen: none,
		},
		{
			name:     "a confirmed booking whose only charge was refunded",
			rs:       []parking.Reservation{res("r1", "s1", parking.StatusConfirmed, 1, 3)},
			payments: []parking.Payment{charge("p1", "r1", parking.PaymentSucceeded), refund("f1", "p1", "r1")},
			seen:     observed{reservations: map[string]bool{}, payments: map[string]string{"f1": "r1"}},
			want:     []string{"payment f1 was answered 201 but is a succeeded refund", "r1 is confirmed with 0"},
		},
	}
	for _, tt := range tests {
		byRes := map[string][]parking.Payment{}
		for _, p := range tt.payments {
			byRes[p.ReservationID] = append(byRes[p.ReservationID], p)
		}
		got := checkInvariants(now, tt.rs, byRes, ours, tt.seen)
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], tt.want[i])
		}
		if !ok {
			t.Errorf("%s: checkInvariants = %q; want violations containing %q", tt.name, got, tt.want)
		}
	}
}

func TestChecksOnlyOurDriversMoney(t *testing.T) {
	r := parking.Reservation{ID: "r1", UserID: "usr_other", SpotID: "s1", Status: parking.StatusConfirmed, StartsAt: time.Unix(0, 0), EndsAt: time.Unix(3600, 0)}
	if got := checkInvariants(time.Unix(0, 0), []parking.Reservation{r}, nil, map[string]bool{"usr_load": true}, observed{}); len(got) != 0 {
		t.Errorf("checkInvariants(someone else's booking, no payments read) = %q; want none", got)
	}
}
