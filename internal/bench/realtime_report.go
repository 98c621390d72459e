package bench

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// Print writes the report as Markdown: the memory a stream costs the
// server over its idle state, and each scenario's delays against the
// one-subscriber baseline.
func (r *RealtimeReport) Print(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "Realtime over SSE: GOMAXPROCS %d, %s/%s\n\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	if m := r.Memory; m != nil {
		r.printMemory(w, m)
	}
	if len(r.Results) == 0 {
		return
	}
	fmt.Fprintf(w, "Warm-up %s, then %s measured a scenario. ", o.Warmup, o.Duration)
	fmt.Fprintln(w, "Delay from a write's request to its event at each subscriber (an upper bound on commit to delivery), and from the write's response (a lower bound: an event that came first counts 0):")
	fmt.Fprintln(w)
	printDeliveryHeader(w, "scenario")
	var base *RealtimeResult
	for i := range r.Results {
		res := &r.Results[i]
		if base == nil && res.Subscribers == 1 {
			base = res
		}
		var b *Delivery
		if base != nil {
			b = &base.Delivery
		}
		printDelivery(w, res.Name, &res.Delivery, b)
	}
	printDeliveryNotes(w)
}

func (r *RealtimeReport) printMemory(w io.Writer, m *MemoryResult) {
	n := float64(m.Streams)
	fmt.Fprintf(w, "%s, opened in %s (64 at a time), then %d writes, each delivered to every stream:\n\n", m.Name, m.OpenTime.Round(time.Millisecond), m.Traffic.Writes)
	fmt.Fprintln(w, "| server | RSS | RSS vs idle | Go heap in use | goroutine stacks | goroutines |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	row := func(name string, rss int64, st runtimeStats) {
		fmt.Fprintf(w, "| %s | %s | %.1f× | %s | %s | %.0f |\n", name, mib(rss), float64(rss)/float64(r.IdleRSS), mib(int64(st.HeapInuse)), mib(int64(st.StackInuse)), st.Goroutines)
	}
	perStream := func(name string, rss int64, st runtimeStats) {
		fmt.Fprintf(w, "| %s | %s | | %s | %s | %.2f |\n", name, kib(float64(rss-r.IdleRSS)/n), kib((st.HeapInuse-r.Idle.HeapInuse)/n),
			kib((st.StackInuse-r.Idle.StackInuse)/n), (st.Goroutines-r.Idle.Goroutines)/n)
	}
	row("idle (baseline)", r.IdleRSS, r.Idle)
	row(fmt.Sprintf("%d streams, just opened", m.Streams), m.OpenRSS, m.Open)
	row(fmt.Sprintf("%d streams, after the writes", m.Streams), m.WarmRSS, m.Warm)
	perStream("per stream, just opened", m.OpenRSS, m.Open)
	perStream("per stream, after the writes", m.WarmRSS, m.Warm)
	fmt.Fprintln(w, "\nThe writes, one at a time, each once every stream had nearly caught up (at most 64 behind):")
	fmt.Fprintln(w)
	printDeliveryHeader(w, "streams")
	printDelivery(w, fmt.Sprint(m.Streams), &m.Traffic, nil)
	fmt.Fprintln(w)
}

func printDeliveryHeader(w io.Writer, first string) {
	fmt.Fprintf(w, "| %s | writes/s | events delivered/s | p50 | p99 | max | p50, p99 from response | p50 vs baseline | p99 vs baseline | write p50, p99 | server CPU/event | server cores | tool cores | other cores | missing | cut off |\n", first)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

// printDelivery writes one row, with its delays as ratios of base's if
// base is not nil.
func printDelivery(w io.Writer, name string, d, base *Delivery) {
	ratio := func(of func(*Delivery) time.Duration) string {
		if base == nil || of(base) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", float64(of(d))/float64(of(base)))
	}
	fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %s | %s | %s, %s | %s | %s | %s, %s | %s | %.2f | %.2f | %.2f | %d | %d |\n",
		name, d.WriteRate, d.DeliveredRate, round(d.P50), round(d.P99), round(d.Max), round(d.RespP50), round(d.RespP99),
		ratio(func(d *Delivery) time.Duration { return d.P50 }), ratio(func(d *Delivery) time.Duration { return d.P99 }),
		round(d.WriteP50), round(d.WriteP99), d.CPU.Round(100*time.Nanosecond), d.Cores, d.ToolCores, d.OtherCores, d.Expected-d.Delivered, d.CutOff)
	if d.Failed > 0 {
		fmt.Fprintf(w, "\n%s: %d writes failed.\n\n", name, d.Failed)
	}
}

func printDeliveryNotes(w io.Writer) {
	fmt.Fprintln(w, "\nServer, tool and other cores: processor time per second over the measured part and the drain after it, of the server, of this load tool, which shares the machine, and of everything else on the machine (other programs, and kernel work charged to no process). Missing: events of measured writes that never reached a subscriber; cut off: streams the server ended for falling behind.")
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
