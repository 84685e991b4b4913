package web

import (
	"errors"
	"net/url"
	"strings"
)

// DefaultMapTiles and DefaultMapAttribution are OpenStreetMap's tiles and the
// credit their usage policy asks for.
const (
	DefaultMapTiles       = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
	DefaultMapAttribution = `&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors`
)

// CheckMapTiles says whether tiles is a tile URL template the home page's map
// can use: empty (no map), a path on parkd's own host ("/tiles/{z}/{x}/{y}.png",
// served by a proxy in front of it), or an http or https URL whose host may
// start with a {s} subdomain label; {z}, {x} and {y} must all appear.
func CheckMapTiles(tiles string) error {
	if tiles == "" {
		return nil
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(tiles, p) {
			return errors.New("the tile URL needs {z}, {x} and {y}, as in " + DefaultMapTiles)
		}
	}
	if strings.HasPrefix(tiles, "/") && !strings.HasPrefix(tiles, "//") {
		return nil
	}
	origin, ok := tileOrigin(tiles)
	if !ok {
		return errors.New("the tile URL must be an http or https URL, or a path on parkd's host starting with /")
	}
	u, err := url.Parse(strings.Replace(origin, "*.", "a.", 1))
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil {
		return errors.New("the tile URL's host is not valid: " + origin)
	}
	return nil
}

// tileOrigin is the scheme and host of an absolute tile URL as a
// Content-Security-Policy source: a {s} subdomain becomes "*.". It is false
// for a path on parkd's own host and for what CheckMapTiles refuses.
func tileOrigin(tiles string) (string, bool) {
	scheme, rest, ok := strings.Cut(tiles, "://")
	if !ok || scheme != "https" && scheme != "http" {
		return "", false
	}
	host, _, _ := strings.Cut(rest, "/")
	if after, ok := strings.CutPrefix(host, "{s}."); ok {
		host = "*." + after
	}
	if host == "" || strings.ContainsAny(host, "{}'\";, \t\n/?#@") {
		return "", false
	}
	return scheme + "://" + host, true
}

// searchPolicy is the home page's Content-Security-Policy: everything from
// parkd itself, and images from the map's tile host too.
func searchPolicy(tiles string) string {
	img := "'self'"
	if origin, ok := tileOrigin(tiles); ok {
		img += " " + origin
	}
	return "default-src 'self'; img-src " + img + "; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
}
