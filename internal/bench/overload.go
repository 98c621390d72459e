package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// OverloadOptions configure "basalt bench overload": what load shedding
// does for GET by id offered more than the server can serve.
type OverloadOptions struct {
	Options
	// Unloaded and Factor are the offered rates of the unloaded and the
	// overload phases, as multiples of the measured capacity.
	Unloaded, Factor float64
	// ServerProcs is the server's GOMAXPROCS (0: the machine's). With
	// fewer processors than the machine has, the load tool keeps enough
	// of it to offer several times what the server can serve.
	ServerProcs int
	// Request is what every request asks: "id" (GET by id, the cheapest
	// request) or "list" (a page of 500 records filtered and sorted on
	// an index, from a random value: a read that does real work).
	Request string
	// Pin runs the server on its own ServerProcs processors and keeps
	// the load tool to the others (Linux, with taskset), so that neither
	// takes processor time from the other: on a shared processor the
	// server's requests would wait while the tool runs, which no
	// shedding can help.
	Pin bool
	// ShedDelay is the --shed-delay of the third server.
	ShedDelay time.Duration
	// Pinned reports how the processors were divided, if they were, and
	// ToolProcs the load tool's GOMAXPROCS during the run.
	Pinned    string
	ToolProcs int
}

// OverloadReport is the outcome of "basalt bench overload".
type OverloadReport struct {
	Options OverloadOptions
	// Capacity is the rate that the server without shedding sustains at
	// fixed concurrency: the unit of the offered rates.
	Capacity float64
	Runs     []OverloadRun
}

// OverloadRun is one server configuration under the three phases.
type OverloadRun struct {
	Name     string
	Capacity float64 // this server's own, at fixed concurrency
	// Unloaded and Overload are the phases at Unloaded and Factor times
	// the capacity; After is the unloaded rate again, right after.
	Unloaded, Overload, After Phase
	// LimitAfterOverload and LimitAfter are basalt_shed_limit at the end
	// of the overload and after phases (-1 with shedding off).
	LimitAfterOverload, LimitAfter float64
}

// Phase measures requests offered at a constant rate, however the server
// keeps up (an open loop, as real clients arrive).
type Phase struct {
	Offered      float64 // requests sent per second
	Sent         int
	Admitted     int // answered 2xx
	Shed         int // answered 503
	Failed       int // anything else: other statuses, timeouts, refused connections
	P50, P99     time.Duration
	ShedP99      time.Duration
	AdmittedRate float64       // 2xx a second
	CPU          time.Duration // the server's processor time over the phase
	ToolCPU      time.Duration // the load tool's, over the same time
	// Elapsed is the phase's length with the wait for the last answers,
	// which a backlog makes longer than the time requests were sent.
	Elapsed time.Duration
	// BySecond is the admitted requests' p99 in each second of sending,
	// by when they were sent: whether the tail is the flood's first
	// moments or spread over all of it.
	BySecond []time.Duration
}

// refusalCost estimates the server's processor time per refused request
// from the overload phase, taking the served ones at their cost in the
// unloaded phase; 0 when nothing was refused.
func (r *OverloadRun) refusalCost() time.Duration {
	o, u := r.Overload, r.Unloaded
	if o.Shed == 0 || u.Admitted == 0 {
		return 0
	}
	served := u.CPU / time.Duration(u.Admitted)
	return max(0, (o.CPU-served*time.Duration(o.Admitted))/time.Duration(o.Shed))
}

