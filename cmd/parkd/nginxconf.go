package main

import (
	"context"
	"path/filepath"

	"parkd/deploy/nginx"
	"parkd/internal/httpapi"
)

func nginxCommand() command {
	return command{name: "nginx-config", summary: "print an nginx configuration that puts nginx in front of several parkd instances",
		help: "Prints a whole nginx.conf (from deploy/nginx/parkd.conf.tmpl): an upstream of the parkd instances with\n" +
			"passive health checks, retries only of requests that are safe to repeat, WebSocket and Server-Sent\n" +
			"Events passed through, and X-Forwarded-For, X-Forwarded-Proto and X-Request-Id set. Start the instances\n" +
			"with --trusted-proxies naming nginx's address. docs/operations.md explains it.",
		define: func(fs *flagSet, a *app) func(context.Context, []string) error {
			var listen, prefix string
			var upstreams []string
			fs.String(&listen, "listen", "", "8080", "nginx's address, as nginx's listen directive takes it")
			fs.define(listValue{&upstreams}, "upstreams", "", "", "the parkd instances, comma-separated host:port").Required()
			fs.String(&prefix, "prefix", "", "/var/lib/parkd-nginx", "nginx's directory for its logs and temporary files (absolute)")
			return func(context.Context, []string) error {
				conf, err := nginx.Render(nginx.Config{Listen: listen, Upstreams: upstreams, Prefix: filepath.Clean(prefix),
					RetryAfter: httpapi.RetryAfterSeconds})
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(conf)
				return err
			}
		}}
}
