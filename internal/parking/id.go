package parking

import (
	"crypto/rand"
	"encoding/base32"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random identifier with a readable prefix, such as "res_3k9x...".
// Identifiers are made here rather than by the database so that every backend
// inserts the same way and clients cannot guess each other's ids.
func NewID(prefix string) string {
	var b [10]byte
	rand.Read(b[:]) // never fails: crypto/rand panics rather than return an error
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}
