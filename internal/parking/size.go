package parking

import (
	"fmt"
	"strings"
)

// Size is a vehicle or spot size. A vehicle fits any spot of its size or larger.
// The zero value is not a valid size.
type Size int8

// Sizes, smallest to largest; the numeric order is the fitting order.
const (
	Motorcycle Size = 1 + iota
	Compact
	Standard
	Large
)

// Sizes lists every valid size, smallest first.
var Sizes = []Size{Motorcycle, Compact, Standard, Large}

var sizeNames = map[Size]string{
	Motorcycle: "motorcycle",
	Compact:    "compact",
	Standard:   "standard",
	Large:      "large",
}

// sizeAliases maps every accepted spelling, lower-cased, to a size: the canonical
// names and the words of the original design notes.
var sizeAliases = map[string]Size{
	"motorcycle":  Motorcycle,
	"motor_cycle": Motorcycle,
	"compact":     Compact,
	"small":       Compact,
	"hatch_back":  Compact,
	"hatchback":   Compact,
	"coupe":       Compact,
	"standard":    Standard,
	"medium":      Standard,
	"sedan":       Standard,
	"large":       Large,
	"suv":         Large,
}

// ParseSize accepts a canonical size name or one of its aliases, in any case.
func ParseSize(s string) (Size, error) {
	if size, ok := sizeAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return size, nil
	}
	return 0, Errorf(EINVALID, "unknown size %q: want motorcycle, compact, standard or large", s)
}

// Valid reports whether s is one of the four sizes.
func (s Size) Valid() bool { return s >= Motorcycle && s <= Large }

// Fits reports whether a vehicle of size s fits a spot of size spot.
func (s Size) Fits(spot Size) bool { return s.Valid() && spot.Valid() && s <= spot }

func (s Size) String() string {
	if name, ok := sizeNames[s]; ok {
		return name
	}
	return fmt.Sprintf("Size(%d)", int8(s))
}

// MarshalText writes the canonical name, so sizes read well in JSON and as map keys.
func (s Size) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid size %d", int8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts the canonical names and aliases.
func (s *Size) UnmarshalText(b []byte) error {
	size, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = size
	return nil
}
