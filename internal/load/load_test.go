package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 0.95, 95 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"max", ms(hundred...), 1, 100 * time.Millisecond},
		{"p99 of ten is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"tiny p is the smallest", ms(5, 6), 0.0001, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%v, %v) = %v; want %v", tt.name, tt.sorted, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	got := Summarize([]time.Duration{3, 1, 2})
	want := Summary{Count: 3, P50: 2, P95: 3, P99: 3, Max: 3}
	if got != want {
		t.Errorf("Summarize = %+v; want %+v", got, want)
	}
}

func TestClientProblemCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"status":409,"code":"spot_unavailable"}`))
		case "/plain":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			if r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("Authorization = %q; want the bearer token", r.Header.Get("Authorization"))
			}
			w.Write([]byte(`{"id":"x"}`))
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/", 2)
	ctx := context.Background()
	for path, want := range map[string]string{"/problem": "spot_unavailable", "/plain": "http_502"} {
		_, err := c.Do(ctx, "GET", path, "", nil, nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Code != want {
			t.Errorf("Do(%s) = %v; want an *Error with code %s", path, err, want)
		}
	}
	var v struct{ ID string }
	if status, err := c.Do(ctx, "POST", "/ok", "tok", nil, map[string]int{"a": 1}, &v); err != nil || status != 200 || v.ID != "x" {
		t.Errorf("Do(/ok) = %d, %v, %+v; want 200, nil, id x", status, err, v)
	}
}