// RunOverload performs the overload benchmark.
func RunOverload(ctx context.Context, o OverloadOptions) (*OverloadReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.ShedDelay <= 0 {
		o.ShedDelay = 2 * time.Millisecond // as "basalt bench overload" defaults it
	}
	rep := &OverloadReport{Options: o}
	// Without shedding, an overloaded server holds a connection for each
	// request waiting; the tool opens up to maxWorkers.
	if err := raiseOpenFiles(2*maxWorkers + 1000); err != nil {
		return rep, err
	}
	if o.DB != "" && os.Getenv("BASALT_SECRET_KEY") == "" {
		o.Env = append(o.Env, "BASALT_SECRET_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32))) // a throwaway database
	}
	key, ids, err := o.seeded(ctx)
	if err != nil {
		return rep, err
	}
	if o.ServerProcs > 0 {
		o.Env = append(o.Env, "GOMAXPROCS="+strconv.Itoa(o.ServerProcs))
	}
	o.ToolProcs = runtime.GOMAXPROCS(0)
	if o.Pin && o.ServerProcs > 0 {
		// The tool stays on its processors for the rest of the process,
		// which ends with the run.
		if server, tool, ok := splitCPUs(o.ServerProcs); ok {
			if err := pinSelf(tool); err != nil {
				return rep, fmt.Errorf("bench: pin the load tool: %w", err)
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(len(tool)))
			o.Wrap = []string{"taskset", "-c", server}
			o.Pinned, o.ToolProcs = fmt.Sprintf("server on processor %s, load tool on the other %d", server, len(tool)), len(tool)
		}
	}
	rep.Options = o
	for _, srv := range o.servers() {
		if !o.wants(srv.name) {
			continue
		}
		run, err := o.overloadRun(ctx, rep, srv.name, srv.env, key, ids)
		if err != nil {
			return rep, err
		}
		rep.Runs = append(rep.Runs, *run)
	}
	return rep, nil
}

// servers are the configurations measured, each with the environment
// that makes it.
func (o *OverloadOptions) servers() []struct{ name, env string } {
	return []struct{ name, env string }{
		{"shedding off", "BASALT_SHED=false"},
		{"shedding on", "BASALT_SHED=true BASALT_SHED_DELAY=0"},
		{"shedding on, --shed-delay " + o.ShedDelay.String(), "BASALT_SHED=true BASALT_SHED_DELAY=" + o.ShedDelay.String()},
	}
}

// toolMemoryLimit is the heap at which the load tool collects garbage
// during a phase after all.
const toolMemoryLimit = 4 << 30

// maxWorkers bounds the requests the tool has in flight at once.
const maxWorkers = 8000

func (o *OverloadOptions) overloadRun(ctx context.Context, rep *OverloadReport, name, env string, key string, ids []string) (*OverloadRun, error) {
	so := *o
	so.Env = append(slices.Clip(o.Env), strings.Fields(env)...)
	srv, err := so.start(ctx, "serve")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	target := o.target(srv.url, key, ids)
	fmt.Fprintf(o.Log, "bench: %s: capacity at concurrency %d\n", name, o.Concurrency)
	closedLoop(target, name, o.Concurrency, o.Warmup)
	run := &OverloadRun{Name: name, Capacity: closedLoop(target, name, o.Concurrency, o.Duration).Throughput}
	if rep.Capacity == 0 {
		rep.Capacity = run.Capacity
	}
	// A pause, so that the unloaded phase finds the server as a quiet
	// spell would leave it, not still answering the capacity run; the
	// after phase follows the overload at once, to show the recovery.
	time.Sleep(time.Second)
	phase := func(what string, share float64) Phase {
		rate := share * rep.Capacity
		fmt.Fprintf(o.Log, "bench: %s: %s, %.0f req/s for %s\n", name, what, rate, o.Duration)
		profiled := make(chan struct{})
		go func() {
			defer close(profiled)
			if srv.pprof != "" {
				profile(srv.pprof, o.Duration-time.Second, filepath.Join(o.ProfileDir, slug(name+" "+what)+".pprof"), o.Log)
			}
		}()
		cpu0, tool0 := cpuTime(srv.cmd.Process.Pid), cpuTime(os.Getpid())
		start := time.Now()
		p := openLoop(target, name, rate, o.Duration)
		p.CPU, p.ToolCPU, p.Elapsed = cpuTime(srv.cmd.Process.Pid)-cpu0, cpuTime(os.Getpid())-tool0, time.Since(start)
		<-profiled
		return p
	}
	run.Unloaded = phase("unloaded", o.Unloaded)
	run.Overload = phase("overload", o.Factor)
	run.LimitAfterOverload = shedLimit(srv.url)
	run.After = phase("after", o.Unloaded)
	run.LimitAfter = shedLimit(srv.url)
	return run, nil
}

// target returns the requests of o.Request to the server at url.
func (o *OverloadOptions) target(url, key string, ids []string) vegeta.Targeter {
	h := http.Header{"Authorization": {"Bearer " + key}, "Accept-Encoding": {"identity"}}
	if o.Request == "list" {
		return listPage(url, h, 500)
	}
	return byID(url+"/api/collections/posts/records/", h, ids)
}

// openLoop offers rate requests a second for d and sorts the answers.
//
// The tool does not collect its garbage while it measures (up to a
// memory limit): on its one or few processors, a collection's mark
// phase would delay the reading of answers and add its own milliseconds
// to the latencies measured.
func openLoop(tr vegeta.Targeter, name string, rate float64, d time.Duration) Phase {
	runtime.GC()
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(toolMemoryLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	a := vegeta.NewAttacker(vegeta.Workers(64), vegeta.MaxWorkers(maxWorkers), vegeta.Connections(maxWorkers),
		vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second), vegeta.MaxBody(0))
	var admitted, shed []int64
	bySecond := make([][]int64, int(d.Seconds()+0.5))
	var p Phase
	start := time.Now() // the attack sends its first request at once
	for res := range a.Attack(tr, vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}, d, name) {
		p.Sent++
		switch {
		case res.Error == "" && res.Code/100 == 2:
			admitted = append(admitted, int64(res.Latency))
			if s := int(res.Timestamp.Sub(start).Seconds()); s >= 0 && s < len(bySecond) {
				bySecond[s] = append(bySecond[s], int64(res.Latency))
			}
		case res.Code == http.StatusServiceUnavailable:
			shed = append(shed, int64(res.Latency))
		default:
			p.Failed++
		}
	}
	p.Offered = float64(p.Sent) / d.Seconds()
	p.Admitted, p.Shed = len(admitted), len(shed)
	p.AdmittedRate = float64(p.Admitted) / d.Seconds()
	slices.Sort(admitted)
	slices.Sort(shed)
	p.P50, p.P99 = quantile(admitted, 0.5), quantile(admitted, 0.99)
	p.ShedP99 = quantile(shed, 0.99)
	for _, s := range bySecond {
		slices.Sort(s)
		p.BySecond = append(p.BySecond, quantile(s, 0.99))
	}
	return p
}

