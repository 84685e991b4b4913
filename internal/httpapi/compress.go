package httpapi

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"parkd/internal/negotiate"
)

// compressible lists the content types worth compressing: text and JSON.
// Images (pass.png) are compressed already.
var compressible = []string{"text/html", "text/css", "text/csv", "text/plain", "text/javascript",
	"application/javascript", "application/json", "application/problem+json", "image/svg+xml"}

// minCompress is the smallest body worth compressing, when its length is known.
const minCompress = 1024

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return w
}}

// withCompression gzips text and JSON answers for clients that accept gzip.
// Streams (WebSocket upgrades, Server-Sent Events) pass through untouched, and
// so do answers that set their own Content-Encoding (the pages' static files
// are compressed once, ahead of time).
func withCompression(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream") || !negotiate.AcceptsGzip(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		cw := &compressWriter{ResponseWriter: w, method: r.Method}
		defer cw.close()
		next.ServeHTTP(cw, r)
	})
}

// compressWriter decides at the first WriteHeader (or Write) whether to
// compress, from the answer's headers.
type compressWriter struct {
	http.ResponseWriter
	method  string
	decided bool
	gz      *gzip.Writer
}

func (c *compressWriter) decide(status int) {
	if c.decided {
		return
	}
	c.decided = true
	h := c.Header()
	if c.method == http.MethodHead || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified ||
		h.Get("Content-Encoding") != "" || !isCompressible(h.Get("Content-Type")) {
		return
	}
	if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil && n < minCompress {
		return
	}
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	// A strong validator names one encoding; the compressed body is another.
	if etag := h.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		h.Set("ETag", "W/"+etag)
	}
	c.gz = gzipWriters.Get().(*gzip.Writer)
	c.gz.Reset(c.ResponseWriter)
}

func isCompressible(ctype string) bool {
	ctype, _, _ = strings.Cut(ctype, ";")
	ctype = strings.TrimSpace(strings.ToLower(ctype))
	for _, t := range compressible {
		if ctype == t {
			return true
		}
	}
	return false
}

func (c *compressWriter) WriteHeader(status int) {
	c.decide(status)
	c.ResponseWriter.WriteHeader(status)
}

func (c *compressWriter) Write(b []byte) (int, error) {
	if !c.decided {
		if c.Header().Get("Content-Type") == "" {
			c.Header().Set("Content-Type", http.DetectContentType(b))
		}
		c.WriteHeader(http.StatusOK)
	}
	if c.gz != nil {
		return c.gz.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// Flush sends what is compressed so far.
func (c *compressWriter) Flush() {
	if c.gz != nil {
		c.gz.Flush()
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *compressWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *compressWriter) close() {
	if c.gz == nil {
		return
	}
	c.gz.Close()
	c.gz.Reset(nil)
	gzipWriters.Put(c.gz)
	c.gz = nil
}
