package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"parkd/internal/parking"
)

// spotColumns are the columns a spots CSV may have; the first three are required.
var spotColumns = []string{"level", "label", "size", "lat", "lng", "x", "y", "amenities", "in_service"}

func spotCommands() []command {
	return []command{
		{name: "spots import", args: "FILE", nargs: 1, summary: "add a lot's spots from a CSV file",
			help: "Adds spots to a lot from a CSV file, all or none. The first line names the columns:\n" +
				"level, label and size are required; lat, lng, x, y, amenities and in_service are optional.\n" +
				"  level       the level's name; a level the lot lacks is created\n" +
				"  label       unique in the lot, such as L1-A07\n" +
				"  size        motorcycle, compact, standard or large (or small, medium, SUV, ...)\n" +
				"  lat, lng    where the spot is (default: the lot's position)\n" +
				"  x, y        where it is on the level's plan (default 0)\n" +
				"  amenities   separated by semicolons, such as ev;covered\n" +
				"  in_service  true or false (default true)\n" +
				"Every problem is reported with its line before anything is written.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db, lotID string
				dbFlag(fs, &db)
				fs.String(&lotID, "lot", "", "", "the lot the spots are in").Required()
				return func(ctx context.Context, args []string) error {
					f, err := os.Open(args[0])
					if err != nil {
						return err
					}
					defer f.Close()
					return withStore(ctx, db, func(store parking.Store) error {
						levels, spots, err := importSpots(ctx, store, lotID, f)
						if err != nil {
							return err
						}
						fmt.Fprintf(a.stdout, "imported %d spots into lot %s", spots, lotID)
						if levels > 0 {
							fmt.Fprintf(a.stdout, " (and created %d levels)", levels)
						}
						fmt.Fprintln(a.stdout)
						return nil
					})
				}
			}},
	}
}

// importSpots reads spots from CSV and stores them all or none; it returns
// how many levels it created and how many spots.
func importSpots(ctx context.Context, store parking.Store, lotID string, r io.Reader) (int, int, error) {
	lot, err := store.Lot(ctx, lotID)
	if err != nil {
		return 0, 0, fmt.Errorf("lot %s: %w", lotID, err)
	}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return 0, 0, fmt.Errorf("read the header line: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(spotColumns, h) {
			return 0, 0, fmt.Errorf("line 1: column %q is not one of %s", h, strings.Join(spotColumns, ", "))
		}
		col[h] = i
	}
	for _, need := range spotColumns[:3] {
		if _, ok := col[need]; !ok {
			return 0, 0, fmt.Errorf("line 1: the %q column is missing (level, label and size are required)", need)
		}
	}
	existing, err := store.Spots(ctx, lot.ID)
	if err != nil {
		return 0, 0, err
	}
	taken := map[string]int{}
	for _, sp := range existing {
		taken[sp.Label] = 0
	}
	levels, err := store.Levels(ctx, lot.ID)
	if err != nil {
		return 0, 0, err
	}
	levelIDs := map[string]string{}
	nextOrdinal := 0
	for _, l := range levels {
		levelIDs[l.Name] = l.ID
		nextOrdinal = max(nextOrdinal, l.Ordinal+1)
	}
	var newLevels []*parking.Level
	var spots []parking.Spot
	var problems []string
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if len(problems) >= 20 {
			problems = append(problems, "stopped after 20 problems")
			break
		}
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
		}
		sp := parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, Label: field("label"), Lat: lot.Lat, Lng: lot.Lng,
			Amenities: []string{}, InService: true}
		switch n := utf8.RuneCountInString(sp.Label); {
		case n == 0:
			bad("label is required")
		case n > 32:
			bad("label %q is longer than 32 characters", sp.Label)
		default:
			if prev, dup := taken[sp.Label]; dup {
				if prev == 0 {
					bad("label %q is already a spot of this lot", sp.Label)
				} else {
					bad("label %q repeats line %d's", sp.Label, prev)
				}
			} else {
				taken[sp.Label] = line
			}
		}
		if sp.Size, err = parking.ParseSize(field("size")); err != nil {
			bad("size %q: want motorcycle, compact, standard or large", field("size"))
		}
		for _, c := range []struct {
			name     string
			p        *float64
			min, max float64
		}{{"lat", &sp.Lat, -90, 90}, {"lng", &sp.Lng, -180, 180}, {"x", &sp.X, 0, 1e9}, {"y", &sp.Y, 0, 1e9}} {
			if v := field(c.name); v != "" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < c.min || f > c.max {
					bad("%s %q: want a number from %g to %g", c.name, v, c.min, c.max)
				}
				*c.p = f
			}
		}
		for _, am := range strings.Split(field("amenities"), ";") {
			if am = strings.ToLower(strings.TrimSpace(am)); am != "" && !slices.Contains(sp.Amenities, am) {
				sp.Amenities = append(sp.Amenities, am)
			}
		}
		if v := field("in_service"); v != "" {
			if sp.InService, err = strconv.ParseBool(v); err != nil {
				bad("in_service %q: want true or false", v)
			}
		}
		name := field("level")
		switch {
		case name == "":
			bad("level is required")
		case levelIDs[name] == "":
			l := &parking.Level{ID: parking.NewID("lvl"), LotID: lot.ID, Name: name, Ordinal: nextOrdinal}
			nextOrdinal++
			levelIDs[name] = l.ID
			newLevels = append(newLevels, l)
		}
		sp.LevelID = levelIDs[name]
		for _, l := range newLevels { // a new level's plan is as large as its spots need
			if l.ID == sp.LevelID {
				l.Width, l.Height = max(l.Width, sp.X+5), max(l.Height, sp.Y+5)
			}
		}
		spots = append(spots, sp)
	}
	if len(problems) > 0 {
		return 0, 0, fmt.Errorf("nothing imported:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(spots) == 0 {
		return 0, 0, errors.New("the file holds no spots")
	}
	for _, l := range newLevels {
		if err := store.CreateLevel(ctx, l); err != nil {
			return 0, 0, fmt.Errorf("create level %s: %w", l.Name, err)
		}
	}
	if err := store.CreateSpots(ctx, spots); err != nil {
		return len(newLevels), 0, err
	}
	return len(newLevels), len(spots), nil
}
