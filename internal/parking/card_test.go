package parking_test

import (
	"testing"

	"parkd/internal/parking"
)

func TestFindCardNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"4242424242424242", "4242424242424242"},
		{"4242 4242 4242 4242", "4242424242424242"},
		{"4242-4242-4242-4242", "4242424242424242"},
		{"card: 3782 822463 10005 thanks", "378282246310005"}, // Amex, 15 digits
		{"pm_4242424242424242", "4242424242424242"},
		{`{"payment_method":"5555555555554444"}`, "5555555555554444"},
		{"order 12 4242 4242 4242 4242", "4242424242424242"}, // after another number
		{"6011111111111117 and more", "6011111111111117"},
		{"4000056655665556", "4000056655665556"},
		{"501800000009", "501800000009"},               // 12 digits
		{"6250941006528599008", "6250941006528599008"}, // 19 digits, Luhn-valid
		{"4242424242424241", ""},                       // fails Luhn
		{"42424242424", ""},                            // 11 digits
		{"42424242424242424242", ""},                   // 20 digits: not a card
		{"x4242424242424242", ""},                      // inside a word or hash
		{"4242424242424242b", ""},
		{"a3f04242424242424242c9", ""},
		{"4242  4242 4242 4242", "424242424242"}, // two spaces end a run; 12 Luhn-valid digits remain
		{"2030-01-07T08:00:00Z", ""},
		{"pm_card_visa", ""},
		{"", ""},
		{"Ünïcødé 4242424242424242", "4242424242424242"},
		{"é4242424242424242", ""},
	} {
		if got := parking.FindCardNumber(c.in); got != c.want {
			t.Errorf("FindCardNumber(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestRedactCardNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/lots/4242424242424242/spots": "/api/v1/lots/[card number]/spots",
		"pay 4242 4242 4242 4242 now":         "pay [card number] now",
		"no card 4242424242424241 here":       "no card 4242424242424241 here",
		"lot_4242424242424242x":               "lot_4242424242424242x",
	} {
		if got := parking.RedactCardNumbers(in); got != want {
			t.Errorf("RedactCardNumbers(%q) = %q; want %q", in, got, want)
		}
		if got := parking.RedactCardNumbers(in); parking.FindCardNumber(got) != "" {
			t.Errorf("RedactCardNumbers(%q) = %q still holds a card number", in, got)
		}
	}
}
