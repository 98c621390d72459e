package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// stream is one Server-Sent Events connection of the load tool. It speaks
// HTTP/1.1 on a bare socket and keeps only what the measurement needs (the
// arrival time of each write it sees), so that ten thousand of them cost
// the machine little beside the server they measure.
type stream struct {
	conn     net.Conn
	body     *bufio.Reader
	arrivals []arrival // written by the reader goroutine only; read after done
	got      atomic.Int64
	closing  atomic.Bool
	ended    bool // the server ended the stream (cut off, or shutting down)
	done     chan struct{}
}

// arrival is a write's event reaching a stream: seq is the write's number
// (in the record's title), at the time on the run's clock.
type arrival struct {
	seq int64
	at  int64
}

// dialStream opens GET path as an event stream from the local address src
// and reads up to the end of the first frame (the retry hint the server
// sends first), so the subscription is live when it returns.
func dialStream(ctx context.Context, addr string, src net.IP, path, key string) (*stream, error) {
	d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", path, addr, key); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		return nil, fmt.Errorf("GET %s: %s %s", path, resp.Status, data)
	}
	s := &stream{conn: conn, body: bufio.NewReaderSize(resp.Body, 4096), done: make(chan struct{})}
	for {
		line, err := s.body.ReadSlice('\n')
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("GET %s: first frame: %w", path, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	conn.SetDeadline(time.Time{})
	return s, nil
}

// read records the arrival of each write's event until the stream ends.
func (s *stream) read(now func() int64) {
	defer close(s.done)
	for {
		line, err := s.body.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			s.ended = !s.closing.Load()
			return
		}
		if seq, ok := seqOf(line); ok {
			s.arrivals = append(s.arrivals, arrival{seq: seq, at: now()})
			s.got.Add(1)
		}
	}
}

func (s *stream) close() {
	s.closing.Store(true)
	s.conn.Close()
}

var seqMarker = []byte(`"title":"w`)

// seqOf finds the write number in an event's data line.
func seqOf(line []byte) (int64, bool) {
	if !bytes.HasPrefix(line, []byte("data: ")) {
		return 0, false
	}
	i := bytes.Index(line, seqMarker)
	if i < 0 {
		return 0, false
	}
	var n int64
	digits := 0
	for _, c := range line[i+len(seqMarker):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	return n, digits > 0
}