var limitLine = regexp.MustCompile(`(?m)^basalt_shed_limit (\S+)$`)

// shedLimit reads the server's load-shedding limit, -1 without one.
func shedLimit(url string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := limitLine.FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// Print writes the report as Markdown: each phase of each server, with
// the admitted requests' p99 as a multiple of the same server's unloaded
// p99, measured minutes apart in the same run.
func (r *OverloadReport) Print(w io.Writer) {
	o := r.Options
	procs := "the machine's"
	if o.ServerProcs > 0 {
		procs = strconv.Itoa(o.ServerProcs)
	}
	store := "SQLite"
	if o.DB != "" {
		store = "PostgreSQL"
	}
	request := "GET by id"
	if o.Request == "list" {
		request = "pages of 500 records, filtered and sorted on an index,"
	}
	fmt.Fprintf(w, "Overload: %s of %d records on %s; server GOMAXPROCS %s, load tool GOMAXPROCS %d, %s/%s; %s a phase.\n\n",
		request, o.Records, store, procs, o.ToolProcs, runtime.GOOS, runtime.GOARCH, o.Duration)
	if o.Pinned != "" {
		fmt.Fprintf(w, "Processors divided: %s.\n\n", o.Pinned)
	}
	fmt.Fprintf(w, "Capacity (shedding off, concurrency %d): **%.0f req/s**. Offered: unloaded %.0f %% of it, overload %.0f %%, after: the unloaded rate again.\n\n",
		o.Concurrency, r.Capacity, 100*o.Unloaded, 100*o.Factor)
	fmt.Fprintln(w, "| server | phase | offered req/s | admitted req/s | admitted p50 | admitted p99 | p99 vs unloaded | shed | shed p99 | failed | limit at end | server cores | server CPU/answer | tool cores |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, run := range r.Runs {
		row := func(phase string, p Phase, limit float64) {
			ratio, lim := "n/a", ""
			if run.Unloaded.P99 > 0 && p.Admitted > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(p.P99)/float64(run.Unloaded.P99))
			}
			if limit >= 0 {
				lim = fmt.Sprintf("%.0f", limit)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s | %s | %s | %.1f %% | %s | %d | %s | %.2f | %s | %.2f |\n", run.Name, phase, p.Offered, p.AdmittedRate,
				round(p.P50), round(p.P99), ratio, 100*float64(p.Shed)/float64(max(p.Sent, 1)), round(p.ShedP99), p.Failed, lim,
				p.CPU.Seconds()/p.Elapsed.Seconds(), (p.CPU / time.Duration(max(p.Admitted+p.Shed, 1))).Round(100*time.Nanosecond),
				p.ToolCPU.Seconds()/p.Elapsed.Seconds())
		}
		row("unloaded", run.Unloaded, -1)
		row("overload", run.Overload, run.LimitAfterOverload)
		row("after", run.After, run.LimitAfter)
	}
	fmt.Fprintln(w, "\nAdmitted: answered 2xx; shed: answered 503 overloaded; failed: anything else (timeouts, refused connections). Latencies are the load tool's, from sending a request to reading its answer.")
	fmt.Fprintln(w, "Server cores and tool cores: the processor time of the server and of the load tool per second of the phase, until the last answer; a tool near its GOMAXPROCS adds its own waits to the latencies.")
	for _, run := range r.Runs {
		fmt.Fprintf(w, "\n%s: capacity %.0f req/s at concurrency %d.", run.Name, run.Capacity, o.Concurrency)
		var secs []string
		for _, d := range run.Overload.BySecond {
			secs = append(secs, round(d).String())
		}
		fmt.Fprintf(w, " Admitted p99 in each second of the overload: %s.", strings.Join(secs, ", "))
		u := run.Unloaded
		if c := run.refusalCost(); c > 0 && u.Admitted > 0 {
			served := u.CPU / time.Duration(u.Admitted)
			fmt.Fprintf(w, " A served request costs the server %s of processor time (unloaded phase), a refused one about %s (overload phase): %.0f %% of it.",
				served.Round(100*time.Nanosecond), c.Round(100*time.Nanosecond), 100*float64(c)/float64(served))
		}
	}
	fmt.Fprintln(w)
}
