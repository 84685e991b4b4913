package parking

import (
	"math"
	"testing"
)

func TestDistanceKey(t *testing.T) {
	here := Point{Lat: 40.7128, Lng: -74.006}
	for _, c := range []struct{ lat, lng float64 }{
		{40.7128, -74.006}, {40.75, -74.006}, {40.7128, -73.95}, {41.2, -73.5}, {40.0, -75.0},
	} {
		d := Distance(here, Point{c.lat, c.lng})
		k := math.Sqrt(float64(DistanceKey(here, c.lat, c.lng)))
		if math.Abs(k-d) > 1+d*0.005 {
			t.Errorf("DistanceKey(%v, %v) = %.0f m (as a distance); want within 0.5%% of the great circle %.0f m", c.lat, c.lng, k, d)
		}
	}
}

func TestLikePattern(t *testing.T) {
	for in, want := range map[string]string{"": "%%", "mall": "%mall%", "100%": "%100!%%", "a_b!": "%a!_b!!%"} {
		if got := LikePattern(in); got != want {
			t.Errorf("LikePattern(%q) = %q; want %q", in, got, want)
		}
	}
}
