// Command basalt is a complete backend in one binary. See "basalt help".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"basalt.dev/basalt/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "basalt:", err)
		os.Exit(1)
	}
}
