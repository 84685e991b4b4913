package parking_test

import (
	"errors"
	"strings"
	"testing"

	"parkd/internal/parking"
)

func TestParsePlate(t *testing.T) {
	good := []struct{ in, want string }{
		{"AB123C", "AB123C"},
		{"ab-123 c", "AB123C"}, // spaces and hyphens dropped, as plates were always compared
		{"  ab 12-cd  ", "AB12CD"},
		{"ＡＢ１２３", "AB123"},         // full width: NFKC
		{"ab\u2010 12", "AB12"},    // a Unicode hyphen
		{"ab\u00a012", "AB12"},     // a no-break space
		{"müller 1", "MÜLLER1"},    // letters of any script, upper-cased
		{"Mu\u0308ller", "MÜLLER"}, // a combining diaeresis composes (NFKC)
		{"京A-12345", "京A12345"},    // Chinese
		{"أ ب ٣٤٥", "أب٣٤٥"},       // Arabic letters and Arabic-Indic digits
		{"กข 1234", "กข1234"},      // Thai
		{"मह12", "मह12"},           // Devanagari
		{"क्ष 1", "क्ष1"},          // a virama (a combining mark) after a letter
		{"1234567890abcdef", "1234567890ABCDEF"},
	}
	for _, tt := range good {
		got, err := parking.ParsePlate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePlate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"", "  ", "--", "1234567890abcdefg", strings.Repeat("A ", 100),
		"AB\u202e12",                       // right-to-left override
		"AB\u2066 12",                      // isolate
		"AB\ufffd12",                       // replacement character
		"AB\xff12",                         // invalid UTF-8
		"AB\x0012",                         // NUL
		"AB\t12",                           // a tab
		"AB.12", "AB#1!", "AB_12", "AB/12", // punctuation
		"AB🚗12",      // emoji
		"1\u20e3",    // keycap: an enclosing mark
		"\u0301A",    // a mark with no letter before it
		"AB\u200b12", // zero-width space
	}
	for _, in := range bad {
		got, err := parking.ParsePlate(in)
		var v *parking.ValidationError
		if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != "plate" || parking.ErrorCode(err) != parking.EVALIDATION {
			t.Errorf("ParsePlate(%q) = %q, %v; want a validation error naming plate", in, got, err)
			continue
		}
		if msg := v.Fields[0].Message; strings.ContainsAny(msg, "\u202e\u2066\x00\t\ufffd") || !strings.Contains(strings.ToValidUTF8(msg, "?"), msg) {
			t.Errorf("ParsePlate(%q) message %q repeats what it refuses", in, msg)
		}
	}
}
