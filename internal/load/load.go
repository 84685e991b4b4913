// Package load holds what parkd's load tools (cmd/parkload, cmd/liveload,
// cmd/gateload) share: an HTTP client that reads problem+json codes, and
// latency figures. It imports nothing of the project, so a tool stays a thin
// program over the public API.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Client calls one parkd's JSON API.
type Client struct {
	Base string // e.g. http://127.0.0.1:8080, without a trailing slash
	HTTP *http.Client
}

// NewClient returns a client of base whose connection pool fits conns
// requests at once, so a run measures parkd and not new TCP connections.
func NewClient(base string, conns int) *Client {
	return &Client{
		Base: strings.TrimRight(base, "/"),
		HTTP: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute},
			Timeout:   10 * time.Second,
		},
	}
}

// Error is an answer of 300 or more: its status and problem code (or
// "http_STATUS" when the body is no problem).
type Error struct {
	Method, Path string
	Status       int
	Code         string
	Body         string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s = %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Body)
}

// Do sends body (JSON, when not nil) with the bearer token (when not empty)
// and headers, and decodes a successful answer into into (when not nil). It
// returns the status; an answer of 300 or more is an *Error.
func (c *Client) Do(ctx context.Context, method, path, token string, headers map[string]string, body, into any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, &Error{Method: method, Path: path, Status: resp.StatusCode, Code: problemCode(resp.StatusCode, b), Body: string(b)}
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// problemCode is a problem+json body's code, or "http_STATUS".
func problemCode(status int, body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		return p.Code
	}
	return fmt.Sprintf("http_%d", status)
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 1) of sorted
// durations: the smallest one that at least p of them do not exceed. It is 0
// for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999999) // ceil, without float noise for exact ranks
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Summary is the figures of one set of latencies.
type Summary struct {
	Count              int
	P50, P95, P99, Max time.Duration
}

// Summarize sorts latencies in place and answers their figures.
func Summarize(latencies []time.Duration) Summary {
	slices.Sort(latencies)
	s := Summary{Count: len(latencies)}
	if len(latencies) > 0 {
		s.P50, s.P95, s.P99, s.Max = Percentile(latencies, 0.50), Percentile(latencies, 0.95), Percentile(latencies, 0.99), latencies[len(latencies)-1]
	}
	return s
}
