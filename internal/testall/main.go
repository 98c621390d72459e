// Command testall runs Basalt's whole test suite, as the README and CI do:
//
//	go run ./internal/testall
//
// It vets the code, runs every test, then runs the packages with
// concurrent code again under the race detector. The race detector needs
// cgo and a C compiler; without one it says so and skips that step,
// except in CI (CI=true), where a missing compiler fails the run. The
// PostgreSQL suites run against BASALT_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test); without a server they skip,
// and in CI they fail. So do the NATS export tests, against
// BASALT_TEST_NATS (default nats://127.0.0.1:4222, with JetStream), and the Redis tests, against BASALT_TEST_REDIS (default redis://127.0.0.1:6379/0). The realtime client tests (cmd/basalt) need
// Node.js and npm, and Debian's Chromium at /usr/bin/chromium; without
// them they skip, and in CI they fail, after this command has tried to
// install Chromium with apt-get.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// racePackages hold the code that runs concurrently: the stores and
// their group commit and event reader, the HTTP server and the app, the
// realtime hub, the rate limiter, the caches and the quota meter.
var racePackages = []string{"./store/...", "./api/...", "./app/...", "./auth/...", "./records/...", "./realtime/...", "./ratelimit/...", "./cache/...", "./quota/..."}

func main() {
	ci := os.Getenv("CI") == "true"
	if ci {
		if err := installChromium(); err != nil {
			fail(err.Error())
		}
	}
	steps := [][]string{
		{"go", "vet", "./..."},
		{"go", "test", "-count=1", "-timeout=10m", "./..."},
	}
	if raceAvailable() {
		steps = append(steps, append([]string{"go", "test", "-race", "-count=1", "-timeout=10m"}, racePackages...))
	} else if ci {
		fail("the race detector needs cgo and a C compiler (gcc or clang); CI must run it")
	} else {
		fmt.Println("testall: SKIP race detector: it needs cgo and a C compiler (gcc or clang), not found")
	}
	for _, step := range steps {
		fmt.Println("testall:", strings.Join(step, " "))
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fail(fmt.Sprintf("%s: %v", strings.Join(step, " "), err))
		}
	}
	fmt.Println("testall: PASS")
}

func raceAvailable() bool {
	out, err := exec.Command("go", "env", "CGO_ENABLED", "CC").Output()
	if err != nil {
		return false
	}
	lines := strings.Fields(string(out))
	if len(lines) < 2 || lines[0] != "1" {
		return false
	}
	_, err = exec.LookPath(lines[1])
	return err == nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "testall: FAIL:", msg)
	os.Exit(1)
}

// installChromium installs Debian's chromium for the browser tests when
// it is missing. A machine that has no apt-get, or does not run this as
// root, keeps what it has, and the tests say what is missing.
func installChromium() error {
	if os.Getenv("BASALT_TEST_CHROMIUM") != "" {
		return nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		fmt.Println("testall: cannot install Chromium (needs apt-get as root); the browser tests will fail")
		return nil
	}
	for _, step := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", "chromium"}} {
		fmt.Println("testall:", strings.Join(step, " "))
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v", strings.Join(step, " "), err)
		}
	}
	return nil
}
