package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"parkd/internal/load"
)

// The operations the report lists, in its order.
var operations = []string{"signup", "signin", "lots", "map", "hold_spot", "hold_any", "pay", "cancel", "pass", "entry", "exit", "live_connect"}

// setUpOnly are the operations done before the run starts: they have no
// throughput.
var setUpOnly = map[string]bool{"signup": true, "signin": true, "live_connect": true}

// stats are every operation's latencies and errors, across workers.
type stats struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	errs     map[string]map[string]int // operation -> code -> count
	total    int
	failures int
	fatal    int // 5xx answers and transport errors: parkd failed, not the request
	live     int // messages the live subscribers received
}

func newStats() *stats {
	return &stats{lat: map[string][]time.Duration{}, errs: map[string]map[string]int{}}
}

// record notes one operation that took d and ended with err (nil: success).
// A refusal is counted by its problem code; a deny at a gate by "deny_REASON".
func (s *stats) record(op string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.lat[op] = append(s.lat[op], d)
	if err == nil {
		return
	}
	s.failures++
	code := errorCode(err)
	var e *load.Error
	if !errors.As(err, &e) || e.Status >= 500 {
		if !strings.HasPrefix(code, "deny_") {
			s.fatal++
		}
	}
	if s.errs[op] == nil {
		s.errs[op] = map[string]int{}
	}
	s.errs[op][code]++
}

func (s *stats) addLive(n int) {
	s.mu.Lock()
	s.live += n
	s.mu.Unlock()
}

// denied is a gate's refusal: an answer of 200 that keeps the barrier shut.
type denied struct{ reason string }

func (d denied) Error() string { return "gate denied: " + d.reason }

// errorCode is how an error is counted: the problem's code, deny_REASON for a
// gate, or "transport" when no answer came.
func errorCode(err error) string {
	var e *load.Error
	var d denied
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.As(err, &d):
		return "deny_" + d.reason
	default:
		return "transport"
	}
}

// snapshot answers the counts so far, for the progress line.
func (s *stats) snapshot() (total, failures, live int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.failures, s.live
}

// report prints, per operation, its count, throughput over elapsed, latency
// percentiles and errors by code.
func (s *stats) report(out io.Writer, elapsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(out, "%-13s %7s %8s %8s %8s %8s %8s  %s\n", "operation", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors by code")
	for _, op := range operations {
		lat := s.lat[op]
		if len(lat) == 0 {
			continue
		}
		sum := load.Summarize(lat)
		var errs []string
		for _, code := range slices.Sorted(maps.Keys(s.errs[op])) {
			errs = append(errs, fmt.Sprintf("%s %d", code, s.errs[op][code]))
		}
		perSecond := fmt.Sprintf("%.1f", float64(sum.Count)/elapsed.Seconds())
		if setUpOnly[op] {
			perSecond = "-" // done before the run, not during it
		}
		fmt.Fprintf(out, "%-13s %7d %8s %8s %8s %8s %8s  %s\n", op, sum.Count, perSecond,
			ms(sum.P50), ms(sum.P95), ms(sum.P99), ms(sum.Max), strings.Join(errs, ", "))
	}
	fmt.Fprintf(out, "all: %d operations in %v (%.1f/s), %d refused or failed (%d by parkd: 5xx or no answer); live subscribers got %d messages\n",
		s.total, elapsed.Round(time.Millisecond), float64(s.total)/elapsed.Seconds(), s.failures, s.fatal, s.live)
}
