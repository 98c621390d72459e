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

// runBench runs "basalt bench", the load tool, "basalt bench ceiling",
// the bare baseline server it measures against, "basalt bench
// realtime", its realtime scenarios, or "basalt bench overload", load
// shedding under more requests than the server can serve.
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
	if len(args) > 0 && args[0] == "realtime" {
		return runBenchRealtime(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "overload" {
		return runBenchOverload(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("basalt bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.Options{Log: stderr}
	fs.IntVar(&o.Records, "records", 10000, "records to seed")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "requests in flight in each scenario")
	only := benchFlags(fs, &o, "directory to save a CPU profile of the server in each scenario",
		"comma-separated parts of scenario names to run (the ceiling always runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Only = splitList(*only)
	if o.Records < 1 || o.Concurrency < 1 || o.Duration <= 0 {
		return fmt.Errorf("bench: --records, --concurrency and --duration must be positive")
	}
	temporary := o.Data == ""
	rep, err := bench.Run(ctx, o)
	if rep != nil {
		o = rep.Options
	}
	return benchReport(temporary, o.Data, err, func() { rep.Print(stdout) })
}

// benchFlags declares the flags every bench mode has, with the usage of
// --profile and --only, and returns --only.
func benchFlags(fs *flag.FlagSet, o *bench.Options, profile, only string) *string {
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured length of each scenario")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	fs.StringVar(&o.Data, "data", "", "data directory (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.ProfileDir, "profile", "", profile)
	return fs.String("only", "", only)
}

// benchReport prints a run's report unless it failed, and removes the
// data directory it made if it was given none.
func benchReport(temporary bool, data string, err error, print func()) error {
	if temporary && data != "" {
		defer os.RemoveAll(data)
	}
	if err != nil {
		return err
	}
	print()
	return nil
}

// runBenchRealtime runs "basalt bench realtime".
func runBenchRealtime(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("basalt bench realtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.RealtimeOptions{Options: bench.Options{Log: stderr}}
	fs.IntVar(&o.Connections, "connections", 10000, "idle streams held open at once in the memory scenario")
	fs.IntVar(&o.Traffic, "traffic", 1100, "writes delivered to every stream in the memory scenario before its memory is read again (more than the default --realtime-buffer, so each subscriber's buffer has been used once)")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "subscribers of one collection in the latency and throughput scenarios")
	fs.IntVar(&o.Rate, "rate", 200, "writes per second in the latency scenarios")
	fs.IntVar(&o.Writers, "writers", 8, "writers back to back in the throughput scenario")
	only := benchFlags(fs, &o.Options, "directory to save profiles of the server: heap and goroutines with the streams open and after the writes, CPU and a 2 s execution trace in each scenario",
		"comma-separated parts of scenario names to run: memory, latency, baseline, throughput")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Only = splitList(*only)
	if o.Connections < 1 || o.Traffic < 1 || o.Subscribers < 1 || o.Rate < 1 || o.Writers < 1 || o.Duration <= 0 {
		return fmt.Errorf("bench realtime: --connections, --traffic, --subscribers, --rate, --writers and --duration must be positive")
	}
	temporary := o.Data == ""
	rep, err := bench.RunRealtime(ctx, o)
	if rep != nil {
		o = rep.Options
	}
	return benchReport(temporary, o.Data, err, func() { rep.Print(stdout) })
}

// runBenchOverload runs "basalt bench overload".
func runBenchOverload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("basalt bench overload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.OverloadOptions{Options: bench.Options{Log: stderr}}
	fs.IntVar(&o.Records, "records", 10000, "records to seed")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "requests in flight while the capacity is measured")
	fs.Float64Var(&o.Unloaded, "unloaded", 0.25, "offered rate of the unloaded phases, as a share of the capacity")
	fs.Float64Var(&o.Factor, "factor", 3, "offered rate of the overload phase, as a multiple of the capacity")
	fs.IntVar(&o.ServerProcs, "server-procs", 1, "GOMAXPROCS of the server (0: all processors), leaving the load tool the rest to offer several times what the server serves")
	fs.StringVar(&o.DB, "db", "", "PostgreSQL URL of an empty database to run on (default: SQLite in --data); BASALT_SECRET_KEY is made if unset")
	fs.BoolVar(&o.Pin, "pin", true, "run the server on its own --server-procs processors and the load tool on the rest (Linux, with taskset)")
	fs.DurationVar(&o.ShedDelay, "shed-delay", 2*time.Millisecond, "the --shed-delay of the third server")
	fs.StringVar(&o.Request, "request", "id", "the request made: id (GET by id, the cheapest) or list (a page of 500 records filtered and sorted on an index)")
	only := benchFlags(fs, &o.Options, "directory to save a CPU profile of the server in each phase",
		"comma-separated servers to run, by a part of their names: \"shedding off\", \"shedding on\", \"shedding on, --shed-delay D\" (off, on, delay)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Only = splitList(*only)
	if o.Records < 1 || o.Concurrency < 1 || o.Duration <= 0 || o.Unloaded <= 0 || o.Factor <= 0 || o.ServerProcs < 0 || o.ShedDelay <= 0 {
		return fmt.Errorf("bench overload: --records, --concurrency, --duration, --unloaded, --factor and --shed-delay must be positive")
	}
	if o.Request != "id" && o.Request != "list" {
		return fmt.Errorf("bench overload: --request must be id or list")
	}
	temporary := o.Data == ""
	rep, err := bench.RunOverload(ctx, o)
	if rep != nil {
		o = rep.Options
	}
	return benchReport(temporary, o.Data, err, func() { rep.Print(stdout) })
}
