package parking

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrCardNumber is the answer to a field that holds a card number.
var ErrCardNumber = &Error{Code: ECARDNUMBER, Message: "this looks like a card number: parkd never takes card numbers; " +
	"send the payment method token your card form returned (such as pm_...)"}

// FindCardNumber returns the first card number in s, as its digits alone, or
// "" when there is none. A card number is a Luhn-valid run of 12 to 19 digits,
// which may be typed in groups split by one space or hyphen ("4242 4242 4242
// 4242"), and which no letter or digit touches on either side: the digits
// inside a hex hash or an id are not a card number, while "pm_4242…" or
// "card:4242…" are. Any run of whole groups is tried, so a card number typed
// after another number ("12 4242 4242 4242 4242") is still found.
func FindCardNumber(s string) string {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || touchesWord(s, i, true) {
			i++
			continue
		}
		groups, end := digitGroups(s, i)
		if found := cardInGroups(s, groups); found != "" {
			return found
		}
		i = end
	}
	return ""
}

// RedactCardNumbers returns s with every card number FindCardNumber would find
// replaced by "[card number]", for text that must be logged anyway.
func RedactCardNumbers(s string) string {
	if FindCardNumber(s) == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || touchesWord(s, i, true) {
			b.WriteByte(s[i])
			i++
			continue
		}
		groups, end := digitGroups(s, i)
		if cardInGroups(s, groups) != "" {
			b.WriteString("[card number]")
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
	return b.String()
}

// span is a group of digits s[start:end].
type span struct{ start, end int }

// digitGroups returns the groups of digits from i on, each split from the next
// by one space or hyphen, and where the run ends.
func digitGroups(s string, i int) ([]span, int) {
	var groups []span
	for {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		groups = append(groups, span{i, j})
		if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
			i = j + 1
			continue
		}
		return groups, j
	}
}

// cardInGroups tries every run of whole groups with 12 to 19 digits whose ends
// no letter or digit touches, the longest first from each group on.
func cardInGroups(s string, groups []span) string {
	for a := range groups {
		if touchesWord(s, groups[a].start, true) {
			continue
		}
		n, last := 0, a-1
		for last+1 < len(groups) && n+groups[last+1].end-groups[last+1].start <= 19 {
			last++
			n += groups[last].end - groups[last].start
		}
		for b := last; b >= a && n >= 12; b-- {
			if !touchesWord(s, groups[b].end, false) {
				var digits strings.Builder
				for _, g := range groups[a : b+1] {
					digits.WriteString(s[g.start:g.end])
				}
				if luhn(digits.String()) {
					return digits.String()
				}
			}
			n -= groups[b].end - groups[b].start
		}
	}
	return ""
}

// touchesWord reports whether a letter or digit lies just before s[i] (before)
// or at s[i] (after a run that ends at i).
func touchesWord(s string, i int, before bool) bool {
	var r rune
	if before {
		if i == 0 {
			return false
		}
		r, _ = utf8.DecodeLastRuneInString(s[:i])
	} else {
		if i >= len(s) {
			return false
		}
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// luhn reports whether digits pass the Luhn check that every card number does.
func luhn(digits string) bool {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
