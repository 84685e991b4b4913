// Package negotiate reads what a request says it accepts. The API's
// compression and the pages' pre-compressed static files both ask it, so
// neither imports the other for it.
package negotiate

import (
	"net/http"
	"strconv"
	"strings"
)

// AcceptsGzip reports whether the request's Accept-Encoding admits gzip: named,
// and not with q=0.
func AcceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}
