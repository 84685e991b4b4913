package parking

import "time"

// Gate decisions.
const (
	Open = "open"
	Deny = "deny"
)

// GateEvent is one scan at a gate, or an opening by hand. The log is
// append-only: the database refuses changes and deletions.
type GateEvent struct {
	ID            string    `json:"id"`
	LotID         string    `json:"lot_id"`
	GateID        string    `json:"gate_id"`
	Direction     Direction `json:"direction"`
	ReservationID string    `json:"reservation_id,omitempty"`
	Plate         string    `json:"plate,omitempty"`
	Decision      string    `json:"decision"`           // Open or Deny
	Reason        string    `json:"reason,omitempty"`   // why: a code such as "already_inside", or an operator's words
	ActorID       string    `json:"actor_id,omitempty"` // the operator who opened the gate by hand
	AmountDue     int64     `json:"amount_due,omitempty"`
	At            time.Time `json:"at"`
}

// GateEventFilter narrows a lot's gate log: events in [From, To) (zero means
// unbounded), of one plate or reservation, at most Limit (0: all).
type GateEventFilter struct {
	From, To      time.Time
	Plate         string
	ReservationID string
	Limit         int
}

// PassKey signs the passes drivers show at the gate. Every parkd instance on a
// database shares the keys stored in it.
type PassKey struct {
	ID        string
	Secret    []byte
	CreatedAt time.Time
}
