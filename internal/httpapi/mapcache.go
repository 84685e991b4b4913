package httpapi

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"parkd/internal/booking"
	"parkd/internal/negotiate"
	"parkd/internal/parking"
)

// MapCacheBytes bounds the memory the encoded map reads keep.
const MapCacheBytes = 32 << 20

// mapCache keeps the encoded answers of the map reads (a lot's spots, its
// counts), JSON and gzip, each for one lot, window and filter at one index
// version (booking.Service.IndexVersion). An answer is the same while the
// lot's version stays and until the first instant a status in it changes by
// time alone (booking.Availability.Until); the least recently used answers go
// first when the cache outgrows its bound.
type mapCache struct {
	max int

	mu       sync.Mutex
	size     int
	entries  map[mapKey]*list.Element // of *mapEntry
	recent   list.List                // most recently used first
	computes map[mapKey]*mapCompute   // answers being computed
}

// mapCompute is an answer one request computes while others that ask for
// the same key at the same version wait for it: when the window moves on to
// the next second, every client of the default window asks at once.
type mapCompute struct {
	version string
	done    chan struct{}
	e       *mapEntry
	err     error
}

// mapKey names one map read.
type mapKey struct {
	route     string // "spots" or "availability"
	lot       string
	from, to  int64 // Unix microseconds
	fits      parking.Size
	amenities string
}

// mapEntry is one encoded answer. Its fields are set before it is shared,
// but the gzip body, which the first client that takes gzip makes.
type mapEntry struct {
	key     mapKey
	version string
	until   time.Time // zero: no time limit
	json    []byte
	etag    string // the JSON's; the gzip body's is a different tag

	gzMu      sync.Mutex
	gz        []byte
	gzCounted bool // gz is in the cache's size (guarded by the cache's mutex)
}

func newMapCache(max int) *mapCache {
	return &mapCache{max: max, entries: map[mapKey]*list.Element{}, computes: map[mapKey]*mapCompute{}}
}

// get returns the answer for key at version, if it holds at now.
func (c *mapCache) get(key mapKey, version string, now time.Time) *mapEntry {
	if version == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		return nil
	}
	e := el.Value.(*mapEntry)
	if e.version != version || !e.until.IsZero() && !now.Before(e.until) {
		return nil
	}
	c.recent.MoveToFront(el)
	return e
}

// put keeps e, in place of any older answer for its key.
func (c *mapCache) put(e *mapEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[e.key]; el != nil {
		c.remove(el)
	}
	c.entries[e.key] = c.recent.PushFront(e)
	c.grow(len(e.json))
}

// grow counts n more bytes and drops the least recently used answers while
// the cache is over its bound; the caller holds the mutex.
func (c *mapCache) grow(n int) {
	c.size += n
	for c.size > c.max && c.recent.Len() > 0 {
		c.remove(c.recent.Back())
	}
}

func (c *mapCache) remove(el *list.Element) {
	e := c.recent.Remove(el).(*mapEntry)
	delete(c.entries, e.key)
	c.size -= len(e.json)
	if e.gzCounted {
		c.size -= len(e.gz)
	}
}

// gzipBody returns the gzip body, making it on first use; c counts its bytes
// while it keeps e.
func (e *mapEntry) gzipBody(c *mapCache) []byte {
	e.gzMu.Lock()
	gz := e.gz
	if gz == nil {
		var b bytes.Buffer
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&b)
		zw.Write(e.json)
		zw.Close()
		gzipWriters.Put(zw)
		gz = b.Bytes()
		e.gz = gz
	}
	e.gzMu.Unlock()
	c.mu.Lock()
	if el := c.entries[e.key]; el != nil && el.Value == e && !e.gzCounted {
		e.gzCounted = true
		c.grow(len(gz))
	}
	c.mu.Unlock()
	return gz
}

// serveMap answers a map read from the cache, or computes it, encodes it and
// keeps it when it came from the index. A request whose If-None-Match names
// the answer's tag gets 304 Not Modified and no body.
func serveMap(w http.ResponseWriter, r *http.Request, c *mapCache, key mapKey, version string, now time.Time,
	compute func() (body any, a booking.Availability, err error)) error {
	e := c.get(key, version, now)
	if e == nil {
		var err error
		if e, err = c.compute(r.Context(), key, version, now, compute); err != nil {
			return err
		}
	}
	h := w.Header()
	if h.Get("Vary") == "" {
		h.Set("Vary", "Accept-Encoding")
	}
	body, etag := e.json, `"`+e.etag+`"`
	gz := negotiate.AcceptsGzip(r)
	if gz {
		etag = `"` + e.etag + `-gzip"`
	}
	h.Set("ETag", etag)
	if noneMatch(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if gz {
		body = e.gzipBody(c)
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// compute encodes the answer for key and keeps it when it came from the
// index, or waits for a request already doing that at the same version.
func (c *mapCache) compute(ctx context.Context, key mapKey, version string, now time.Time,
	compute func() (body any, a booking.Availability, err error)) (*mapEntry, error) {
	c.mu.Lock()
	if call := c.computes[key]; call != nil && version != "" && call.version == version {
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err != nil || call.e.until.IsZero() || now.Before(call.e.until) {
			return call.e, call.err
		}
		c.mu.Lock() // it lapsed meanwhile: compute afresh
	}
	call := &mapCompute{version: version, done: make(chan struct{})}
	if version != "" {
		c.computes[key] = call
	}
	c.mu.Unlock()
	defer close(call.done)
	defer func() {
		c.mu.Lock()
		if c.computes[key] == call {
			delete(c.computes, key)
		}
		c.mu.Unlock()
	}()
	body, a, err := compute()
	if err != nil {
		call.err = err
		return nil, err
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(body); err != nil {
		call.err = err
		return nil, err
	}
	sum := sha256.Sum256(b.Bytes())
	call.e = &mapEntry{key: key, version: a.Version, until: a.Until, json: b.Bytes(), etag: hex.EncodeToString(sum[:16])}
	if a.Version != "" {
		c.put(call.e)
	}
	return call.e, nil
}

// noneMatch reports whether If-None-Match names etag, or is "*". A GET
// compares tags weakly (RFC 9110, 13.1.2): W/ is ignored.
func noneMatch(r *http.Request, etag string) bool {
	for _, v := range r.Header.Values("If-None-Match") {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
	}
	return false
}
