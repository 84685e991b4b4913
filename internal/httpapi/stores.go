package httpapi

import "parkd/internal/parking"

// The handlers ask for the parts of parking.Store they use; these are the
// parts some of them use together.

// lotGateStore: gates, and the lots that say who may manage them.
type lotGateStore interface {
	parking.LotStore
	parking.GateStore
}

// lotReservationPaymentStore: payments, and the reservations and lots that
// say who may see them.
type lotReservationPaymentStore interface {
	parking.LotStore
	parking.ReservationStore
	parking.PaymentStore
}

// lotReservationStore: reservations, and the lots that say who may see them.
type lotReservationStore interface {
	parking.LotStore
	parking.ReservationStore
}
