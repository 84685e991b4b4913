// Package nginx makes the nginx configuration that puts nginx in front of
// several parkd instances, from the template beside it (parkd.conf.tmpl). The
// same function makes the configuration `parkd nginx-config` prints, the one
// deploy/cluster runs and the one the tests run behind a real nginx.
package nginx

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed parkd.conf.tmpl
var confTemplate string

var conf = template.Must(template.New("parkd.conf").Parse(confTemplate))

// Config is what the configuration is made from.
type Config struct {
	// Listen is nginx's address, as nginx's listen directive takes it
	// ("8080", "127.0.0.1:8080").
	Listen string
	// Upstreams are the parkd instances' addresses, host:port.
	Upstreams []string
	// Prefix is nginx's working directory: its logs and temporary files go
	// under it, so an unprivileged user can run it. It must be absolute.
	Prefix string
	// RetryAfter is the Retry-After, in seconds, of the 503 nginx answers
	// itself when no instance can; parkd's own 503s carry parkd's.
	RetryAfter int
}

// Render returns the configuration for c.
func Render(c Config) ([]byte, error) {
	if c.Listen == "" || strings.ContainsAny(c.Listen, " ;{}'\"") {
		return nil, fmt.Errorf("nginx: listen address %q is empty or not an address", c.Listen)
	}
	if len(c.Upstreams) == 0 {
		return nil, errors.New("nginx: no upstream parkd instance")
	}
	for _, u := range c.Upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil || strings.ContainsAny(u, " ;{}") {
			return nil, fmt.Errorf("nginx: upstream %q is not host:port", u)
		}
	}
	if !filepath.IsAbs(c.Prefix) || strings.ContainsAny(c.Prefix, " ;{}'\"") {
		return nil, fmt.Errorf("nginx: prefix %q must be an absolute path without spaces or quotes", c.Prefix)
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5
	}
	var b bytes.Buffer
	if err := conf.Execute(&b, c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
