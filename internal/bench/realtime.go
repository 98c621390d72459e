package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RealtimeOptions configure "basalt bench realtime": the server's memory
// with many streams open, and the delay from a write to its event at
// every subscriber of the collection, with one subscriber (the baseline)
// and with many.
type RealtimeOptions struct {
	Options
	Connections int // streams held open at once in the memory scenario
	// Traffic is the writes made with the Connections streams open, each
	// delivered to every stream, before the memory is read again: enough
	// to cycle each subscriber's buffer, as a server that has run a while
	// has.
	Traffic     int
	Subscribers int // subscribers of one collection in the latency and throughput scenarios
	Rate        int // writes per second in the latency scenarios
	Writers     int // writers back to back in the throughput scenario
}

// RealtimeReport is the outcome of "basalt bench realtime".
type RealtimeReport struct {
	Options RealtimeOptions
	IdleRSS int64        // the server's, started, one collection, no stream
	Idle    runtimeStats // the server's Go runtime at the same moment
	Memory  *MemoryResult
	Results []RealtimeResult
}

// MemoryResult is the memory scenario: many streams held at once.
type MemoryResult struct {
	Name     string
	Streams  int
	OpenTime time.Duration // to open them all, 64 at a time
	// The server's memory just after the streams opened, and again after
	// the traffic.
	OpenRSS, WarmRSS int64
	Open, Warm       runtimeStats
	Traffic          Delivery // the writes in between, each to every stream
}

// RealtimeResult is one latency or throughput scenario.
type RealtimeResult struct {
	Name        string
	Subscribers int
	Delivery
}

// Delivery measures writes and their events at the subscribers.
type Delivery struct {
	Writes    int64 // measured writes (after the warm-up)
	Failed    int64 // writes not answered 2xx
	WriteRate float64
	// Delivered counts the measured writes' events received, of Expected
	// (every subscriber should get every one); DeliveredRate is per second.
	Delivered, Expected int64
	DeliveredRate       float64
	// From the write's request until its event reached a subscriber: an
	// upper bound on commit-to-delivery, which happens in between.
	P50, P99, Max time.Duration
	// From the write's response: a lower bound (an event that came before
	// the response counts 0).
	RespP50, RespP99   time.Duration
	WriteP50, WriteP99 time.Duration // the writes' own latency
	CutOff             int           // streams the server ended
	CPU                time.Duration // server processor time per delivered event
	// Processor time per second of the server, of the load tool, which
	// shares the machine, and of everything else on it (other programs,
	// and kernel work no process is charged for).
	Cores, ToolCores, OtherCores float64
}

