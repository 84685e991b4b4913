package nginx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	prefix := t.TempDir()
	conf, err := Render(Config{Listen: "127.0.0.1:8080", Upstreams: []string{"127.0.0.1:8081", "[::1]:8082"}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server 127.0.0.1:8081 max_fails=3", "server [::1]:8082 max_fails=3", "listen 127.0.0.1:8080;",
		"add_header Retry-After 5 always;", "proxy_buffering off;", "non_idempotent"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("Render(...) lacks %q", want)
		}
	}
	// nginx itself accepts it, when it is installed (TestBehindNginx in
	// cmd/parkd runs it, and fails in CI without it).
	if bin, err := exec.LookPath("/usr/sbin/nginx"); err == nil {
		path := filepath.Join(prefix, "nginx.conf")
		os.WriteFile(path, conf, 0o644)
		out, err := exec.Command(bin, "-t", "-p", prefix, "-e", filepath.Join(prefix, "error.log"), "-c", path,
			"-g", "pid "+filepath.Join(prefix, "nginx.pid")+";").CombinedOutput()
		if err != nil {
			t.Errorf("nginx -t: %v\n%s", err, out)
		}
	}

	for _, bad := range []Config{
		{Listen: "", Upstreams: []string{"127.0.0.1:1"}, Prefix: prefix},
		{Listen: "80", Prefix: prefix},
		{Listen: "80; include /etc/passwd", Upstreams: []string{"127.0.0.1:1"}, Prefix: prefix},
		{Listen: "80", Upstreams: []string{"127.0.0.1:1; evil"}, Prefix: prefix},
		{Listen: "80", Upstreams: []string{"127.0.0.1:1"}, Prefix: "relative"},
	} {
		if _, err := Render(bad); err == nil {
			t.Errorf("Render(%+v) = nil error; want one", bad)
		}
	}
}
