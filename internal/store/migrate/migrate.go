// Package migrate reads numbered SQL migrations ("0001_core.sql", ...) from an
// embedded file system. Each backend applies them in order, each once, inside a
// transaction that also records it.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Read returns the migrations in dir of fsys, ordered by version. Files must be
// named NNNN_name.sql; a missing number or a duplicate version is an error.
func Read(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and an underscore", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Applied is a migration a database recorded as applied.
type Applied struct {
	Name string
	At   time.Time
}

// Status is one migration's state in a database.
type Status struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time
	// Unknown is a migration the database applied that this binary does not
	// have: a newer parkd applied it.
	Unknown bool
}

// Compare lists, by version, the migrations a binary has (known) and those a
// database applied.
func Compare(known []Migration, applied map[int]Applied) []Status {
	var out []Status
	for _, m := range known {
		s := Status{Version: m.Version, Name: m.Name}
		if a, ok := applied[m.Version]; ok {
			s.Applied, s.AppliedAt = true, a.At
		}
		out = append(out, s)
	}
	for v, a := range applied {
		if !slices.ContainsFunc(known, func(m Migration) bool { return m.Version == v }) {
			out = append(out, Status{Version: v, Name: a.Name, Applied: true, AppliedAt: a.At, Unknown: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}