// RunRealtime performs the realtime benchmark.
func RunRealtime(ctx context.Context, o RealtimeOptions) (*RealtimeReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	// One API key opens every stream: lift the per-caller and per-tenant
	// limits, which would otherwise refuse most of them.
	o.Env = append(o.Env, "BASALT_REALTIME_MAX_PER_USER=0", "BASALT_REALTIME_MAX_PER_TENANT=0")
	rep := &RealtimeReport{Options: o} // returned with any error, to remove the data directory
	if err := raiseOpenFiles(uint64(max(o.Connections, o.Subscribers) + 1000)); err != nil {
		return rep, err
	}
	key, err := o.command(ctx, "keys", "create", "--name", "bench", "--role", "admin")
	if err != nil {
		return rep, err
	}
	srv, err := o.start(ctx, "serve")
	if err != nil {
		return rep, err
	}
	defer srv.stop()
	r := &rtRun{o: o, srv: srv, key: strings.TrimSpace(key), addr: strings.TrimPrefix(srv.url, "http://"), t0: time.Now(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}}
	coll := `{"name":"feed","fields":[{"name":"title","type":"text","required":true},{"name":"n","type":"number"}]}`
	if _, err := post(ctx, r.client, srv.url+"/api/collections", r.key, coll); err != nil {
		return rep, err
	}
	time.Sleep(2 * time.Second)
	rep.IdleRSS, rep.Idle = rss(srv.cmd.Process.Pid), r.runtimeStats(ctx)

	if name := fmt.Sprintf("memory: %d streams", o.Connections); o.wants(name) {
		fmt.Fprintf(o.Log, "bench: %s, then %d writes to each\n", name, o.Traffic)
		if rep.Memory, err = r.memory(ctx, name); err != nil {
			return rep, err
		}
	}
	for _, sc := range []struct {
		name                string
		subs, rate, writers int
	}{
		{fmt.Sprintf("latency baseline: 1 subscriber, %d writes/s", o.Rate), 1, o.Rate, 0},
		{fmt.Sprintf("latency: %d subscribers, %d writes/s", o.Subscribers, o.Rate), o.Subscribers, o.Rate, 0},
		{fmt.Sprintf("throughput: %d subscribers, %d writers back to back", o.Subscribers, o.Writers), o.Subscribers, 0, o.Writers},
	} {
		if !o.wants(sc.name) {
			continue
		}
		fmt.Fprintf(o.Log, "bench: %s for %s\n", sc.name, o.Duration)
		res, err := r.fanOut(ctx, sc.name, sc.subs, sc.rate, sc.writers)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// rtRun is one realtime benchmark in progress.
type rtRun struct {
	o      RealtimeOptions
	srv    *process
	key    string
	addr   string
	t0     time.Time // the run's clock, monotonic
	seq    atomic.Int64
	client *http.Client
}

func (r *rtRun) now() int64 { return int64(time.Since(r.t0)) }

// meter reads the processor time of the server, of the load tool and of
// the whole machine.
type meter struct {
	at                   int64
	server, own, machine time.Duration
}

func (r *rtRun) meter() meter {
	return meter{at: r.now(), server: cpuTime(r.srv.cmd.Process.Pid), own: cpuTime(os.Getpid()), machine: busyTime()}
}

// busyTime returns the processor time the whole machine has spent on
// anything but idling (Linux), or 0: on a shared machine, what else ran
// beside the server and the tool.
func busyTime() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, f := range fields[1:min(len(fields), 9)] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(busy) * time.Second / ticks
}

// memory opens Connections streams and reads the server's memory, then
// makes Traffic writes, each once every stream has nearly caught up with
// the last ones (so none falls behind far enough to be cut off), and
// reads it again.
func (r *rtRun) memory(ctx context.Context, name string) (*MemoryResult, error) {
	t := time.Now()
	streams, err := r.open(ctx, r.o.Connections)
	if err != nil {
		return nil, err
	}
	defer closeStreams(streams)
	res := &MemoryResult{Name: name, Streams: len(streams), OpenTime: time.Since(t)}
	time.Sleep(2 * time.Second) // let the server's allocations settle
	res.OpenRSS, res.Open = rss(r.srv.cmd.Process.Pid), r.runtimeStats(ctx)
	r.saveProfiles("memory-open")

	const ahead = 64 // writes in flight beyond the slowest stream
	wl := r.newWriteLog(r.o.Traffic)
	m0 := r.meter()
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if r.srv.pprof != "" {
			profile(r.srv.pprof, 20*time.Second, filepath.Join(r.o.ProfileDir, "memory-writes.pprof"), r.o.Log)
		}
	}()
	defer func() { <-profiled }()
	for i := range int64(r.o.Traffic) {
		deadline := time.Now().Add(30 * time.Second)
		for slowest(streams) < i-ahead && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		wl.take()
		r.write(ctx, wl, i)
	}
	end := r.now()
	waitDelivered(streams, int64(r.o.Traffic), 30*time.Second)
	m1 := r.meter()
	time.Sleep(2 * time.Second)
	res.WarmRSS, res.Warm = rss(r.srv.cmd.Process.Pid), r.runtimeStats(ctx)
	r.saveProfiles("memory-warm")
	closeStreams(streams)
	res.Traffic = summarize(streams, wl, 0, wl.taken(), m0, m1, end)
	return res, nil
}

// slowest returns the fewest events a stream still open has received.
func slowest(streams []*stream) int64 {
	n := int64(-1)
	for _, s := range streams {
		select {
		case <-s.done:
			continue
		default:
		}
		if got := s.got.Load(); n < 0 || got < n {
			n = got
		}
	}
	return n
}

// saveProfiles saves the server's heap and goroutines, when profiling.
func (r *rtRun) saveProfiles(prefix string) {
	if r.srv.pprof == "" {
		return
	}
	for _, p := range []string{"heap", "goroutine"} {
		saveProfile(fmt.Sprintf("http://%s/debug/pprof/%s", r.srv.pprof, p), filepath.Join(r.o.ProfileDir, prefix+"-"+p+".pprof"), r.o.Log)
	}
}

// fanOut opens subs streams on the collection and writes to it, at rate
// a second or (rate 0) from writers back to back: a warm-up, then the
// measured part.
func (r *rtRun) fanOut(ctx context.Context, name string, subs, rate, writers int) (RealtimeResult, error) {
	res := RealtimeResult{Name: name, Subscribers: subs}
	streams, err := r.open(ctx, subs)
	if err != nil {
		return res, err
	}
	defer closeStreams(streams)
	capacity := 20_000 * int(r.o.Warmup.Seconds()+r.o.Duration.Seconds()+1)
	if rate > 0 {
		capacity = rate * int(r.o.Warmup.Seconds()+r.o.Duration.Seconds()+2)
	}
	wl := r.newWriteLog(capacity)
	r.writeFor(ctx, wl, rate, writers, r.o.Warmup)
	first := wl.taken()
	m0 := r.meter()
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if r.srv.pprof != "" {
			profile(r.srv.pprof, r.o.Duration-time.Second, filepath.Join(r.o.ProfileDir, slug(name)+".pprof"), r.o.Log)
		}
	}()
	if r.srv.pprof != "" {
		// An execution trace shows where events wait: run queues, locks,
		// the network (go tool trace).
		go saveProfile(fmt.Sprintf("http://%s/debug/pprof/trace?seconds=2", r.srv.pprof), filepath.Join(r.o.ProfileDir, slug(name)+".trace"), r.o.Log)
	}
	r.writeFor(ctx, wl, rate, writers, r.o.Duration)
	end := r.now()
	last := wl.taken()
	waitDelivered(streams, last, 10*time.Second)
	m1 := r.meter()
	<-profiled
	closeStreams(streams)
	res.Delivery = summarize(streams, wl, first, last, m0, m1, end)
	return res, nil
}

