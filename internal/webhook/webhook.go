// Package webhook signs webhook bodies the way Stripe does. Payments verify
// the gateway's webhooks (and the sandbox signs its own) with it, and
// operators' webhooks from notify are signed with it under parkd's own
// header, so that one scheme, and one implementation, serves both.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Sign returns the signature header value for payload sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed with
// secret>".
func Sign(secret string, payload []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(MAC(secret, ts, payload))
}

// MAC is the v1 signature of payload sent at ts (unix seconds, as the header
// writes them), for a verifier to compare in constant time.
func MAC(secret, ts string, payload []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	return mac.Sum(nil)
}
