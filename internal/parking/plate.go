package parking

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPlateLen is the most letters and digits a licence plate may hold.
const MaxPlateLen = 16

// maxPlateInput bounds what ParsePlate reads: a plate of MaxPlateLen
// characters of any script, a space or hyphen between each.
const maxPlateInput = 8 * MaxPlateLen

// ParsePlate reads a licence plate as a person or a plate camera gives it and
// returns the form parkd stores and compares: Unicode NFKC (so full-width
// "ＡＢ１" is "AB1"), upper case, spaces and hyphens dropped, so "ab-123 c"
// and "AB123C" are the same car. A plate is 1 to MaxPlateLen letters and
// digits of any script (with the combining marks some scripts write letters
// with); anything else (punctuation, symbols, emoji, U+FFFD, control or
// bidirectional-override characters, invalid UTF-8) is a validation error
// naming the plate field. Every caller that takes a plate uses it: vehicles,
// reservations, gate scans and searches.
func ParsePlate(s string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", &ValidationError{Fields: []FieldError{{"plate", fmt.Sprintf(format, args...)}}}
	}
	if len(s) > maxPlateInput {
		return bad("must be 1 to %d letters and digits", MaxPlateLen)
	}
	if !utf8.ValidString(s) {
		return bad("must be text (valid UTF-8) of letters and digits")
	}
	upper := norm.NFKC.String(strings.ToUpper(norm.NFKC.String(s)))
	var b strings.Builder
	n := 0
	afterLetter := false
	for _, c := range upper {
		switch {
		case c == ' ' || c == '-' || c == '\u2010' || unicode.Is(unicode.Zs, c):
			afterLetter = false
			continue
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			afterLetter = unicode.IsLetter(c)
			n++
		case unicode.In(c, unicode.Mn, unicode.Mc) && afterLetter:
			// A vowel sign or accent that belongs to the letter before it.
		default:
			return bad("may hold only letters and digits, with spaces or hyphens between them: %s is not allowed", describeRune(c))
		}
		b.WriteRune(c)
	}
	if n == 0 || n > MaxPlateLen {
		return bad("must be 1 to %d letters and digits", MaxPlateLen)
	}
	return b.String(), nil
}

// describeRune names a character for a message: printable ones as they are,
// the rest (controls, overrides) only by code point, so that a message never
// carries them.
func describeRune(c rune) string {
	if unicode.IsGraphic(c) && !unicode.Is(unicode.Cf, c) && c != utf8.RuneError {
		return fmt.Sprintf("%q (U+%04X)", c, c)
	}
	return fmt.Sprintf("U+%04X", c)
}
