package httpapi

import (
	"net/http"

	"parkd/internal/parking"
)

// withCrossOriginProtection refuses state-changing requests that a browser
// sends from another site's page: such a request would carry the session
// cookie without its owner's intent (cross-site request forgery). The
// SameSite=Lax cookie already keeps it off cross-site POSTs; this also covers
// same-site origins (another subdomain, another port) and old browsers.
//
// Browsers say where a request comes from (Sec-Fetch-Site, or Origin); a
// request whose origin is not parkd's own is 403 cross_origin. GET, HEAD and
// OPTIONS change nothing and pass. Requests with an Authorization header pass
// too: a page of another site cannot make the browser send a token it does
// not know, and parkd answers no CORS preflight that would let it try. So do
// requests that name no origin at all: programs, gate devices, webhooks.
func withCrossOriginProtection(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, parking.ECROSSORIGIN,
			"a page of another site may not change things here with your session")
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, bearer := bearerToken(r); bearer {
			next.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}
