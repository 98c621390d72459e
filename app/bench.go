package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"basalt.dev/basalt/internal/bench"
)

// runBench runs "basalt bench", the load tool, or "basalt bench ceiling",
// the bare baseline server it measures against.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ceiling" {
		cfg, _, err := parseConfig("bench ceiling", args[1:], getenv, stderr, map[string]bool{"data": true, "http": true, "pprof": true})
		if err != nil {
			return err
		}
		if cfg.Pprof != "" {
			if err := servePprof(ctx, cfg.Pprof, newLogger(cfg, stderr)); err != nil {
				return err
			}
		}
		return bench.ServeCeiling(ctx, cfg.Data, cfg.HTTP, stdout)
	}
	fs := flag.NewFlagSet("basalt bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.Options{Log: stderr}
	fs.IntVar(&o.Records, "records", 10000, "records to seed")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "requests in flight in each scenario")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each scenario")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	fs.StringVar(&o.Data, "data", "", "data directory (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.ProfileDir, "profile", "", "directory to save a CPU profile of the server in each scenario")
	only := fs.String("only", "", "comma-separated parts of scenario names to run (the ceiling always runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Only = splitList(*only)
	if o.Records < 1 || o.Concurrency < 1 || o.Duration <= 0 {
		return fmt.Errorf("bench: --records, --concurrency and --duration must be positive")
	}
	temporary := o.Data == ""
	rep, err := bench.Run(ctx, o)
	if temporary && rep != nil {
		defer os.RemoveAll(rep.Options.Data)
	}
	if err != nil {
		return err
	}
	rep.Print(stdout)
	return nil
}
