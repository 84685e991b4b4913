package web

import "net/http"

// Register adds every page, and the static files they use, to mux.
func Register(mux Handler, c Config) {
	s := newSite(c)
	for _, p := range s.pages() {
		mux.Handle(p.pattern, p.h)
	}
}

type pageRoute struct {
	pattern string
	h       http.Handler
}

// Patterns lists the pattern of every page and file the web interface serves.
func Patterns() []string {
	var out []string
	for _, p := range (&site{}).pages() {
		out = append(out, p.pattern)
	}
	return out
}

func (s *site) pages() []pageRoute {
	return []pageRoute{
		{"GET /{$}", s.handleLots()},
		{"GET /signup", s.handleStatic("signup", "Create an account")},
		{"GET /signin", s.handleStatic("signin", "Sign in")},
		{"GET /signout", s.handleStatic("signout", "Sign out")},
		{"GET /vehicles", s.handleVehicles()},
		{"GET /lots/{lot}", s.handleLotMap()},
		{"GET /reserve", s.handleReserve()},
		{"GET /reservations", s.handleReservations()},
		{"GET /reservations/{reservation}", s.handleReservation()},
		{"GET /reservations/{reservation}/navigate", s.handleNavigate()},
		{"GET /payments", s.handlePayments()},
		{"GET /payments/{payment}/receipt", s.handleReceipt()},
		{"GET /notifications", s.handleNotifications()},
		{"GET /operator", s.handleOperatorHome()},
		{"GET /operator/lots/{lot}", s.handleOperatorLot()},
		{"GET /operator/lots/{lot}/log", s.handleGateLog()},
		{"GET /operator/lots/{lot}/spots", s.handleSpotsEditor()},
		{"GET /operator/lots/{lot}/policy", s.handlePolicy()},
		{"GET /operator/lots/{lot}/reports", s.handleReports()},
		{"GET /kiosk/{gate}", s.handleKiosk()},
		{"GET /static/{file}", s.handleAsset()},
		// Browsers and bookmarks ask for /favicon.ico whatever the page says.
		{"GET /favicon.ico", http.RedirectHandler("/static/icon.svg", http.StatusMovedPermanently)},
	}
}
