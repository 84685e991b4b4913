// Package web is parkd's browser interface: server-rendered pages for drivers,
// operators and gate kiosks, with small plain scripts that call the JSON API.
// Templates, scripts and styles are embedded, so the binary needs nothing else.
// docs/web.md lists the pages.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/lots"
	"parkd/internal/negotiate"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/report"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages are built from: the services they read through.
// They change nothing but through the API.
type Config struct {
	Log    *slog.Logger
	Engine *booking.Service
	// Lots serves lots, levels and spots, and says who runs which.
	Lots *lots.Service
	// Auth reads accounts and their vehicles. The signed-in user is the one
	// the API's authentication middleware, which wraps the pages too, put in
	// the request's context (auth.UserFromContext).
	Auth *auth.Service
	// Notify reads the signed-in user's notifications.
	Notify *notify.Service
	// Payments and Gates answer what the pages show of payments, receipts,
	// gates and their log.
	Payments *payments.Service
	Gates    *gate.Service
	// Reports computes the lots' reports for their operators.
	Reports *report.Service
	Clock   parking.Clock
	// Gateway is the card gateway's name: "sandbox" or "stripe".
	Gateway string
	// StripePublishableKey lets the payment form use Stripe Elements when the
	// gateway is Stripe.
	StripePublishableKey string
	// Unavailable reports whether an error says the database cannot serve
	// for now: such a page answers 503 with Retry-After, not 500. nil
	// recognises none.
	Unavailable func(error) bool
	// MapTiles is the tile URL template of the home page's map of lots
	// (Leaflet's: {z}/{x}/{y}, {s} for a subdomain); empty shows no map.
	// CheckMapTiles says whether one is usable.
	MapTiles string
	// MapAttribution credits the tiles' source on the map (HTML).
	MapAttribution string
}

// Handler registers patterns; *http.ServeMux is one.
type Handler interface {
	Handle(pattern string, h http.Handler)
}

// site holds the parsed templates and the static files, each ready in plain
// and gzip form with a content hash for cache busting.
type site struct {
	Config
	pagesT map[string]*template.Template
	assets map[string]asset
	// searchCSP is the home page's Content-Security-Policy: parkd's own
	// files, and the map's tiles from their host.
	searchCSP string
}

type asset struct {
	plain, gz   []byte
	hash, ctype string
}

