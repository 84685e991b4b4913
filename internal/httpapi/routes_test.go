package httpapi

import (
	"os"
	"strings"
	"testing"
)

// TestEveryRouteListed: each route of the mux parkd serves is written, as one
// line naming its handler, in routes.go (the API) or internal/web/routes.go
// (the pages), and each API route is in the OpenAPI description.
func TestEveryRouteListed(t *testing.T) {
	api, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := os.ReadFile("../web/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := mustSpec(t)
	listedOnce := func(src []byte, pattern string) bool {
		n := 0
		for _, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, `"`+pattern+`"`) && strings.Contains(strings.ToLower(line), "handle") {
				n++
			}
		}
		return n == 1
	}
	rt := newRouter(Services{})
	if len(rt.patterns) < 60 {
		t.Fatalf("the mux has %d routes; want every API route and page", len(rt.patterns))
	}
	for _, pattern := range rt.patterns {
		method, path := specPath(pattern)
		switch {
		case strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz":
			if !listedOnce(api, pattern) {
				t.Errorf("route %q is not on one line of routes.go with its handler", pattern)
			}
			if _, ok := doc.operation(method, path); !ok {
				t.Errorf("route %q is not in openapi.json", pattern)
			}
		default:
			if !listedOnce(pages, pattern) {
				t.Errorf("page %q is not on one line of internal/web/routes.go with its handler", pattern)
			}
		}
	}
}