// summarize measures writes first to last of wl, made from m0 until end,
// and their events at the streams, delivered by m1; the streams are
// closed.
func summarize(streams []*stream, wl *writeLog, first, last int64, m0, m1 meter, end int64) Delivery {
	d := Delivery{Writes: last - first, Failed: wl.failed.Load(), Expected: (last - first) * int64(len(streams))}
	d.WriteRate = float64(d.Writes) / time.Duration(end-m0.at).Seconds()
	var lat, fromResp []int64
	lastAt := end
	for _, s := range streams {
		if s.ended {
			d.CutOff++
		}
		for _, a := range s.arrivals {
			i := a.seq - wl.base
			if i < first || i >= last || wl.resp[i] == 0 {
				continue
			}
			lat = append(lat, a.at-wl.sent[i])
			fromResp = append(fromResp, max(0, a.at-wl.resp[i]))
			lastAt = max(lastAt, a.at)
		}
	}
	d.Delivered = int64(len(lat))
	d.DeliveredRate = float64(d.Delivered) / time.Duration(lastAt-m0.at).Seconds()
	var writes []int64
	for i := first; i < last; i++ {
		if wl.resp[i] != 0 {
			writes = append(writes, wl.resp[i]-wl.sent[i])
		}
	}
	for _, l := range [][]int64{lat, fromResp, writes} {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	d.P50, d.P99, d.Max = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
	d.RespP50, d.RespP99 = quantile(fromResp, 0.5), quantile(fromResp, 0.99)
	d.WriteP50, d.WriteP99 = quantile(writes, 0.5), quantile(writes, 0.99)
	if d.Delivered > 0 {
		d.CPU = (m1.server - m0.server) / time.Duration(d.Delivered)
	}
	span := time.Duration(m1.at - m0.at).Seconds()
	d.Cores, d.ToolCores = (m1.server-m0.server).Seconds()/span, (m1.own-m0.own).Seconds()/span
	if m1.machine > 0 {
		d.OtherCores = max(0, (m1.machine-m0.machine).Seconds()/span-d.Cores-d.ToolCores)
	}
	return d
}

// open opens n streams on the collection, 64 at a time. Loopback has
// about 28,000 ephemeral ports a source address, so every 16,000 streams
// come from the next 127.0.0.x.
func (r *rtRun) open(ctx context.Context, n int) ([]*stream, error) {
	streams := make([]*stream, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(n, 64) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				s, err := dialStream(ctx, r.addr, net.IPv4(127, 0, 0, byte(1+i/16000)), "/api/realtime?subscribe=feed", r.key)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("bench: open stream %d of %d: %w", i+1, n, err) })
					next.Store(int64(n))
					return
				}
				go s.read(r.now)
				streams[i] = s
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		closeStreams(streams)
		return nil, firstErr
	}
	return streams, nil
}

func closeStreams(streams []*stream) {
	for _, s := range streams {
		if s != nil {
			s.close()
		}
	}
	for _, s := range streams {
		if s != nil {
			<-s.done
		}
	}
}

// waitDelivered waits until every stream has received n events or has
// ended, or for at most d.
func waitDelivered(streams []*stream, n int64, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, s := range streams {
		for s.got.Load() < n && time.Now().Before(deadline) {
			select {
			case <-s.done:
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
	}
}

// quantile returns the q-quantile of sorted nanoseconds.
func quantile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return time.Duration(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))])
}

// runtimeStats are the server's Go runtime figures from its /metrics.
type runtimeStats struct {
	Goroutines, HeapInuse, StackInuse float64
}

func (r *rtRun) runtimeStats(ctx context.Context) runtimeStats {
	var st runtimeStats
	req, err := http.NewRequestWithContext(ctx, "GET", r.srv.url+"/metrics", nil)
	if err != nil {
		return st
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return st
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "go_goroutines":
			st.Goroutines = f
		case "go_memstats_heap_inuse_bytes":
			st.HeapInuse = f
		case "go_memstats_stack_inuse_bytes":
			st.StackInuse = f
		}
	}
	return st
}
