// Package app wires Basalt together: it parses the configuration, opens
// the store, starts the services and the HTTP server, and stops them in
// reverse order. cmd/basalt calls Run; tests call the same Run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
)

// Version is the release, set at build time with
// -ldflags "-X basalt.dev/basalt/app.Version=v1.2.3".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `Basalt: a complete backend in one binary.

Usage:
  basalt serve   [--data DIR] [--db URL] [--http ADDR] [options]
  basalt keys create --name NAME --role admin|service [--tenant T] [--data DIR | --db URL]
  basalt migrate [up|status] [--data DIR | --db URL]
  basalt bench   [--records N] [--concurrency N] [--duration D]
  basalt bench realtime [--connections N] [--subscribers N] [--rate N]
  basalt secret                      # prints a new --secret-key
  basalt version

Every flag also reads BASALT_<FLAG> from the environment (BASALT_DATA,
BASALT_DB, BASALT_HTTP, ...). Run "basalt <command> -h" for its flags.
`

// Run runs the command in args (args[0] is the program name). It returns
// when the command is done or, for serve, when ctx ends and the server
// has shut down.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, getenv, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, getenv, stdout, stderr)
	case "bench":
		err = runBench(ctx, rest, getenv, stdout, stderr)
	case "secret":
		fmt.Fprintln(stdout, newSecretKey())
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "basalt", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// storeFlags are the options of commands that only open the store.
var storeFlags = map[string]bool{"data": true, "db": true, "sqlite-sync": true, "db-max-conns": true, "log-level": true}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
