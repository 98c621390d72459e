package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestStampedConnWait: the stamp is when the data reached the socket,
// not when it was read: a request sent and left unread for 50 ms has
// waited 50 ms when it is read. Reads keep a connection's behaviour:
// deadlines time out as net.Errors, the peer's close is io.EOF, and
// ReadFrom and CloseWrite, which net/http looks for, are kept.
func TestStampedConnWait(t *testing.T) {
	if !stampsSupported {
		t.Skip("no receive timestamps on this system")
	}
	client, c := loopbackPair(t, true)
	sc, ok := c.(stamper)
	if !ok {
		t.Fatalf("accepted %T, want a stamped connection", c)
	}
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Error("the stamped connection lost ReadFrom")
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Error("the stamped connection lost CloseWrite")
	}

	// The system turns stamping on a moment after the first socket asks
	// for it; until then data comes without a stamp, and the wait is
	// unknown.
	buf := make([]byte, 64)
	for i := 0; sc.stamped().at.Load() == 0; i++ {
		if i == 100 {
			t.Fatal("no data stamped in 100 tries")
		}
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Loopback stamps the data inside the write, so the stamp falls
	// between the two clock readings around it, and at least the sleep
	// before the read.
	sent := time.Now()
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	time.Sleep(50 * time.Millisecond)
	readStart := time.Now()
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	stamp := time.Unix(0, sc.stamped().at.Load())
	if stamp.Before(sent.Add(-time.Millisecond)) || stamp.After(written.Add(time.Millisecond)) || stamp.After(readStart.Add(-45*time.Millisecond)) {
		t.Errorf("stamp %v after the write began, want within the write (%v) and 50 ms before the read (%v)", stamp.Sub(sent), written.Sub(sent), readStart.Sub(sent))
	}

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	client.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("read after the peer closed: %v, want io.EOF", err)
	}
}

// TestStampedConnClose: closing a stamped connection ends a read blocked
// on it with net.ErrClosed, as a plain connection's.
func TestStampedConnClose(t *testing.T) {
	if !stampsSupported {
		t.Skip("no receive timestamps on this system")
	}
	_, c := loopbackPair(t, true)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read ended by Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read blocked on the connection did not end when it closed")
	}
}

// TestRequestWait: served with ConnContext, a handler knows how long its
// request waited; without it, or on a connection without stamps, the
// wait is unknown.
func TestRequestWait(t *testing.T) {
	if !stampsSupported {
		t.Skip("no receive timestamps on this system")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		wait  time.Duration
		known bool
	}
	got := make(chan result, 1)
	srv := &http.Server{ConnContext: stampContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait, known := requestWait(r, time.Now())
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		got <- result{wait, known}
	})}
	go srv.Serve(stampListener(ln))
	defer srv.Close()
	// The first requests may come before the system stamps packets (see
	// record): their wait is unknown, not wrong.
	var r result
	for i := 0; !r.known && i < 100; i++ {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r = <-got; !r.known && r.wait != 0 {
			t.Fatalf("unknown wait %v, want 0", r.wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !r.known || r.wait < 0 || r.wait > time.Second {
		t.Errorf("wait %v known %v, want a known wait under a second", r.wait, r.known)
	}

	req, _ := http.NewRequest("GET", "/", nil)
	if _, known := requestWait(req, time.Now()); known {
		t.Error("a request without a stamped connection has a known wait")
	}

	// Two requests sent together, the first served in 50 ms: the second
	// has waited from its arrival, not from when it was read.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	<-got
	if r := <-got; !r.known || r.wait < 45*time.Millisecond {
		t.Errorf("second request's wait %v (known %v), want at least the first's 50 ms", r.wait, r.known)
	}
}

// TestWaitCounts: the quantile of the waits counted, interpolated
// within its bucket, and how many; taking starts the count anew.
func TestWaitCounts(t *testing.T) {
	var c waitCounts
	for range 90 {
		c.add(100 * time.Microsecond) // bucket [64 µs, 128 µs)
	}
	for range 10 {
		c.add(10 * time.Millisecond) // bucket [8.192 ms, 16.384 ms)
	}
	if q, n := c.take(0.9); n != 100 || q < 64*time.Microsecond || q > 128*time.Microsecond {
		t.Errorf("0.9-quantile %v of %d, want within (64µs, 128µs] of 100", q, n)
	}
	if q, n := c.take(0.9); q != 0 || n != 0 {
		t.Errorf("after a take: %v of %d, want none", q, n)
	}
	for range 50 {
		c.add(3 * time.Millisecond) // bucket [2.048 ms, 4.096 ms)
	}
	q, _ := c.take(0.5)
	if want := 2048*time.Microsecond + (4096-2048)*time.Microsecond/2; q != want {
		t.Errorf("median of one bucket = %v, want its middle %v", q, want)
	}
	c.add(time.Hour)
	if q, n := c.take(0.9); n != 1 || q < time.Second {
		t.Errorf("an hour's wait reads %v of %d, want the last bucket's bound", q, n)
	}
}

// BenchmarkStampedRead: a read of a stamped connection against a plain
// one, each of a small message over loopback.
func BenchmarkStampedRead(b *testing.B) {
	for _, stamped := range []bool{false, true} {
		name := "plain"
		if stamped {
			name = "stamped"
		}
		b.Run(name, func(b *testing.B) {
			client, c := loopbackPair(b, stamped)
			msg, buf := make([]byte, 300), make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				client.Write(msg)
				for got := 0; got < len(msg); {
					n, err := c.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}

// loopbackPair returns both ends of a TCP connection over loopback, the
// accepting end stamped if stamped; they close as tb ends.
func loopbackPair(tb testing.TB, stamped bool) (client, accepted net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if stamped {
		ln = stampListener(ln)
	}
	defer ln.Close()
	if client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	if accepted, err = ln.Accept(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { accepted.Close() })
	return client, accepted
}
