// Package cputime reports benchmarks in processor time besides wall time.
// On a machine shared with other work a benchmark waits for a core, and
// its ns/op grows with the load; the processor time the process used per
// iteration grows much less, so figures from a busy machine still compare.
package cputime

import "testing"

// Report starts counting the processor time of the process, user and
// system, the garbage collector's included, and returns a function that
// reports it per iteration of b as cpu-ns/op. Call Report just before
// the benchmark loop and the function just after it.
func Report(b *testing.B) func() {
	start, ok := used()
	return func() {
		if end, ok2 := used(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
