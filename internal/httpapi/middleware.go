package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"parkd/internal/auth"
	"parkd/internal/metrics"
	"parkd/internal/parking"
)

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives every request an id, echoed in X-Request-Id and in logs:
// the one a trusted proxy (nginx) sent, so that its log and parkd's name the
// same request, or else a new one.
func withRequestID(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if isTrusted(peerAddress(r), trusted) {
			id = proxyRequestID(r.Header.Get("X-Request-Id"))
		}
		// Sixteen hex digits are sometimes all decimal and Luhn-valid: a
		// request id must never read as a card number in a log or a problem.
		for id == "" || parking.FindCardNumber(id) != "" {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// proxyRequestID is a proxy's request id if it is a plain token (nginx's
// $request_id is 32 hex digits) that does not read as a card number, or "".
func proxyRequestID(id string) string {
	if len(id) == 0 || len(id) > 64 || parking.FindCardNumber(id) != "" {
		return ""
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return ""
		}
	}
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requestInfo is what the inner layers learn about a request for the outer
// ones to report once it is answered: the route pattern that matched and who
// made it.
type requestInfo struct {
	route string // the ServeMux pattern, "" when none matched
	user  string // the signed-in user's id
	gate  string // the gate device's id
}

type requestInfoKey struct{}

// withAccessLog logs one JSON line per request at info level (unless
// disabled) and records it in the metrics, both under its route pattern
// rather than its path, so that ids in paths do not split the counts.
func withAccessLog(log *slog.Logger, m *metrics.Metrics, enabled bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := m.RequestStarted()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		done(info.route, status)
		if !enabled {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method),
			slog.String("route", info.route), slog.String("path", parking.RedactCardNumbers(r.URL.Path)), slog.Int("status", status),
			slog.Int("bytes", rec.bytes), slog.Duration("duration", time.Since(start)),
			slog.String("client", clientAddress(r)),
		}
		if info.user != "" {
			attrs = append(attrs, slog.String("user_id", info.user))
		}
		if info.gate != "" {
			attrs = append(attrs, slog.String("gate_id", info.gate))
		}
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			// As the proxy (or the client) sent it: parkd does not trust it.
			attrs = append(attrs, slog.String("forwarded_for", parking.RedactCardNumbers(truncate(fwd, 200))))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// withRouteInfo wraps the router: after it has matched a request (the
// ServeMux sets r.Pattern on the request it is given) it tells the access log
// the pattern, and who the authentication layer found the caller to be.
func withRouteInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if u, ok := currentUser(r); ok {
			info.user = u.ID
		}
		if g, ok := currentGate(r); ok {
			info.gate = g.ID
		}
		defer func() { info.route = r.Pattern }() // also when the handler panics
		next.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// withRecover turns a panic in a handler into a logged 500 instead of a dropped connection.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "value", v, "path", parking.RedactCardNumbers(r.URL.Path), "request_id", requestID(r.Context()))
				writeProblem(w, r, parking.EINTERNAL, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// SessionCookie carries the session token for browsers.
const SessionCookie = "parkd_session"

type gateKey struct{}

// bearerToken returns the token of an Authorization: Bearer header, and whether
// one was sent.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// withAuth identifies the caller: a user by session token (Authorization header
// or cookie), or a gate device by its key. A bad Authorization header is 401 at
// once; a stale cookie is ignored, so a browser with an old cookie still sees
// public pages.
func withAuth(log *slog.Logger, authn *auth.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, fromHeader := bearerToken(r)
		if !fromHeader {
			if c, err := r.Cookie(SessionCookie); err == nil {
				token = c.Value
			}
		}
		if token == "" {
			if fromHeader {
				writeError(w, r, log, auth.ErrUnauthenticated)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if strings.HasPrefix(token, "pkg_") {
			g, err := authn.AuthenticateGate(ctx, token)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, gateKey{}, g)))
			return
		}
		u, _, err := authn.Authenticate(ctx, token)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(auth.ContextWithUser(ctx, u)))
		case parking.ErrorCode(err) == parking.EUNAUTHORIZED && !fromHeader:
			next.ServeHTTP(w, r)
		default:
			writeError(w, r, log, err)
		}
	})
}

// currentUser returns the signed-in user, if any.
func currentUser(r *http.Request) (parking.User, bool) {
	return auth.UserFromContext(r.Context())
}

// currentGate returns the gate device making the request, if any.
func currentGate(r *http.Request) (parking.Gate, bool) {
	g, ok := r.Context().Value(gateKey{}).(parking.Gate)
	return g, ok
}

// signedInUser returns the signed-in user, or the 401 error for handlers
// that return their errors (handle).
func signedInUser(r *http.Request) (parking.User, error) {
	u, ok := currentUser(r)
	if !ok {
		return u, auth.ErrUnauthenticated
	}
	return u, nil
}

// pathUser returns the id of the user a /api/v1/users/{id}/... request acts
// on (see pathUserID), or the 401 or 404 error.
func pathUser(r *http.Request) (string, error) {
	me, err := signedInUser(r)
	if err != nil {
		return "", err
	}
	return pathUserID(r, me)
}

// pathUserID resolves {id} of /api/v1/users/{id}/...: "me" or the caller's own
// id. Admins may name anyone; for everybody else another id is not found, so
// that ids of other users are not even confirmed to exist.
func pathUserID(r *http.Request, me parking.User) (string, error) {
	id := r.PathValue("id")
	if id == "me" {
		id = me.ID
	}
	if !me.ActsFor(id) {
		return "", parking.Errorf(parking.ENOTFOUND, "user not found")
	}
	return id, nil
}

// methodErrorWriter replaces the router's plain-text 404 and 405 answers with
// problem+json, so that every error parkd gives has one shape.
type methodErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (m *methodErrorWriter) WriteHeader(code int) {
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(m.Header().Get("Content-Type"), "text/plain") {
		m.replaced = true
		if code == http.StatusNotFound {
			sendProblem(m.ResponseWriter, newProblem(m.r, parking.ENOTFOUND, "no such route: "+m.r.Method+" "+m.r.URL.Path))
		} else {
			sendProblem(m.ResponseWriter, newProblem(m.r, parking.EMETHOD,
				m.r.Method+" is not allowed here; allowed: "+m.Header().Get("Allow")))
		}
		return
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *methodErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

func (m *methodErrorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

func withJSONMethodErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&methodErrorWriter{ResponseWriter: w, r: r}, r)
	})
}