func newSite(c Config) *site {
	s := &site{Config: c, assets: map[string]asset{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err) // embedded: cannot fail in a built binary
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if path.Ext(e.Name()) == ".webmanifest" {
			ctype = "application/manifest+json"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		s.assets[e.Name()] = asset{plain: b, gz: gz.Bytes(), hash: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	s.pagesT = parsePages(s.funcs())
	s.searchCSP = searchPolicy(c.MapTiles)
	return s
}

func (s *site) funcs() template.FuncMap {
	return template.FuncMap{
		// asset names a static file with its content hash, so a changed file is
		// fetched again while an unchanged one is cached for a year.
		"asset": func(name string) string {
			if a, ok := s.assets[name]; ok {
				return "/static/" + name + "?v=" + a.hash
			}
			return "/static/" + name
		},
		"money": parking.FormatMoney,
		// dur writes a duration as people do: "24 h", "15 min".
		"dur":        parking.Duration.Human,
		"gateReason": gate.ReasonText,
		// Every time a page shows is in the lot's zone, labelled with it
		// ("Mon 7 Jan 2030, 08:00 PST"), whatever zone the browser is in.
		"local": func(t time.Time, zone string) string {
			return inZone(t, zone).Format("Mon 2 Jan 2006, 15:04 MST")
		},
		"localInput": func(t time.Time, zone string) string {
			return inZone(t, zone).Format("2006-01-02T15:04")
		},
		"rfc3339":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"rfc3339nano": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"sizeLetter":  sizeLetter,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
		},
		"pctOf":        func(v, of float64) float64 { return 100 * v / of },
		"amenityIcon":  amenityIcon,
		"amenityLabel": amenityLabel,
		"isOperator": func(u *parking.User) bool {
			return u != nil && u.ManagesAny()
		},
	}
}

// parsePages parses the layout once per page, so that each page's blocks
// (title, content, scripts) stay its own.
func parsePages(funcs template.FuncMap) map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		out[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return out
}

// page is what every template gets.
type page struct {
	Title string
	User  *parking.User
	Path  string
	// Main is the page's own data.
	Main any
	// Wide pages (maps, dashboards) use the whole width of the screen.
	Wide bool
	// Bare pages (the gate kiosk) have no navigation.
	Bare bool
	// Unread counts the signed-in user's unread notifications sent before
	// Now (at most maxUnread), for the header's badge; the badge's script
	// follows the live stream from Now on.
	Unread int
	Now    time.Time
}

// maxUnread bounds the header's unread count: more show as "99+".
const maxUnread = 100

// render writes a page, buffered so that a template error is a clean 500
// rather than half a page.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, name, title string, main any) {
	p := page{Title: title, Path: r.URL.Path, Main: main}
	if u, ok := s.user(r); ok {
		p.User = &u
	}
	_, p.Wide = main.(interface{ wide() })
	_, p.Bare = main.(interface{ bare() })
	if p.User != nil && !p.Bare {
		p.Now, p.Unread = s.unread(r, p.User.ID)
	}
	var b bytes.Buffer
	t, ok := s.pagesT[name]
	if !ok {
		s.serverError(w, r, errors.New("no template "+name))
		return
	}
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show personal data: never cached by a shared cache, always fresh.
	h.Set("Cache-Control", "no-cache, private")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *site) user(r *http.Request) (parking.User, bool) {
	return auth.UserFromContext(r.Context())
}

func (s *site) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if s.unavailable(err) {
		s.Log.WarnContext(r.Context(), "web page: database unavailable", "path", parking.RedactCardNumbers(r.URL.Path), "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		http.Error(w, unavailableMessage, http.StatusServiceUnavailable)
		return
	}
	s.Log.ErrorContext(r.Context(), "web page", "path", parking.RedactCardNumbers(r.URL.Path), "err", err)
	http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
}

// retryAfterSeconds is the Retry-After of a page that could not reach the
// database; it is the API's (httpapi.RetryAfterSeconds).
const retryAfterSeconds = 5

const unavailableMessage = "parkd cannot reach its database just now. Please try again in a few seconds."

// unavailable reports whether err says the database cannot serve for now.
func (s *site) unavailable(err error) bool {
	return parking.ErrorCode(err) == parking.EUNAVAILABLE || (s.Unavailable != nil && s.Unavailable(err))
}

// fail renders the error page for a domain error: not found, forbidden,
// unavailable (503 and Retry-After: the database cannot serve for now), or
// (logged) internal.
func (s *site) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := parking.ErrorCode(err)
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Please try again."
	switch {
	case s.unavailable(err):
		s.Log.WarnContext(r.Context(), "web page: database unavailable", "path", parking.RedactCardNumbers(r.URL.Path), "err", err)
		status, msg = http.StatusServiceUnavailable, unavailableMessage
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case errors.Is(err, parking.ErrNotFound) || code == parking.ENOTFOUND:
		status, msg = http.StatusNotFound, "We could not find that page."
	case code == parking.EFORBIDDEN:
		status, msg = http.StatusForbidden, "This page is for the operators of this lot."
	case code == parking.EINVALID || code == parking.EINVALIDWINDOW:
		status, msg = http.StatusBadRequest, parking.ErrorMessage(err)
	case code == parking.EVALIDATION:
		status, msg = http.StatusBadRequest, err.Error()
		var v *parking.ValidationError
		if errors.As(err, &v) {
			var parts []string
			for _, f := range v.Fields {
				parts = append(parts, "The "+strings.ReplaceAll(f.Field, "_", " ")+" "+f.Message+".")
			}
			msg = strings.Join(parts, " ")
		}
	default:
		s.Log.ErrorContext(r.Context(), "web page", "path", parking.RedactCardNumbers(r.URL.Path), "err", err)
	}
	s.render(w, r, status, "error", http.StatusText(status), msg)
}

// signedIn returns the signed-in user, or sends the browser to the sign-in
// page (which comes back here afterwards) and returns false.
func (s *site) signedIn(w http.ResponseWriter, r *http.Request) (parking.User, bool) {
	u, ok := s.user(r)
	if !ok {
		http.Redirect(w, r, "/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
	return u, ok
}

// handleStatic renders a page that needs no data.
func (s *site) handleStatic(name, title string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, name, title, struct{ Next, Gateway string }{safeNext(r.URL.Query().Get("next")), s.Gateway})
	})
}

// handleAsset serves an embedded static file: gzip when the browser takes it,
// cached for a year when asked for by its current hash.
func (s *site) handleAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.assets[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		h.Set("ETag", `"`+a.hash+`"`)
		if r.URL.Query().Get("v") == a.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+a.hash+`"`) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.plain
		if negotiate.AcceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		w.Write(body)
	})
}

// safeNext keeps a post-sign-in destination only if it is a path on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
