package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"parkd/internal/parking"
)

// UnsubscribeToken returns the token of a user's unsubscribe link: their id
// and an HMAC of it, so that the link works without signing in and cannot be
// made for anyone else.
func (s *Service) UnsubscribeToken(userID string) string {
	if len(s.cfg.UnsubscribeKeys) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(userID)) + "." + hex.EncodeToString(unsubscribeMAC(s.cfg.UnsubscribeKeys[0], userID))
}

// CheckUnsubscribeToken returns the user a token was made for.
func (s *Service) CheckUnsubscribeToken(token string) (string, error) {
	switch {
	case token == "":
		return "", parking.Errorf(parking.EINVALID, "the unsubscribe link has no token")
	case len(s.cfg.UnsubscribeKeys) == 0:
		return "", parking.Errorf(parking.EINVALID, "the unsubscribe link is not valid here")
	}
	bad := parking.Errorf(parking.EINVALID, "the unsubscribe link is not valid: change your settings after signing in")
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", bad
	}
	id, err := base64.RawURLEncoding.DecodeString(enc)
	mac, err2 := hex.DecodeString(sig)
	if err != nil || err2 != nil || len(id) == 0 {
		return "", bad
	}
	for _, key := range s.cfg.UnsubscribeKeys {
		if hmac.Equal(mac, unsubscribeMAC(key, string(id))) {
			return string(id), nil
		}
	}
	return "", bad
}

func unsubscribeMAC(key []byte, userID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("parkd unsubscribe\x00" + userID))
	return m.Sum(nil)[:16]
}

// UnsubscribeURL is the page an email's unsubscribe link opens.
func (s *Service) UnsubscribeURL(userID string) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + "/api/v1/notifications/unsubscribe?token=" + s.UnsubscribeToken(userID)
}
