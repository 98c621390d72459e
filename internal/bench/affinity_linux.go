package bench

import (
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// splitCPUs divides the processors this process may run on: the first
// n for a server, the rest for the load tool. It returns the server's
// as a taskset list ("0,1") and the tool's; ok is false when there are
// not more than n, or taskset(1) is missing, and then nothing is split.
func splitCPUs(n int) (server string, tool []int, ok bool) {
	var set unix.CPUSet
	if n < 1 || unix.SchedGetaffinity(0, &set) != nil {
		return "", nil, false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", nil, false
	}
	var cpus []string
	for c := 0; c < len(set)*64; c++ {
		if !set.IsSet(c) {
			continue
		}
		if len(cpus) < n {
			cpus = append(cpus, strconv.Itoa(c))
		} else {
			tool = append(tool, c)
		}
	}
	if len(tool) == 0 {
		return "", nil, false
	}
	return strings.Join(cpus, ","), tool, true
}

// pinSelf keeps every thread of this process to cpus; threads started
// later inherit it from the thread that starts them.
func pinSelf(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}
