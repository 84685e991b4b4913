package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"parkd/internal/store/teststore"
)

// TestReadmeAPIExample runs the README's API example, pasted as is, against
// parkd with the demo garage: it must find the lot itself and end with a held
// reservation.
func TestReadmeAPIExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "Or use the API:\n\n```sh\n")
	script, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no sh block after \"Or use the API:\"")
	}
	if !strings.Contains(script, "localhost:8080") {
		t.Fatal("the README's example does not talk to localhost:8080")
	}
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	script = strings.ReplaceAll(script, "localhost:8080", strings.TrimPrefix(base, "http://"))
	out, err := exec.Command("bash", "-e", "-o", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the README's example failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"status":"held"`) || strings.Contains(string(out), `"status":4`) {
		t.Errorf("the README's example did not end with a held reservation:\n%s", out)
	}
}
