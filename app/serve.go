package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, err := parseConfig("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", rest[0])
	}
	return Serve(ctx, cfg, stdout, stderr)
}

// Serve runs the server with cfg until ctx ends, then shuts it down:
// it stops accepting, lets in-flight requests finish within
// ShutdownTimeout, and closes the database.
func Serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	lw := newLogWriter(stderr)
	defer lw.Close()
	log := newLogger(cfg, lw)
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP, err)
	}
	defer ln.Close()
	if cfg.PublicURL == "" {
		cfg.PublicURL = listenURL(ln.Addr())
	}
	a, err := newApp(ctx, cfg, log, lw)
	if err != nil {
		return err
	}
	defer a.Close()
	// Start-up leaves garbage an idle server would hold until its next
	// collection, minutes later: above all the sign-in timing hash, an
	// argon2id that takes 19 MiB by design. Hand it back now.
	debug.FreeOSMemory()
	hs := &http.Server{
		Handler:           a.Handler(),
		ConnContext:       a.ConnContext,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "Basalt %s serving http://%s (%s)\n", version(), ln.Addr(), cfg.Redacted())
	log.Info("serving", "addr", ln.Addr().String(), "store", cfg.Redacted(), "version", version())

	if cfg.Pprof != "" {
		if err := servePprof(ctx, cfg.Pprof, log); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(a.Listener(ln)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	a.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing connections", "err", err)
		hs.Close()
	}
	log.Info("stopped")
	return nil
}

// followSchema applies collection changes made by other nodes, which
// arrive as OpSchema events in the log after position pos.
func followSchema(ctx context.Context, st store.Store, recs *records.Service, pos int64, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for {
			events, err := st.EventList(ctx, &store.EventListParams{AllTenants: true, After: pos, Limit: 1000})
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					log.Error("schema follower: read events", "err", err)
				}
				break
			}
			for i := range events {
				if events[i].Op == basalt.OpSchema {
					recs.ApplySchemaEvent(&events[i])
				}
				pos = events[i].Position
			}
			if len(events) < 1000 {
				break
			}
		}
	}
}

// listenURL is the URL of the listener, for the links the server mails
// when --public-url is not set: the port actually taken (--http with
// port 0 picks one), and localhost for an unspecified address.
func listenURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// servePprof serves the Go profiler on its own listener, never on the
// API's, so it is reachable only where the operator chose.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s for pprof: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	go srv.Serve(ln)
	log.Info("profiler serving", "addr", ln.Addr().String())
	return nil
}
