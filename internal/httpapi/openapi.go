package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route in routes.go.
// docs/openapi.json is a copy; openapi_test.go keeps both true to the handlers.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the API description.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDocument)
	})
}
