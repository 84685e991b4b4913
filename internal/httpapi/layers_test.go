package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// storeNames are parking.Store and its parts (internal/parking/store.go).
var storeNames = regexp.MustCompile(`\bparking\.(Store|LotStore|AccountStore|ReservationStore|PaymentStore|GateStore|EventStore|IdempotencyStore|NotificationStore|OperationsStore)\b`)

// TestNoStoreInHTTP: the API and the pages reach data only through services;
// no non-test file of internal/httpapi or internal/web names the store or any
// of its parts.
func TestNoStoreInHTTP(t *testing.T) {
	for _, dir := range []string{".", "../web"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				if m := storeNames.FindString(line); m != "" {
					t.Errorf("%s:%d names %s: reach data through a service", f, i+1, m)
				}
			}
		}
	}
}
