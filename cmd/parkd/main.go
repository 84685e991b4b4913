// Command parkd runs the parking reservation service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // lots name IANA time zones; a machine without a zone database still knows them
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "parkd:", err)
		stop()
		os.Exit(exitCode(err)) // 2: the command line was wrong; 1: the work failed
	}
}
