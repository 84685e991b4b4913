package httpapi

import (
	"parkd/internal/idempotency"
	"parkd/internal/lots"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/report"
)

// RequestHash exposes the idempotency request hash to the external tests.
var RequestHash = requestHash

// WithStore fills in the services s leaves out from store, as cmd/parkd
// builds them: lots, idempotency keys, a notifier that signs no unsubscribe
// links (its streams only poll), and readiness from the store's Ping.
func WithStore(s Services, store parking.Store) Services {
	if s.Lots == nil {
		s.Lots = lots.New(store, s.Engine, s.Payments, s.Clock)
	}
	if s.Reports == nil {
		s.Reports = report.New(store, s.Engine, s.Clock)
	}
	if s.Keys == nil {
		s.Keys = idempotency.New(store, s.Clock)
	}
	if s.Notify == nil {
		s.Notify = notify.New(notify.Config{Store: store, Clock: s.Clock, Log: s.Log})
	}
	if s.Ready == nil {
		s.Ready = store.Ping
	}
	return s
}
