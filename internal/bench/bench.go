// Package bench is Basalt's load tool ("basalt bench"). It starts a real
// server as a separate process, seeds a collection, and measures at fixed
// concurrency, in one run: GET by id, a list with an indexed filter and
// sort, and creates; and beside them the ceiling, a bare net/http handler
// serving the same point query from the same SQLite file. The load comes
// from vegeta.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a run.
type Options struct {
	Binary      string        // the basalt binary; default this executable
	Data        string        // data directory; default a new temporary one
	DB          string        // PostgreSQL URL; default SQLite in Data
	Records     int           // records to seed
	Concurrency int           // requests in flight during each scenario
	Duration    time.Duration // length of each scenario, after a warm-up
	Warmup      time.Duration
	Only        []string  // run only the scenarios whose names contain one of these
	ProfileDir  string    // if set, save a CPU profile of the server in each scenario here
	Log         io.Writer // progress
	Env         []string  // more of the server's environment, as KEY=value
	// Wrap, if set, is the command that runs the server, given the
	// binary and its arguments after its own ("taskset -c 0").
	Wrap []string
}

// Result is one scenario's measurement.
type Result struct {
	Name     string
	Requests uint64
	Rate     float64 // successful requests per second
	P50, P99 time.Duration
	Errors   uint64
	// CPU is the server's processor time per request (user and system):
	// steadier than the rate when load generator and server share cores.
	CPU time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Options Options
	Results []Result
	// IdleRSS is the server's resident memory, idle, just after a restart
	// with every record stored; LoadedRSS after the scenarios.
	IdleRSS, LoadedRSS int64
}

// Run performs a whole benchmark.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.DB != "" {
		return nil, errors.New("bench: the ceiling reads the SQLite file; run the bench on SQLite")
	}
	key, ids, err := o.seeded(ctx)
	if err != nil {
		return nil, err
	}
	// A fresh server, holding every record, idle: the memory a deployment
	// starts with.
	srv, err := o.start(ctx, "serve")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	time.Sleep(2 * time.Second)
	rep := &Report{Options: o, IdleRSS: rss(srv.cmd.Process.Pid)}
	ceiling, err := o.start(ctx, "bench", "ceiling")
	if err != nil {
		return nil, err
	}
	defer ceiling.stop()
	for _, sc := range scenarios(srv.url, ceiling.url, key, ids) {
		if !o.wants(sc.name) {
			continue
		}
		fmt.Fprintf(o.Log, "bench: %s for %s at concurrency %d\n", sc.name, o.Duration, o.Concurrency)
		target := srv
		if sc.ceiling {
			target = ceiling
		}
		rep.Results = append(rep.Results, attack(sc, o, target))
	}
	rep.LoadedRSS = rss(srv.cmd.Process.Pid)
	return rep, nil
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find the basalt binary: %w", err)
		}
		o.Binary = exe
	}
	if o.Data == "" {
		dir, err := os.MkdirTemp("", "basalt-bench")
		if err != nil {
			return err
		}
		o.Data = dir
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// seeded makes an admin key and, through a server it then stops, the
// posts collection with o.Records records: the store is ready for the
// scenarios. It returns the key and the records' ids.
func (o *Options) seeded(ctx context.Context) (key string, ids []string, err error) {
	if key, err = o.command(ctx, "keys", "create", "--name", "bench", "--role", "admin"); err != nil {
		return "", nil, err
	}
	key = strings.TrimSpace(key)
	// Seeding is not measured: its 32 writers must not be shed.
	so := *o
	so.Env = append(slices.Clip(o.Env), "BASALT_SHED=false")
	srv, err := so.start(ctx, "serve")
	if err != nil {
		return "", nil, err
	}
	defer srv.stop()
	ids, err = seed(ctx, srv.url, key, *o)
	return key, ids, err
}

func (o *Options) env() []string {
	return append(append(os.Environ(), "BASALT_DATA="+o.Data, "BASALT_DB="+o.DB), o.Env...)
}

func (o *Options) command(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, o.Binary, args...)
	cmd.Env = o.env()
	cmd.Stderr = o.Log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("bench: %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// process is a server the bench started.
type process struct {
	cmd   *exec.Cmd
	url   string
	pprof string // the profiler's address, when profiling
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

var urlPattern = regexp.MustCompile(`http://\S+`)

// start runs the binary with args and waits for the URL it prints. Its log
// goes to a file in the data directory, as a deployment's would.
func (o *Options) start(ctx context.Context, args ...string) (*process, error) {
	logFile, err := os.OpenFile(filepath.Join(o.Data, "bench-"+args[len(args)-1]+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args = append(args, "--http", "127.0.0.1:0")
	var pprofAddr string
	if o.ProfileDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", pprofAddr)
	}
	argv := slices.Concat(o.Wrap, []string{o.Binary}, args)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = o.env()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", args[0], err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("bench: %s printed no URL (see %s): %w", args[0], logFile.Name(), err)
	}
	go io.Copy(io.Discard, stdout)
	return &process{cmd: cmd, url: urlPattern.FindString(line), pprof: pprofAddr}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// seed creates the posts collection and o.Records records, concurrently,
// and returns their ids.
func seed(ctx context.Context, url, key string, o Options) ([]string, error) {
	coll := `{"name":"posts","fields":[{"name":"title","type":"text","required":true},{"name":"views","type":"number"},` +
		`{"name":"draft","type":"bool"},{"name":"body","type":"text"}],"indexes":[{"fields":["views"]}]}`
	if _, err := post(ctx, http.DefaultClient, url+"/api/collections", key, coll); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "bench: seeding %d records\n", o.Records)
	ids := make([]string, o.Records)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Records {
					return
				}
				body, err := post(ctx, http.DefaultClient, url+"/api/collections/posts/records", key, recordBody(i))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				var rec struct{ ID string }
				json.Unmarshal(body, &rec)
				ids[i] = rec.ID
			}
		})
	}
	wg.Wait()
	return ids, firstErr
}

func recordBody(i int) string {
	return fmt.Sprintf(`{"title":"Post number %d","views":%d,"draft":%t,"body":"A short body of text for record %d, as a blog post might have."}`,
		i, rand.IntN(100000), i%3 == 0, i)
}

func post(ctx context.Context, c *http.Client, url, key, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("bench: POST %s: %d %s", url, resp.StatusCode, data)
	}
	return data, nil
}

// cpuTime returns the processor time a process has used (Linux), or 0.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// rss returns a process's resident memory in bytes (Linux), or -1.
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb * 1024
		}
	}
	return -1
}

func (o *Options) wants(name string) bool {
	if len(o.Only) == 0 || strings.HasPrefix(name, "ceiling") {
		return true
	}
	for _, s := range o.Only {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
