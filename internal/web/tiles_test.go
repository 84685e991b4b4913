package web

import "testing"

func TestMapTiles(t *testing.T) {
	for _, c := range []struct {
		tiles, img string // img is the policy's img-src; "" refuses tiles
	}{
		{"", "'self'"},
		{DefaultMapTiles, "'self' https://tile.openstreetmap.org"},
		{"https://{s}.tile.example.com/{z}/{x}/{y}{r}.png", "'self' https://*.tile.example.com"},
		{"http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", "'self' http://127.0.0.1:8081"},
		{"/tiles/{z}/{x}/{y}.png", "'self'"},
		{"https://tile.example.com/{z}/{x}.png", ""},
		{"ftp://tile.example.com/{z}/{x}/{y}.png", ""},
		{"//tile.example.com/{z}/{x}/{y}.png", ""},
		{"https://tiles.{s}.example.com/{z}/{x}/{y}.png", ""},
		{"https://a.example.com;script-src *//{z}/{x}/{y}.png", ""},
		{"https://user@example.com/{z}/{x}/{y}.png", ""},
	} {
		err := CheckMapTiles(c.tiles)
		if (err == nil) != (c.img != "") {
			t.Errorf("CheckMapTiles(%q) = %v; want ok %v", c.tiles, err, c.img != "")
			continue
		}
		if err != nil {
			continue
		}
		want := "default-src 'self'; img-src " + c.img + "; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
		if got := searchPolicy(c.tiles); got != want {
			t.Errorf("searchPolicy(%q) = %q; want %q", c.tiles, got, want)
		}
	}
}
