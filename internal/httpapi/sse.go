package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// eventStream writes Server-Sent Events: the live map's and the live
// notifications'. Every write has a deadline, so a client that stops reading
// ends its stream instead of holding the handler.
type eventStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// startEventStream answers 200 with an event stream's headers; each later
// write must finish within timeout. The caller has lifted the server's own
// deadlines, which are for ordinary requests.
func startEventStream(w http.ResponseWriter, timeout time.Duration) *eventStream {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold messages back
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// send writes one event: its id and type when not empty, and data (one
// line). It stays buffered until flush.
func (s *eventStream) send(id, event string, data []byte) error {
	var b bytes.Buffer
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	if event != "" {
		b.WriteString("event: " + event + "\n")
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return s.write(b.Bytes())
}

// comment writes a comment line, which clients ignore: a ping that keeps
// proxies from closing a quiet stream.
func (s *eventStream) comment(text string) error { return s.write([]byte(": " + text + "\n\n")) }

// retry tells the client how long to wait before reconnecting.
func (s *eventStream) retry(d time.Duration) error {
	return s.write([]byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n"))
}

func (s *eventStream) write(b []byte) error {
	s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.w.Write(b)
	return err
}

// flush sends what is written so far.
func (s *eventStream) flush() error { return s.rc.Flush() }
