package bench

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// Print writes the report as a Markdown table, with each rate as a ratio
// of the ceiling's.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d records, concurrency %d, %s a scenario, GOMAXPROCS %d, %s/%s\n\n",
		r.Options.Records, r.Options.Concurrency, r.Options.Duration, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, "| scenario | requests | req/s | p50 | p99 | errors | server CPU/req | req/s vs ceiling | CPU/req vs ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var ceiling Result
	for i, res := range r.Results {
		if i == 0 {
			ceiling = res
		}
		cpuRatio := "n/a"
		if ceiling.CPU > 0 && res.CPU > 0 {
			cpuRatio = fmt.Sprintf("%.0f %%", 100*float64(ceiling.CPU)/float64(res.CPU))
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %d | %s | %.0f %% | %s |\n", res.Name, res.Requests, res.Rate,
			round(res.P50), round(res.P99), res.Errors, res.CPU.Round(100*time.Nanosecond), 100*res.Rate/ceiling.Rate, cpuRatio)
	}
	fmt.Fprintln(w, "\nCPU/req vs ceiling is the ceiling's processor time per request over the scenario's: the share of the ceiling's efficiency.")
	fmt.Fprintf(w, "\nServer RSS: %s idle after a restart holding every record, %s after the scenarios.\n", mib(r.IdleRSS), mib(r.LoadedRSS))
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func mib(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
