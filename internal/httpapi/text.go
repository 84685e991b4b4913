package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"parkd/internal/parking"
)

// dataHeaders are the request headers whose values parkd keeps or compares as
// data, and so checks like a path or a query. Other headers are read only by
// parkd itself (Accept, Origin) or as secrets that are hashed (Authorization).
var dataHeaders = []string{"Idempotency-Key", "If-Match", "If-None-Match", "Last-Event-ID"}

// withTextCheck refuses, before any handler or store sees the request, text
// that a database or a person cannot take: invalid UTF-8, NUL and other C0 and
// C1 control characters, and the bidirectional overrides and isolates
// (U+202A–U+202E, U+2066–U+2069) that make text read other than it is. It
// looks at the decoded path, every query key and value, the data headers, and
// every key and string of a JSON body, where tab, newline and carriage return
// are allowed. The answer is 400 invalid_text naming where. In the same pass,
// a key or string of a JSON body that holds a card number (but a password,
// which is only ever hashed) is 422 card_number_refused: parkd takes card
// numbers nowhere, so it must not store, log or echo one.
//
// A JSON body is read once, within MaxBodyBytes, and given to the handler
// byte for byte as it came; a larger one is passed on unread for decode to
// refuse as too large. A body that is not JSON (a form, say) is passed on
// unexamined, and so is the body of a route rawBody reports (the payment
// gateway's webhooks: signed by the gateway, not typed by a person).
func withTextCheck(log *slog.Logger, rawBody func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if where, what := requestText(r); where != "" {
			refuseText(w, r, where, what)
			return
		}
		if r.Body == nil || r.Body == http.NoBody || rawBody(r) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			writeError(w, r, log, parking.Errorf(parking.EINVALID, "the request body could not be read"))
			return
		}
		if len(body) > MaxBodyBytes {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if where, what := jsonText(body); what == cardNumber {
			writeError(w, r, log, parking.Errorf(parking.ECARDNUMBER, "%s looks like a card number: parkd never takes card numbers; "+
				"send the payment method token your card form returned (such as pm_...)", where))
			return
		} else if where != "" {
			refuseText(w, r, where, what)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func refuseText(w http.ResponseWriter, r *http.Request, where, what string) {
	p := newProblem(r, parking.EINVALIDTEXT,
		where+" holds "+what+": text must be valid UTF-8 without control characters or bidirectional overrides")
	p.Instance = r.URL.EscapedPath() // not the offending text itself
	sendProblem(w, p)
}

// requestText returns where the request line or a data header holds text it
// may not (and what), or "" when none does.
func requestText(r *http.Request) (where, what string) {
	if what := badText(r.URL.Path, false); what != "" {
		return "the path", what
	}
	// As r.URL.Query() reads it; pairs it cannot parse are dropped there too.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for k, vs := range q {
		if what := badText(k, false); what != "" {
			return "a query parameter name", what
		}
		for _, v := range vs {
			if what := badText(v, false); what != "" {
				return "query parameter " + quoteName(k), what
			}
		}
	}
	for _, h := range dataHeaders {
		for _, v := range r.Header.Values(h) {
			if what := badText(v, false); what != "" {
				return "header " + h, what
			}
		}
	}
	return "", ""
}

// cardNumber is what jsonText says of a string that holds a card number.
const cardNumber = "a card number"

// jsonText returns the path of the first key or string of a JSON body that
// holds text it may not (and what: cardNumber for a card number), or "" when
// none does or when body is not JSON (decode says what is wrong with it).
func jsonText(body []byte) (where, what string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' && trimmed[0] != '[' {
		return "", ""
	}
	var stack []jsonFrame
	path := func() string {
		var b []byte
		for _, f := range stack {
			if f.object {
				if !f.wantValue {
					continue // at a key: the path is the object's
				}
				if len(b) > 0 {
					b = append(b, '.')
				}
				b = append(b, f.key...)
			} else {
				b = fmt.Appendf(b, "[%d]", f.index)
			}
		}
		return string(b)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", "" // the end, or not JSON: decode reports the latter
		}
		// The decoder turns invalid UTF-8 into U+FFFD: look at the raw bytes.
		raw := body[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		s, isString := tok.(string)
		var top *jsonFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if isString && top != nil && top.object && !top.wantValue {
			// A key.
			if !utf8.Valid(raw) {
				return "a field name in " + fieldPath(path()), "invalid UTF-8"
			}
			if what := badText(s, false); what != "" {
				return "a field name in " + fieldPath(path()), what
			}
			if parking.FindCardNumber(s) != "" {
				return "a field name in " + fieldPath(path()), cardNumber
			}
			top.key, top.wantValue = quoteName(s), true
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			advance(stack)
			continue
		}
		if isString {
			if !utf8.Valid(raw) {
				return "field " + fieldPath(path()), "invalid UTF-8"
			}
			if what := badText(s, true); what != "" {
				return "field " + fieldPath(path()), what
			}
			if (top == nil || top.key != "password") && parking.FindCardNumber(s) != "" {
				return fieldPath(path()), cardNumber
			}
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, jsonFrame{object: d == '{'})
			continue
		}
		advance(stack)
	}
}

// jsonFrame is one open object or array on the way to a value.
type jsonFrame struct {
	object    bool
	key       string // in an object, the current key, as shown
	index     int    // in an array, the current index
	wantValue bool   // in an object, the next token is the value of key
}

// advance moves the innermost container past the value just read.
func advance(stack []jsonFrame) {
	if len(stack) == 0 {
		return
	}
	f := &stack[len(stack)-1]
	if f.object {
		f.wantValue = false
	} else {
		f.index++
	}
}

func fieldPath(p string) string {
	if p == "" {
		return "(the top level)"
	}
	return p
}

// quoteName shows a name as it came when it is plain, else quoted with
// escapes, cut to 64 bytes.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// badText says what s holds that text may not, or "" when nothing: invalid
// UTF-8, a control character (tab, newline and carriage return are allowed
// when multiline), or a bidirectional override or isolate.
func badText(s string, multiline bool) string {
	for i, c := range s {
		switch {
		case c == utf8.RuneError && isInvalidAt(s, i):
			return "invalid UTF-8"
		case c == 0:
			return "a NUL character"
		case multiline && (c == '\t' || c == '\n' || c == '\r'):
		case c < 0x20 || c >= 0x7f && c <= 0x9f:
			return fmt.Sprintf("the control character U+%04X", c)
		case c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069:
			return fmt.Sprintf("the bidirectional control U+%04X", c)
		}
	}
	return ""
}

// isInvalidAt reports whether the U+FFFD decoded at s[i] stands for an
// invalid byte rather than a U+FFFD written as such.
func isInvalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 1
}
